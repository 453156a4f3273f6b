//! Ordinary lifecycles: fork, exec, exit and one reap (wait or autoreap).

use super::*;

#[test]
fn fork_exec_exit_wait_is_a_transient_reap() {
    let mut e = engine();
    let start = 10 * S;
    let out = run(
        &mut e,
        [
            fork(start + 5_000, 200, 100, start),
            exec(start + MS, 200, 100, start, "ls"),
            exit(start + 3 * MS, 200, 100, start, "ls", exited(2)),
            wait(start + 3 * MS + 40_000, 100, 200, Some(exited(2))),
            free(start + 3 * MS + 40_000 + GP, 200, start),
        ],
    );
    assert_eq!(types(&out), ["fork", "exec", "exit", "reap"]);
    let pid_id = "200-10000000000";
    match &out[0] {
        Record::Fork(f) => {
            assert_eq!((f.pid, f.ppid, f.uid), (200, 100, 1000));
            assert_eq!(f.comm, "bash");
            assert_eq!(f.proc_id, pid_id);
            assert_eq!(f.parent_proc_id, None); // parent unknown, parent_start_ns 0
            assert_eq!(f.time.to_string(), "2026-11-26T14:16:00.000005000Z");
        }
        other => panic!("{other:?}"),
    }
    match &out[1] {
        Record::Exec(x) => {
            assert_eq!((x.pid, x.ppid, x.old_pid), (200, 100, 200));
            assert_eq!(x.comm, "ls");
            assert_eq!(x.proc_id, pid_id);
            assert_eq!(x.filename, "/usr/bin/ls");
            assert_eq!(x.argv, ["ls", "--flag"]);
        }
        other => panic!("{other:?}"),
    }
    let x = exits(&out)[0];
    assert_eq!(
        (x.exit_code, x.signal, x.core_dumped),
        (Some(2), None, false)
    );
    assert_eq!(x.lifetime_ns, 3 * MS);
    assert_eq!(x.comm, "ls");
    assert_eq!(x.proc_id, pid_id);
    let r = only_reap(&out);
    assert_eq!(r.proc_id.map(|id| id.to_string()).as_deref(), Some(pid_id));
    assert_eq!((r.pid, r.ppid, r.reaper), (200, 100, Some(100)));
    assert_eq!(r.comm, "ls");
    assert_eq!(r.how, ReapHow::Wait);
    assert_eq!(r.zombie_ns, Some(40_000));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert!(!r.reparented);
    assert_empty(&e);
    // Nothing more at any later time.
    let mut later = Vec::new();
    e.tick(start + 100 * S, &mut later);
    assert!(later.is_empty());
}

#[test]
fn autoreap_has_no_zombie_period() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 20, 2, S),
            exit_autoreap(3 * S, 20, 2, S, "kworker-ish"),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    let r = only_reap(&out);
    assert_eq!(r.how, ReapHow::Autoreap);
    assert_eq!(r.reaper, None);
    assert_eq!(r.ppid, 2);
    assert_eq!(r.zombie_ns, Some(0));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert!(!r.reparented);
    assert_empty(&e);
    e.tick(100 * S, &mut out);
    assert!(zombies(&out).is_empty());
    // A late Free of it is not another reap.
    e.handle(free(3 * S + 10 * MS, 20, S), &mut out);
    assert_eq!(reaps(&out).len(), 1);
}

#[test]
fn duplicate_exit_is_ignored() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 920, 1, S),
            exit(2 * S, 920, 1, S, "dup", exited(4)),
            exit(2 * S + 5, 920, 1, S, "dup", exited(4)),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit"]);
    assert_eq!(e.pending_alerts(), 1);
    e.handle(wait(2 * S + 100, 1, 920, Some(exited(4))), &mut out);
    e.handle(free(2 * S + 100 + GP, 920, S), &mut out);
    assert_eq!(
        only_reap(&out).zombie_ns,
        Some(100),
        "the clock started at the first exit"
    );
}

#[test]
fn zombie_clock_starts_when_the_last_thread_exits() {
    // The leader thread of 970 exits at 2 s while thread 972 runs on until 5 s. The kernel
    // emits no Exit for the leader thread (not group_dead): the only Exit is the group's, from
    // tid 972 at 5 s. Until then the process is alive, and the zombie time starts at 5 s.
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 970, 1, S)]);
    e.tick(4 * S, &mut out); // long after the leader thread's exit: no zombie alert
    assert!(zombies(&out).is_empty());
    assert_eq!(e.live_count(), 1);
    let mut x = exit_ev(5 * S, 970, 1, S, "threaded", exited(0), false);
    x.tid = 972;
    e.handle(KernelEvent::Exit(x), &mut out);
    e.handle(wait(5 * S + 200 * MS, 1, 970, Some(EXITED_0)), &mut out);
    e.handle(free(5 * S + 200 * MS + GP, 970, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(r.zombie_ns, Some(200 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert_eq!(exits(&out)[0].lifetime_ns, 4 * S);
}
