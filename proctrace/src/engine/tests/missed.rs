//! Processes and events the trace missed: started before it, lost exits, unknown reaps.

use super::*;

#[test]
fn events_for_processes_started_before_the_trace() {
    let mut e = engine();
    // exec without a fork: entry from the event's start_ns.
    let mut out = run(&mut e, [exec(100 * S, 700, 1, 3 * S, "cron")]);
    match &out[0] {
        Record::Exec(x) => assert_eq!(x.proc_id, "700-3000000000"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.live_count(), 1);
    // exit without a fork or exec: lifetime from start_ns.
    e.handle(exit(200 * S, 701, 1, 50 * S, "sshd", exited(255)), &mut out);
    let x = exits(&out)[0];
    assert_eq!(x.proc_id, "701-50000000000");
    assert_eq!(x.lifetime_ns, 150 * S);
    assert_eq!(x.exit_code, Some(255));
    e.handle(wait(200 * S + 7, 1, 701, Some(exited(255))), &mut out);
    e.handle(free(200 * S + 7 + GP, 701, 50 * S), &mut out);
    let r = only_reap(&out);
    assert_eq!(r.zombie_ns, Some(7));
    assert_eq!(r.comm, "sshd");
    assert!(!r.reparented);
    // free / stopped-wait for unknown pids: nothing.
    let n = out.len();
    e.handle(free(201 * S, 702, 9 * S), &mut out);
    e.handle(wait(201 * S, 1, 703, Some(STOPPED_SIGSTOP)), &mut out);
    e.handle(wait(201 * S, 1, 703, None), &mut out);
    assert_eq!(out.len(), n);
    // fork from an unknown parent with parent_start_ns known: parent_proc_id computed.
    let KernelEvent::Fork(mut f) = fork(202 * S, 704, 699, 202 * S) else {
        unreachable!()
    };
    f.parent_start_ns = 2 * S;
    e.handle(KernelEvent::Fork(f), &mut out);
    match out.last() {
        Some(Record::Fork(f)) => assert_eq!(
            f.parent_proc_id.map(|id| id.to_string()).as_deref(),
            Some("699-2000000000")
        ),
        other => panic!("{other:?}"),
    }
    // fork from a known parent with parent_start_ns 0: the parent's proc_id.
    e.handle(fork(203 * S, 705, 700, 203 * S), &mut out);
    match out.last() {
        Some(Record::Fork(f)) => assert_eq!(
            f.parent_proc_id.map(|id| id.to_string()).as_deref(),
            Some("700-3000000000")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reap_of_a_never_seen_process_has_null_proc_id() {
    let mut e = engine();
    let out = run(&mut e, [wait(5 * S, 1, 800, Some(SIGKILL | 0x80))]);
    let r = only_reap(&out);
    assert_eq!((r.pid, r.ppid, r.reaper), (800, 1, Some(1)));
    assert_eq!(r.comm, "");
    assert_eq!(r.proc_id, None);
    assert_eq!(r.how, ReapHow::Wait);
    assert_eq!((r.zombie_ns, r.zombie_class), (None, None));
    assert!(!r.reparented);
    assert_empty(&e);
    // Not counted in the zombie-time percentiles.
    let mut out = Vec::new();
    e.summary(6 * S, &mut out);
    match &out[0] {
        Record::Summary(s) => {
            assert_eq!(s.zombie_ns.count, 0);
            assert_eq!(s.counts.reap, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reap_without_a_seen_exit() {
    // Known and alive for us, the exit event was lost: the wait status says it terminated.
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 900, 1, S), exec(S + 1, 900, 1, S, "job")]);
    e.lost(rb(1), 2 * S, &mut out);
    e.handle(wait(3 * S, 1, 900, Some(exited(1))), &mut out);
    e.handle(free(3 * S + GP, 900, S), &mut out);
    assert_eq!(types(&out), ["fork", "exec", "lost", "reap"]);
    let r = only_reap(&out);
    assert_eq!(
        r.proc_id.map(|id| id.to_string()).as_deref(),
        Some("900-1000000000")
    );
    assert_eq!(r.comm, "job");
    assert_eq!((r.zombie_ns, r.zombie_class), (None, None));
    assert_empty(&e);
}
