//! Processes seeded from /proc.

use super::*;
use crate::engine::SeedProcess;

#[test]
fn seeded_processes_are_adopted_silently() {
    let mut e = engine();
    let seed = SeedProcess {
        pid: 4000,
        ppid: 1,
        comm: "old".into(),
        uid: 0,
        start_ns: 7,
        start_approx: false,
        zombie_since_ns: Some(S),
        exit_status: None,
    };
    assert!(e.seed_process(seed.clone()));
    assert!(!e.seed_process(seed));
    assert_eq!(e.next_deadline(), Some(2 * S));
    let z: Vec<_> = e
        .zombies()
        .map(|p| (p.pid, p.proc_id.to_string()))
        .collect();
    assert_eq!(z, [(4000, "4000-7".to_string())]);
    assert_eq!(e.live().count(), 0);
    assert_eq!(e.process(4000).map(|p| p.zombie_since_ns), Some(Some(S)));
    let mut out = Vec::new();
    e.handle(wait(3 * S, 1, 4000, Some(EXITED_0)), &mut out);
    e.handle(free(3 * S + GP, 4000, 7), &mut out);
    assert_eq!(types(&out), ["zombie", "reap"]);
    assert_empty(&e);
}
