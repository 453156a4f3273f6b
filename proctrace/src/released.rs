//! Reaps whose release event never came, under `--reap-timing bounded` (engine/bounded.rs),
//! which learns of a reap only from `sched_process_free`. That event can fail to come: it
//! fires from an RCU callback, in a softirq on top of whatever the CPU was running, and on
//! 6.18 the kernel was seen to run proctrace's program for some of them neither on time nor
//! late, with no miss counted (proctrace's own threads were interrupted); and tracing can stop
//! within the grace period after a reap. A zombie that /proc no longer shows has been
//! released (release_task() unhashes it, kernel/exit.c __exit_signal()): such a zombie is
//! reaped here as its release would have been, placed from its parent's wait calls, no later
//! than the moment it was found gone.
use crate::{
    diagnoser::Diagnoser,
    engine::Engine,
    ingest::event::{FreeWaits, KernelEvent},
    proc::reconcile::{Snapshot, SETTLE_NS},
};

/// The release events of the zombies /proc checks have found gone (`gone_since_ns`) for
/// [`SETTLE_NS`] by `now_ns`: a zombie released just before a check has its event on the way
/// for a grace period, and that event places it better.
pub fn found_gone(engine: &Engine, diagnoser: &Diagnoser, now_ns: u64) -> Vec<KernelEvent> {
    engine
        .processes()
        .filter(|v| v.zombie_since_ns.is_some())
        .filter_map(|v| Some((v.gone_since_ns?, v)))
        .filter(|(gone_ns, _)| now_ns.saturating_sub(*gone_ns) >= SETTLE_NS)
        .map(|(gone_ns, v)| release(v.pid, v.start_ns, v.ppid, gone_ns, diagnoser))
        .collect()
}

/// The zombies to look up in /proc at the end of the trace.
pub fn zombies(engine: &Engine) -> Vec<u32> {
    engine
        .processes()
        .filter(|v| v.zombie_since_ns.is_some())
        .map(|v| v.pid)
        .collect()
}

/// The release events of the zombies `snap` (a read of [`zombies`]) no longer shows, as of
/// the end of that read.
pub fn missing_from(engine: &Engine, snap: &Snapshot, diagnoser: &Diagnoser) -> Vec<KernelEvent> {
    engine
        .processes()
        .filter(|v| v.zombie_since_ns.is_some())
        .filter(|v| !snap.shows(v.pid, v.start_ns))
        .map(|v| release(v.pid, v.start_ns, v.ppid, snap.ended_ns, diagnoser))
        .collect()
}

/// The release of zombie `pid` (started at `start_ns`, parent `ppid`), by `released_by_ns`.
fn release(
    pid: u32,
    start_ns: u64,
    ppid: u32,
    released_by_ns: u64,
    diagnoser: &Diagnoser,
) -> KernelEvent {
    KernelEvent::FreeWaits(FreeWaits {
        ktime_ns: released_by_ns,
        pid,
        start_ns,
        reaper: ppid,
        calls: diagnoser.wait_calls(ppid, pid, start_ns),
    })
}
