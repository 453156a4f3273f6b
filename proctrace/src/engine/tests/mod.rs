//! Synthetic event sequences for every lifecycle path: the shared kit (constants, event
//! builders, record extractors), then one module per topic.

mod lifecycle;
mod memory;
mod missed;
mod owners;
mod pid_reuse;
mod release;
mod reparent;
mod seed;
mod summary;
mod usage;
mod wait;
mod wait_candidates;
mod zombie;

use super::{Engine, EngineConfig};
use crate::ingest::event::{Exec, Exit, ExitStatus, Fork, Free, KernelEvent, Wait};
use crate::output::record::{
    Clock, ExitRecord, HookCounts, LostCauses, ReapHow, ReapRecord, Record, RecordType,
    ZombieClass, ZombieRecord, ZombieSource,
};

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
/// An RCU grace period: how long after its release a process's `Free` comes in these tests.
const GP: u64 = 5 * MS;
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
        top: 10,
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
        place: crate::ingest::event::Place::default(),
    })
}

fn exec(t: u64, pid: u32, ppid: u32, start_ns: u64, comm: &str) -> KernelEvent {
    KernelEvent::Exec(Exec {
        ktime_ns: t,
        pid,
        old_pid: pid,
        ppid,
        uid: 1000,
        euid: Some(1000),
        maxrss_bytes: None,
        start_ns,
        comm: comm.into(),
        filename: format!("/usr/bin/{comm}"),
        argv: vec![comm.into(), "--flag".into()],
        argv_truncated: false,
        argv_read_failed: false,
        filename_truncated: false,
        place: crate::ingest::event::Place::default(),
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
        parent_waiting: false,
        usage: None,
        place: crate::ingest::event::Place::default(),
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

fn release(
    t: u64,
    pid: u32,
    ppid: u32,
    start_ns: u64,
    releaser: u32,
    exiting: bool,
) -> KernelEvent {
    KernelEvent::Release(crate::ingest::event::Release {
        ktime_ns: t,
        pid,
        ppid,
        start_ns,
        releaser,
        releaser_exiting: exiting,
    })
}
