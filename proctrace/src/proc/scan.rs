//! Reading /proc (the edge of the reconciliation in reconcile.rs), with the `procfs` crate.
use procfs::process::{all_processes, Process};
use thiserror::Error;

use crate::{
    output::timefmt::boottime_now_ns,
    proc::reconcile::{ProcEntry, Snapshot},
};

/// include/linux/sched.h
const PF_EXITING: u32 = 0x0000_0004;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("listing /proc: {0}")]
    List(#[from] procfs::ProcError),
    #[error("reading the boot-time clock: {0}")]
    Clock(#[from] std::io::Error),
}

/// Every process in /proc. A process that vanishes while it is being read is skipped: it was
/// reaped during the read, which the comparison accounts for.
pub fn scan() -> Result<Snapshot, ScanError> {
    let began_ns = boottime_now_ns()?;
    let procs = all_processes()?.filter_map(|p| entry(&p.ok()?)).collect();
    finish(began_ns, procs)
}

/// Just `pids` (those that still exist): the confirming read of a check.
pub fn scan_pids(pids: &[u32]) -> Result<Snapshot, ScanError> {
    let began_ns = boottime_now_ns()?;
    let procs = pids
        .iter()
        .filter_map(|&pid| entry(&Process::new(i32::try_from(pid).ok()?).ok()?))
        .collect();
    finish(began_ns, procs)
}

/// /proc's clock tick in ns (`starttime` and the CPU times are in ticks).
pub fn tick_ns() -> u64 {
    1_000_000_000 / procfs::ticks_per_second().max(1)
}

fn finish(began_ns: u64, procs: Vec<ProcEntry>) -> Result<Snapshot, ScanError> {
    Ok(Snapshot {
        began_ns,
        ended_ns: boottime_now_ns()?,
        tick_ns: tick_ns(),
        procs,
    })
}

fn entry(process: &Process) -> Option<ProcEntry> {
    let stat = process.stat().ok()?;
    let tick_ns = tick_ns();
    // A group leader that exited before its threads shows `Z` while `num_threads` still counts
    // them (fs/proc/array.c: get_nr_threads): the process is alive.
    let zombie = stat.state == 'Z' && stat.num_threads <= 1;
    Some(ProcEntry {
        pid: u32::try_from(stat.pid).ok()?,
        ppid: u32::try_from(stat.ppid).ok()?,
        // The owner of /proc/<pid> is the task's effective uid.
        uid: process.uid().unwrap_or(0),
        start_ns: stat.starttime.saturating_mul(tick_ns),
        zombie,
        exiting: stat.flags & PF_EXITING != 0 || matches!(stat.state, 'Z' | 'X'),
        exit_status: if zombie {
            stat.exit_code.and_then(|c| u32::try_from(c).ok())
        } else {
            None
        },
        comm: stat.comm,
    })
}
