//! Synthetic event sequences for every lifecycle path.

use super::*;
use crate::event::{Exec, Exit, ExitStatus, Fork, Free, KernelEvent, Wait};
use crate::record::{ExitRecord, HookCounts, LostCauses, ReapRecord, RecordType, ZombieRecord};

/// `n` events lost to a full ring buffer.
fn rb(n: u64) -> LostCauses {
    LostCauses {
        ring_buffer_full: n,
        ..LostCauses::default()
    }
}

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const THRESHOLD: u64 = S;
/// Boot at 2026-11-26T14:15:50Z.
const CLOCK: Clock = Clock::from_offset_ns(1_795_702_550 * 1_000_000_000);

// Raw wait statuses (include/uapi/linux/wait.h).
const EXITED_0: u32 = 0;
const fn exited(code: u32) -> u32 {
    code << 8
}
const SIGKILL: u32 = 9;
const STOPPED_SIGSTOP: u32 = (19 << 8) | 0x7f;
const CONTINUED: u32 = 0xffff;

fn engine() -> Engine {
    Engine::new(EngineConfig {
        zombie_threshold_ns: THRESHOLD,
        clock: CLOCK,
    })
}

fn fork(t: u64, pid: u32, ppid: u32, start_ns: u64) -> KernelEvent {
    KernelEvent::Fork(Fork {
        ktime_ns: t,
        pid,
        ppid,
        parent_tid: ppid,
        uid: 1000,
        start_ns,
        start_approx: false,
        parent_start_ns: 0,
        comm: "bash".into(),
    })
}

fn exec(t: u64, pid: u32, ppid: u32, start_ns: u64, comm: &str) -> KernelEvent {
    KernelEvent::Exec(Exec {
        ktime_ns: t,
        pid,
        old_pid: pid,
        ppid,
        uid: 1000,
        start_ns,
        comm: comm.into(),
        filename: format!("/usr/bin/{comm}"),
        argv: vec![comm.into(), "--flag".into()],
        argv_truncated: false,
    })
}

fn exit_ev(
    t: u64,
    pid: u32,
    ppid: u32,
    start_ns: u64,
    comm: &str,
    status: u32,
    autoreap: bool,
) -> Exit {
    Exit {
        ktime_ns: t,
        pid,
        tid: pid,
        ppid,
        uid: 1000,
        start_ns,
        comm: comm.into(),
        status: ExitStatus::from_raw(status),
        autoreap,
        non_sigchld: false,
    }
}

fn exit(t: u64, pid: u32, ppid: u32, start_ns: u64, comm: &str, status: u32) -> KernelEvent {
    KernelEvent::Exit(exit_ev(t, pid, ppid, start_ns, comm, status, false))
}

fn exit_autoreap(t: u64, pid: u32, ppid: u32, start_ns: u64, comm: &str) -> KernelEvent {
    KernelEvent::Exit(exit_ev(t, pid, ppid, start_ns, comm, EXITED_0, true))
}

fn wait(t: u64, reaper: u32, reaped: u32, status: Option<u32>) -> KernelEvent {
    KernelEvent::Wait(Wait {
        ktime_ns: t,
        reaper,
        reaper_tid: reaper,
        reaped,
        status,
        ns_local: false,
    })
}

fn free(t: u64, pid: u32, start_ns: u64) -> KernelEvent {
    KernelEvent::Free(Free {
        ktime_ns: t,
        pid,
        start_ns,
    })
}

fn run(e: &mut Engine, events: impl IntoIterator<Item = KernelEvent>) -> Vec<Record> {
    let mut out = Vec::new();
    for ev in events {
        e.handle(ev, &mut out);
    }
    out
}

fn types(recs: &[Record]) -> Vec<&'static str> {
    recs.iter().map(|r| r.record_type().as_str()).collect()
}

fn reaps(recs: &[Record]) -> Vec<&ReapRecord> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Reap(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn zombies(recs: &[Record]) -> Vec<&ZombieRecord> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Zombie(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn exits(recs: &[Record]) -> Vec<&ExitRecord> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Exit(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn only_reap(recs: &[Record]) -> &ReapRecord {
    let r = reaps(recs);
    assert_eq!(r.len(), 1, "{recs:#?}");
    r[0]
}

fn assert_empty(e: &Engine) {
    assert_eq!(e.tracked_count(), 0);
    assert_eq!(e.pending_alerts(), 0);
    assert_eq!(e.next_deadline(), None);
}

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
    assert_eq!(r.proc_id.as_deref(), Some(pid_id));
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
fn long_lived_zombie_is_alerted_once_by_tick_then_reaped() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 300, 1, S),
            exec(S + MS, 300, 1, S, "daemonchild"),
            exit(2 * S, 300, 1, S, "daemonchild", EXITED_0),
        ],
    );
    assert_eq!(e.next_deadline(), Some(3 * S));
    // Before the deadline: nothing.
    e.tick(3 * S - 1, &mut out);
    assert_eq!(types(&out), ["fork", "exec", "exit"]);
    // 40 ms after the deadline.
    e.tick(3 * S + 40 * MS, &mut out);
    let z = zombies(&out);
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].zombie_ns, S + 40 * MS);
    assert_eq!(z[0].ktime_ns, 3 * S + 40 * MS);
    assert_eq!((z[0].pid, z[0].ppid), (300, 1));
    assert_eq!(z[0].comm, "daemonchild");
    assert_eq!(z[0].proc_id, "300-1000000000");
    assert_eq!(z[0].parent_comm, None); // pid 1 never seen
    assert_eq!(z[0].source, ZombieSource::Trace);
    assert_eq!(e.next_deadline(), None);
    // Only once.
    e.tick(4 * S, &mut out);
    e.tick(60 * S, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    // Reaped 2.5 s + 1 ns after the exit.
    e.handle(wait(4 * S + 500 * MS + 1, 1, 300, Some(EXITED_0)), &mut out);
    assert_eq!(types(&out), ["fork", "exec", "exit", "zombie", "reap"]);
    let r = only_reap(&out);
    assert_eq!(r.zombie_ns, Some(2 * S + 500 * MS + 1));
    assert_eq!(r.zombie_class, Some(ZombieClass::LongLived));
    assert_empty(&e);
}

#[test]
fn zombie_exactly_at_the_threshold_is_long_lived() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [fork(S, 5, 1, S), exit(2 * S, 5, 1, S, "x", EXITED_0)],
    );
    e.tick(3 * S, &mut out); // age == threshold
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(zombies(&out)[0].zombie_ns, THRESHOLD);
    e.handle(wait(3 * S, 1, 5, Some(EXITED_0)), &mut out);
    assert_eq!(only_reap(&out).zombie_class, Some(ZombieClass::LongLived));

    let mut out = run(
        &mut e,
        [
            fork(S, 6, 1, S),
            exit(2 * S, 6, 1, S, "x", EXITED_0),
            wait(3 * S - 1, 1, 6, None),
        ],
    );
    assert!(zombies(&out).is_empty());
    assert_eq!(only_reap(&out).zombie_class, Some(ZombieClass::Transient));
    e.tick(10 * S, &mut out);
    assert!(zombies(&out).is_empty());
}

#[test]
fn an_event_past_the_deadline_fires_the_alert_first() {
    // The daemon did not tick in time: the reap still follows its zombie record, so every
    // long_lived reap of a process whose exit was seen has a zombie record before it.
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 7, 1, S),
            exit(2 * S, 7, 1, S, "slow", EXITED_0),
            wait(5 * S, 1, 7, Some(EXITED_0)),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "zombie", "reap"]);
    assert_eq!(zombies(&out)[0].zombie_ns, 3 * S);
    assert_eq!(zombies(&out)[0].ktime_ns, 5 * S);
    assert_eq!(only_reap(&out).zombie_ns, Some(3 * S));
    assert_empty(&e);
}

#[test]
fn next_deadline_is_the_earliest_pending_alert() {
    let mut e = engine();
    assert_eq!(e.next_deadline(), None);
    let mut out = run(
        &mut e,
        [
            fork(S, 10, 1, S),
            fork(S, 11, 1, S + 1),
            fork(S, 12, 1, S + 2),
            exit(4 * S + 500 * MS, 11, 1, S + 1, "b", EXITED_0),
            exit(4 * S, 10, 1, S, "a", EXITED_0), // slightly out of order: earlier ktime
            exit(4 * S + 800 * MS, 12, 1, S + 2, "c", EXITED_0),
        ],
    );
    assert_eq!(e.next_deadline(), Some(5 * S));
    assert_eq!(e.pending_alerts(), 3);
    // Reaping the earliest removes its alert.
    e.handle(wait(5 * S - 1, 1, 10, Some(EXITED_0)), &mut out);
    assert_eq!(e.next_deadline(), Some(5 * S + 500 * MS));
    // Alerting removes it too.
    e.tick(5 * S + 500 * MS, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(zombies(&out)[0].pid, 11);
    assert_eq!(e.next_deadline(), Some(5 * S + 800 * MS));
    // A Free of the last one (release) removes the last alert.
    e.handle(free(5 * S + 600 * MS, 12, S + 2), &mut out);
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.pending_alerts(), 0);
    assert_eq!(e.zombie_count(), 1); // pid 11, alerted, still unreaped
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
fn reparented_zombie_is_reaped_by_the_new_parent() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 50, 1, S / 2), // the parent, "supervisor"
            exec(S + 1, 50, 1, S / 2, "supervisor"),
            fork(2 * S, 60, 50, 2 * S), // child of 50
            exec(2 * S + 1, 60, 50, 2 * S, "worker"),
            exit(3 * S, 50, 1, S / 2, "supervisor", exited(1)), // parent dies first
            wait(3 * S + 10, 1, 50, Some(exited(1))),
            // The child was reparented to pid 1 (init): exit.ppid says so.
            exit(3 * S + 5 * MS, 60, 1, 2 * S, "worker", EXITED_0),
        ],
    );
    assert_eq!(
        exits(&out)[1].ppid,
        1,
        "records after the reparenting show the new parent"
    );
    e.tick(4 * S + 5 * MS, &mut out);
    let z = zombies(&out);
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].ppid, 1);
    e.handle(wait(5 * S, 1, 60, Some(EXITED_0)), &mut out);
    let r = reaps(&out);
    assert_eq!(r.len(), 2);
    assert!(!r[0].reparented, "50 was reaped by its own parent");
    assert_eq!((r[1].pid, r[1].ppid, r[1].reaper), (60, 1, Some(1)));
    assert!(r[1].reparented, "60 was forked by 50 and reaped by 1");
    assert_eq!(r[1].zombie_ns, Some(2 * S - 5 * MS));
    assert_eq!(r[1].zombie_class, Some(ZombieClass::LongLived));
    assert_empty(&e);
}

#[test]
fn subreaper_reaps_a_reparented_child_via_release_is_reparented_too() {
    // Parent at exit (exit.ppid) differs from the fork parent; the reap is seen only as a Free.
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 70, 50, S),
            exit(2 * S, 70, 42, S, "c", EXITED_0),
            free(2 * S + 3 * MS, 70, S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!(r.how, ReapHow::Release);
    assert_eq!((r.ppid, r.reaper), (42, None));
    assert!(r.reparented);
}

#[test]
fn parent_comm_of_a_zombie_alert_is_the_current_parents() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            exec(S, 90, 1, S / 2, "nginx"), // started before the trace
            fork(2 * S, 91, 90, 2 * S),
            exit(3 * S, 91, 90, 2 * S, "nginx", EXITED_0),
        ],
    );
    e.tick(4 * S, &mut out);
    assert_eq!(zombies(&out)[0].parent_comm.as_deref(), Some("nginx"));
}

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
            fork(5 * S, 400, 7, 5 * S),
            exec(5 * S + 1, 400, 7, 5 * S, "second"),
            exit(6 * S, 400, 7, 5 * S, "second", SIGKILL),
            wait(6 * S + 10, 7, 400, Some(SIGKILL)),
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
    assert_eq!(r[0].proc_id.as_deref(), Some("400-1000000000"));
    assert_eq!(r[1].proc_id.as_deref(), Some("400-5000000000"));
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
    assert_eq!(only_reap(&out).proc_id.as_deref(), Some("500-2100000000"));
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
    assert!(!only_reap(&out).reparented, "first seen with parent 3");
    assert_empty(&e);
}

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
    let mut f = match fork(202 * S, 704, 699, 202 * S) {
        KernelEvent::Fork(f) => f,
        _ => unreachable!(),
    };
    f.parent_start_ns = 2 * S;
    e.handle(KernelEvent::Fork(f), &mut out);
    match out.last() {
        Some(Record::Fork(f)) => assert_eq!(f.parent_proc_id.as_deref(), Some("699-2000000000")),
        other => panic!("{other:?}"),
    }
    // fork from a known parent with parent_start_ns 0: the parent's proc_id.
    e.handle(fork(203 * S, 705, 700, 203 * S), &mut out);
    match out.last() {
        Some(Record::Fork(f)) => assert_eq!(f.parent_proc_id.as_deref(), Some("700-3000000000")),
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
    assert_eq!(types(&out), ["fork", "exec", "lost", "reap"]);
    let r = only_reap(&out);
    assert_eq!(r.proc_id.as_deref(), Some("900-1000000000"));
    assert_eq!(r.comm, "job");
    assert_eq!((r.zombie_ns, r.zombie_class), (None, None));
    assert_empty(&e);
}

#[test]
fn wait_reporting_a_stopped_or_continued_live_child_is_not_a_reap() {
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 910, 1, S)]);
    e.handle(wait(2 * S, 1, 910, Some(STOPPED_SIGSTOP)), &mut out);
    e.handle(wait(3 * S, 1, 910, Some(CONTINUED)), &mut out);
    e.handle(wait(4 * S, 1, 910, None), &mut out);
    e.handle(wait(4 * S, 1, 0, Some(EXITED_0)), &mut out); // WNOHANG, nothing collected
    assert_eq!(types(&out), ["fork"]);
    assert_eq!(e.live_count(), 1);
    // And a stopped status never reaps a zombie either.
    e.handle(exit(5 * S, 910, 1, S, "bash", EXITED_0), &mut out);
    e.handle(wait(5 * S + 1, 1, 910, Some(STOPPED_SIGSTOP)), &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.zombie_count(), 1);
    // A zombie reaped with an unreadable status is still a reap.
    e.handle(wait(5 * S + 2, 1, 910, None), &mut out);
    assert_eq!(only_reap(&out).zombie_ns, Some(2));
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
    assert_eq!(
        only_reap(&out).zombie_ns,
        Some(100),
        "the clock started at the first exit"
    );
}

#[test]
fn free_after_a_wait_reap_is_ignored() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 930, 1, S),
            exit(2 * S, 930, 1, S, "a", EXITED_0),
            wait(2 * S + 10, 1, 930, Some(EXITED_0)),
            free(2 * S + 20 * MS, 930, S),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    assert_eq!(only_reap(&out).how, ReapHow::Wait);
}

#[test]
fn free_of_a_zombie_is_a_release_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 940, 1, S),
            exit(2 * S, 940, 1, S, "nsjob", EXITED_0),
            free(2 * S + 30 * MS, 940, S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!(r.how, ReapHow::Release);
    assert_eq!(r.reaper, None);
    assert_eq!(r.ppid, 1);
    assert_eq!(r.zombie_ns, Some(30 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert_empty(&e);
}

#[test]
fn a_wait_from_inside_a_pid_namespace_names_no_global_pid() {
    // A container's init (global 950, pid 1 inside) reaps its child, global 951 and pid 5
    // inside; wait4 returns 5. Global 5 is an unrelated live process: it must stay alive, and
    // the reap of 951 comes from its release.
    let mut e = engine();
    let ns_wait = KernelEvent::Wait(Wait {
        ktime_ns: 3 * S,
        reaper: 950,
        reaper_tid: 950,
        reaped: 5,
        status: Some(EXITED_0),
        ns_local: true,
    });
    let out = run(
        &mut e,
        [
            fork(S, 5, 1, S),
            fork(S, 950, 1, S),
            fork(2 * S, 951, 950, 2 * S),
            exit(3 * S - 10 * MS, 951, 950, 2 * S, "job", EXITED_0),
            ns_wait,
            free(3 * S + 20 * MS, 951, 2 * S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!((r.pid, r.how), (951, ReapHow::Release));
    assert_eq!(r.zombie_ns, Some(30 * MS));
    assert!(e.process(5).is_some_and(|p| p.zombie_since_ns.is_none()));
}

#[test]
fn a_wait_after_the_release_reap_is_not_a_second_reap() {
    // Under load, the RCU callback behind Free can run before the reaper returns from wait.
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 945, 1, S),
            exit(2 * S, 945, 1, S, "racy", EXITED_0),
            free(2 * S + 5 * MS, 945, S),
            wait(2 * S + 6 * MS, 1, 945, Some(EXITED_0)),
        ],
    );
    assert_eq!(reaps(&out).len(), 1);
    // Same for a waitid(WNOWAIT) peek followed by the real wait.
    out.clear();
    run(
        &mut e,
        [
            fork(3 * S, 946, 1, 3 * S),
            exit(4 * S, 946, 1, 3 * S, "peek", EXITED_0),
        ],
    );
    e.handle(wait(4 * S + 1, 1, 946, Some(EXITED_0)), &mut out);
    e.handle(wait(4 * S + 2, 1, 946, Some(EXITED_0)), &mut out);
    assert_eq!(reaps(&out).len(), 1);
    // Long after, an unknown pid's terminated wait is reported again (pid could be reused by
    // a process we never saw).
    e.tick(100 * S, &mut out);
    e.handle(wait(100 * S, 1, 946, Some(EXITED_0)), &mut out);
    assert_eq!(reaps(&out).len(), 2);
    assert_eq!(reaps(&out)[1].proc_id, None);
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

#[test]
fn non_leader_exec_then_free_of_the_old_leader_is_not_a_reap() {
    // A thread (tid 961) of process 960 execs: de_thread() releases the old leader. The kernel
    // side drops the Free (pid != tgid), but even a Free with the process's pid and a stale start
    // time must not reap the live process.
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 960, 1, S)]);
    let mut ev = match exec(2 * S, 960, 1, S, "newimg") {
        KernelEvent::Exec(x) => x,
        _ => unreachable!(),
    };
    ev.old_pid = 961;
    e.handle(KernelEvent::Exec(ev), &mut out);
    match &out[1] {
        Record::Exec(x) => {
            assert_eq!((x.pid, x.old_pid), (960, 961));
            assert_eq!(x.proc_id, "960-1000000000");
        }
        other => panic!("{other:?}"),
    }
    e.handle(free(2 * S + 10 * MS, 960, S), &mut out);
    e.handle(free(2 * S + 10 * MS, 960, S - 5), &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.live_count(), 1);
    // Its real end is still tracked normally.
    e.handle(exit(3 * S, 960, 1, S, "newimg", EXITED_0), &mut out);
    e.handle(wait(3 * S + 3, 1, 960, Some(EXITED_0)), &mut out);
    let r = only_reap(&out);
    assert_eq!((r.comm.as_str(), r.zombie_ns), ("newimg", Some(3)));
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
    let r = only_reap(&out);
    assert_eq!(r.zombie_ns, Some(200 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert_eq!(exits(&out)[0].lifetime_ns, 4 * S);
}

#[test]
fn approximate_start_time_is_refined_and_keeps_the_proc_id() {
    let mut e = engine();
    let mut f = match fork(S + 20_000, 980, 1, S + 20_000) {
        KernelEvent::Fork(f) => f,
        _ => unreachable!(),
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
        match i % 3 {
            0 => e.handle(wait(t + 3, 1, pid, Some(EXITED_0)), &mut out),
            1 => e.handle(free(t + 3, pid, start), &mut out),
            _ => {
                e.handle(wait(t + 3, 1, pid, Some(EXITED_0)), &mut out);
                e.handle(free(t + 4, pid, start), &mut out);
            }
        }
        t += 10_000;
        if i % 1000 == 0 {
            out.clear();
        }
    }
    assert_empty(&e);
    assert_eq!(e.counts().reap, 10_000);
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
        }
        t += 2 * THRESHOLD;
        out.clear();
    }
    assert_empty(&e);
    assert_eq!(e.counts().zombie, 5_000);
}

#[test]
fn summary_counts_percentiles_and_unreaped() {
    let mut e = engine();
    let mut out = Vec::new();
    e.emit(
        crate::record::StartRecord::new(&CLOCK, S, "0.1.0", Default::default(), 1 << 20).into(),
        &mut out,
    );
    // 100 reaps with zombie times 1 ms .. 100 ms.
    for i in 1..=100u32 {
        let (pid, t) = (2000 + i, 2 * S + u64::from(i) * 200 * MS);
        e.handle(fork(t, pid, 1, t), &mut out);
        e.handle(exit(t + 1, pid, 1, t, "w", EXITED_0), &mut out);
        e.handle(
            wait(t + 1 + u64::from(i) * MS, 1, pid, Some(EXITED_0)),
            &mut out,
        );
    }
    // One autoreap (zombie_ns 0), one unknown reap (no zombie_ns: not counted).
    e.handle(fork(30 * S, 3000, 1, 30 * S), &mut out);
    e.handle(exit_autoreap(30 * S + 1, 3000, 1, 30 * S, "a"), &mut out);
    e.handle(wait(30 * S + 2, 1, 3001, Some(EXITED_0)), &mut out);
    // Two unreaped zombies, one with a known parent.
    e.handle(exec(31 * S, 3100, 1, 10, "parentd"), &mut out);
    e.handle(fork(31 * S, 3101, 3100, 31 * S), &mut out);
    e.handle(exit(32 * S, 3101, 3100, 31 * S, "kid", EXITED_0), &mut out);
    e.handle(fork(32 * S, 3102, 77, 32 * S), &mut out);
    e.handle(
        exit(33 * S, 3102, 77, 32 * S, "orphan", exited(1)),
        &mut out,
    );
    e.lost(rb(5), 34 * S, &mut out);
    e.lost(rb(0), 34 * S, &mut out); // nothing
    e.lost(
        LostCauses {
            recursion: HookCounts {
                reap: 1,
                ..HookCounts::default()
            },
            undecodable: 1,
            ..LostCauses::default()
        },
        35 * S,
        &mut out,
    );
    e.tick(36 * S, &mut out);
    let before: Vec<RecordType> = out.iter().map(Record::record_type).collect();
    e.summary(40 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("{:?}", out.last())
    };
    let count = |t: RecordType| before.iter().filter(|&&x| x == t).count() as u64;
    for t in [
        RecordType::Start,
        RecordType::Fork,
        RecordType::Exec,
        RecordType::Exit,
        RecordType::Lost,
        RecordType::Zombie,
        RecordType::Reap,
    ] {
        assert_eq!(s.counts.get(t), count(t), "{t:?}");
    }
    assert_eq!(s.counts.start, 1);
    assert_eq!(s.counts.lost, 2);
    assert_eq!(s.counts.reap, 102);
    assert_eq!(s.counts.zombie, 2);
    assert_eq!(s.lost, 7);
    assert_eq!(e.lost_total(), 7);
    assert_eq!(
        s.lost_causes,
        LostCauses {
            ring_buffer_full: 5,
            recursion: HookCounts {
                reap: 1,
                ..HookCounts::default()
            },
            undecodable: 1,
        }
    );
    let lost: Vec<(u64, LostCauses)> = out
        .iter()
        .filter_map(|r| match r {
            Record::Lost(l) => Some((l.count, l.causes)),
            _ => None,
        })
        .collect();
    assert_eq!(lost[1].0, 2, "{lost:?}");
    assert_eq!(lost[1].1.recursion.reap, 1, "{lost:?}");
    // 101 values: 0, 1 ms .. 100 ms. p50 = 50 ms (51st value), p99 = 99 ms (100th), ±1 %.
    assert_eq!(s.zombie_ns.count, 101);
    let near = |got: Option<u64>, want: u64| {
        let got = got.expect("some") as f64;
        (got - want as f64).abs() <= want as f64 * 0.01
    };
    assert!(near(s.zombie_ns.p50, 50 * MS), "{:?}", s.zombie_ns);
    assert!(near(s.zombie_ns.p99, 99 * MS), "{:?}", s.zombie_ns);
    assert_eq!(s.zombie_ns.max, Some(100 * MS));
    // Unreaped, oldest first.
    assert_eq!(s.unreaped.len(), 2);
    assert_eq!(
        (
            s.unreaped[0].pid,
            s.unreaped[0].proc_id.as_str(),
            s.unreaped[0].comm.as_str()
        ),
        (3101, "3101-31000000000", "kid")
    );
    assert_eq!(s.unreaped[0].zombie_ns, 8 * S);
    assert_eq!(s.unreaped[0].parent_comm.as_deref(), Some("parentd"));
    assert_eq!((s.unreaped[1].pid, s.unreaped[1].ppid), (3102, 77));
    assert_eq!(s.unreaped[1].parent_comm, None);
    assert_eq!(s.unreaped[1].zombie_ns, 7 * S);
    assert_eq!(s.duration_ns, 39 * S, "since the start record");
    assert_eq!(s.ktime_ns, 40 * S);
}

#[test]
fn summary_of_nothing() {
    let mut e = engine();
    let mut out = Vec::new();
    e.summary(5 * S, &mut out);
    let json = serde_json::to_value(&out[0]).expect("serializable");
    assert_eq!(
        json["zombie_ns"],
        serde_json::json!({"p50": null, "p99": null, "max": null, "count": 0})
    );
    assert_eq!(json["unreaped"], serde_json::json!([]));
    assert_eq!(json["duration_ns"], 0);
}

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
    assert_eq!(types(&out), ["zombie", "reap"]);
    assert_empty(&e);
}

#[test]
fn wait_status_termination_rules() {
    assert!(status_terminated(0));
    assert!(status_terminated(exited(1)));
    assert!(status_terminated(exited(255)));
    assert!(status_terminated(SIGKILL));
    assert!(status_terminated(11 | 0x80)); // SIGSEGV, core dumped
    assert!(!status_terminated(STOPPED_SIGSTOP));
    assert!(!status_terminated((5 << 8) | 0x7f)); // stopped by SIGTRAP
    assert!(!status_terminated(CONTINUED));
}

#[test]
fn engine_output_is_json_lines() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 1, 0, 0),
            exec(S + 1, 1, 0, 0, "init\n\"quoted\""),
            exit(2 * S, 1, 0, 0, "init", SIGKILL | 0x80),
        ],
    );
    e.tick(4 * S, &mut out);
    e.handle(free(5 * S, 1, 0), &mut out);
    e.summary(6 * S, &mut out);
    let mut w = crate::output::JsonWriter::new(Vec::new());
    w.write_all(&out).expect("write");
    let bytes = w.into_inner().expect("flush");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|v| v["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, ["fork", "exec", "exit", "zombie", "reap", "summary"]);
    assert_eq!(lines[2]["core_dumped"], true);
    assert_eq!(lines[2]["signal"], 9);
    assert_eq!(lines[2]["exit_code"], serde_json::Value::Null);
    assert_eq!(lines[4]["how"], "release");
    assert_eq!(lines[1]["time"], "2026-11-26T14:15:51.000000001Z");
}

#[test]
fn lost_and_summary_emit_due_alerts_first() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [fork(S, 990, 1, S), exit(2 * S, 990, 1, S, "z", EXITED_0)],
    );
    e.lost(rb(3), 5 * S, &mut out);
    assert_eq!(types(&out), ["fork", "exit", "zombie", "lost"]);
    assert_eq!(zombies(&out)[0].zombie_ns, 3 * S);
    let mut out = run(
        &mut e,
        [
            fork(6 * S, 991, 1, 6 * S),
            exit(7 * S, 991, 1, 6 * S, "y", EXITED_0),
        ],
    );
    e.summary(10 * S, &mut out);
    assert_eq!(types(&out), ["fork", "exit", "zombie", "summary"]);
    let ktimes: Vec<u64> = out.iter().map(Record::ktime_ns).collect();
    assert!(ktimes.windows(2).all(|w| w[0] <= w[1]), "{ktimes:?}");
    match out.last() {
        Some(Record::Summary(s)) => {
            assert_eq!(s.counts.zombie, 2);
            let pids: Vec<u32> = s.unreaped.iter().map(|u| u.pid).collect();
            assert_eq!(pids, [990, 991]);
        }
        other => panic!("{other:?}"),
    }
}

fn release(
    t: u64,
    pid: u32,
    ppid: u32,
    start_ns: u64,
    releaser: u32,
    exiting: bool,
) -> KernelEvent {
    KernelEvent::Release(crate::event::Release {
        ktime_ns: t,
        pid,
        ppid,
        start_ns,
        releaser,
        releaser_exiting: exiting,
    })
}

#[test]
fn release_by_a_waiter_is_an_exact_wait_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 400, S, "c", exited(1)),
            release(2 * S + 3 * MS, 500, 400, S, 400, false),
            // The syscall exit that follows is the same reap: not a second one.
            wait(2 * S + 4 * MS, 400, 500, Some(exited(1))),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    let r = reaps(&out)[0];
    assert_eq!(
        (r.how, r.reaper, r.ppid, r.zombie_ns),
        (ReapHow::Wait, Some(400), 400, Some(3 * MS))
    );
    assert!(!r.reparented);
    assert_eq!(e.tracked_count(), 0);
}

#[test]
fn release_by_a_subreaper_is_reparented() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 300, S, "c", EXITED_0),
            release(2 * S + MS, 500, 300, S, 300, false),
        ],
    );
    let r = reaps(&out)[0];
    assert_eq!((r.reaper, r.ppid, r.reparented), (Some(300), 300, true));
}

#[test]
fn release_by_the_exiting_side_is_an_autoreap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 400, S, "c", EXITED_0),
            // e.g. the parent died and its reaper ignores SIGCHLD: released by exit code.
            release(2 * S + 5 * MS, 500, 400, S, 400, true),
        ],
    );
    let r = reaps(&out)[0];
    assert_eq!(
        (r.how, r.reaper, r.zombie_ns),
        (ReapHow::Autoreap, None, Some(5 * MS))
    );
}

#[test]
fn release_after_an_autoreap_exit_is_not_a_second_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit_autoreap(2 * S, 500, 400, S, "c"),
            release(2 * S + 1000, 500, 400, S, 500, true),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    assert_eq!(reaps(&out)[0].how, ReapHow::Autoreap);
}

#[test]
fn release_of_a_never_seen_process_has_its_proc_id() {
    let mut e = engine();
    let out = run(&mut e, [release(5 * S, 700, 1, 42, 1, false)]);
    let r = reaps(&out)[0];
    assert_eq!(r.proc_id.as_deref(), Some("700-42"));
    assert_eq!((r.zombie_ns, r.zombie_class), (None, None));
    assert_eq!(r.reaper, Some(1));
    // A later Free of the same process is not another reap.
    assert_eq!(run(&mut e, [free(5 * S + MS, 700, 42)]).len(), 0);
}

#[test]
fn release_of_a_reused_pid_does_not_reap_the_new_process() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, 2 * S),
            release(2 * S, 500, 400, S, 400, false),
        ],
    );
    assert_eq!(types(&out), ["fork"]);
    assert_eq!(e.live_count(), 1);
}
