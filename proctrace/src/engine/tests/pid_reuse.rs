//! Process identity: pid reuse, stale entries, approximate start times.

use super::*;

#[test]
fn pid_reuse_gives_distinct_proc_ids_and_no_mixing() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 400, 1, S),
            exec(S + 1, 400, 1, S, "first"),
            exit(2 * S, 400, 1, S, "first", exited(3)),
            wait(2 * S + 10, 1, 400, Some(exited(3))),
            free(2 * S + 10 + GP, 400, S),
            fork(5 * S, 400, 7, 5 * S),
            exec(5 * S + 1, 400, 7, 5 * S, "second"),
            exit(6 * S, 400, 7, 5 * S, "second", SIGKILL),
            wait(6 * S + 10, 7, 400, Some(SIGKILL)),
            free(6 * S + 10 + GP, 400, 5 * S),
        ],
    );
    let x = exits(&out);
    assert_eq!(x[0].proc_id, "400-1000000000");
    assert_eq!(x[1].proc_id, "400-5000000000");
    assert_eq!(
        (x[1].comm.as_str(), x[1].ppid, x[1].lifetime_ns),
        ("second", 7, S)
    );
    assert_eq!((x[1].exit_code, x[1].signal), (None, Some(9)));
    let r = reaps(&out);
    assert_eq!(
        r[0].proc_id.map(|id| id.to_string()).as_deref(),
        Some("400-1000000000")
    );
    assert_eq!(
        r[1].proc_id.map(|id| id.to_string()).as_deref(),
        Some("400-5000000000")
    );
    assert!(!r[1].reparented);
    assert_eq!(r[1].comm, "second");
    assert_empty(&e);
}

#[test]
fn a_fork_replaces_a_stale_zombie_whose_reap_was_missed() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [fork(S, 500, 1, S), exit(2 * S, 500, 1, S, "old", EXITED_0)],
    );
    assert_eq!(e.pending_alerts(), 1);
    // The reap was lost; the pid is reused.
    e.handle(fork(2 * S + 100 * MS, 500, 8, 2 * S + 100 * MS), &mut out);
    assert_eq!(e.pending_alerts(), 0, "the stale zombie's alert is gone");
    assert_eq!(e.zombie_count(), 0);
    assert_eq!(e.live_count(), 1);
    e.tick(10 * S, &mut out);
    assert!(zombies(&out).is_empty(), "no alert for the stale zombie");
    e.handle(
        exit(11 * S, 500, 8, 2 * S + 100 * MS, "new", EXITED_0),
        &mut out,
    );
    let x = exits(&out);
    assert_eq!(x[1].proc_id, "500-2100000000");
    assert_eq!(x[1].lifetime_ns, 11 * S - (2 * S + 100 * MS));
    e.handle(wait(11 * S + 1, 8, 500, Some(EXITED_0)), &mut out);
    e.handle(free(11 * S + 1 + GP, 500, 2 * S + 100 * MS), &mut out);
    assert_eq!(
        only_reap(&out).proc_id.map(|id| id.to_string()).as_deref(),
        Some("500-2100000000")
    );
    assert_empty(&e);
}

#[test]
fn an_exec_with_another_start_time_is_another_process() {
    // The fork of the new process and the reap of the old one were both lost.
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 600, 1, S), exec(S + 1, 600, 1, S, "old")]);
    e.handle(exec(9 * S, 600, 3, 8 * S, "new"), &mut out);
    match &out[2] {
        Record::Exec(x) => assert_eq!(x.proc_id, "600-8000000000"),
        other => panic!("{other:?}"),
    }
    e.handle(exit(10 * S, 600, 3, 8 * S, "new", EXITED_0), &mut out);
    assert_eq!(exits(&out)[0].proc_id, "600-8000000000");
    assert_eq!(exits(&out)[0].lifetime_ns, 2 * S);
    e.handle(wait(10 * S + 1, 3, 600, Some(EXITED_0)), &mut out);
    e.handle(free(10 * S + 1 + GP, 600, 8 * S), &mut out);
    assert!(!only_reap(&out).reparented, "first seen with parent 3");
    assert_empty(&e);
}

#[test]
fn approximate_start_time_is_refined_and_keeps_the_proc_id() {
    let mut e = engine();
    let KernelEvent::Fork(mut f) = fork(S + 20_000, 980, 1, S + 20_000) else {
        unreachable!()
    };
    f.start_approx = true;
    let mut out = run(&mut e, [KernelEvent::Fork(f)]);
    // Exact start_boottime from the exit event, slightly before the fork tracepoint.
    e.handle(exit(3 * S, 980, 1, S, "approx", EXITED_0), &mut out);
    let x = exits(&out)[0];
    assert_eq!(x.proc_id, "980-1000020000", "proc_id is stable");
    assert_eq!(x.lifetime_ns, 2 * S, "lifetime from the exact start");
    e.handle(free(3 * S + MS, 980, S), &mut out);
    assert_eq!(only_reap(&out).how, ReapHow::Release);
}

#[test]
fn free_of_a_zombie_with_another_start_time_is_ignored() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 950, 1, S),
            exit(2 * S, 950, 1, S, "z", EXITED_0),
            free(2 * S + MS, 950, S / 2),
        ],
    );
    assert!(reaps(&out).is_empty());
    assert_eq!(e.zombie_count(), 1);
}
