//! Bounded memory: entries go at the reap, recent reaps expire.

use super::*;
use crate::engine::candidates::CONFIRM_TIMEOUT_NS;
use crate::engine::recent_reaps::{RECENT_REAPS_MAX, RECENT_REAP_TTL_NS};

#[test]
fn memory_is_bounded_by_live_and_zombie_processes() {
    let mut e = engine();
    let mut out = Vec::new();
    let mut t = S;
    for i in 0..10_000u32 {
        let pid = 1000 + (i % 300); // pids get reused
        let start = t;
        e.handle(fork(t, pid, 1, start), &mut out);
        e.handle(exec(t + 1, pid, 1, start, "loop"), &mut out);
        e.handle(exit(t + 2, pid, 1, start, "loop", EXITED_0), &mut out);
        match i % 4 {
            0 => {
                e.handle(wait(t + 3, 1, pid, Some(EXITED_0)), &mut out);
                e.handle(free(t + 4, pid, start), &mut out);
            }
            1 => e.handle(free(t + 3, pid, start), &mut out),
            2 => {
                // A tracer's wait, then the parent's, then the release.
                e.handle(wait(t + 3, 77, pid, Some(EXITED_0)), &mut out);
                e.handle(wait(t + 4, 1, pid, Some(EXITED_0)), &mut out);
                e.handle(free(t + 5, pid, start), &mut out);
            }
            // Waited for, and the release lost: the pid's reuse drops the candidate.
            _ => e.handle(wait(t + 3, 1, pid, Some(EXITED_0)), &mut out),
        }
        t += 10_000;
        if i % 1000 == 0 {
            out.clear();
        }
    }
    // The last uses of each pid whose release was lost are still waiting for it.
    assert_eq!(e.tracked_count(), 75);
    assert_eq!(e.candidate_timers_len(), 75);
    assert_eq!(e.counts().reap, 7_500);
    // Their parents' waits time out into reaps.
    e.tick(t + CONFIRM_TIMEOUT_NS, &mut out);
    assert_empty(&e);
    assert_eq!(e.candidate_timers_len(), 0);
    assert_eq!(e.counts().reap, 7_575);
    let (recent, order) = e.recent_reaps_len();
    assert!(
        recent <= RECENT_REAPS_MAX && order <= RECENT_REAPS_MAX,
        "{recent} {order}"
    );
    e.tick(t + RECENT_REAP_TTL_NS, &mut out);
    assert_eq!(e.recent_reaps_len(), (0, 0));

    // Autoreaped and long-lived ones too.
    for i in 0..10_000u32 {
        let pid = 5000 + i;
        e.handle(fork(t, pid, 1, t), &mut out);
        if i % 2 == 0 {
            e.handle(exit_autoreap(t + 1, pid, 1, t, "auto"), &mut out);
        } else {
            e.handle(exit(t + 1, pid, 1, t, "slow", EXITED_0), &mut out);
            e.tick(t + 1 + THRESHOLD, &mut out);
            e.handle(wait(t + 2 + THRESHOLD, 1, pid, Some(EXITED_0)), &mut out);
            e.handle(free(t + 2 + THRESHOLD + GP, pid, t), &mut out);
        }
        t += 2 * THRESHOLD;
        out.clear();
    }
    assert_empty(&e);
    assert_eq!(e.counts().zombie, 5_000);
}
