//! Task release: `sched_process_free` fires from delayed_put_task_struct(), an RCU callback
//! queued by release_task() (kernel/exit.c). Always after the reap, late by a grace period.
//! With the wait syscall tracepoints (`--reap-timing exact`), userspace uses it only for reaps
//! they could not see; without them (`bounded`, `free_waits_btf`), it carries the reaper and
//! the reaper's latest wait calls, from which userspace places the reap (engine/bounded.rs).
use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use proctrace_common::{counter, kind, EventHeader, FreeEvent, FreeWaitsEvent, WaitCall, WaitNote};

use crate::{
    config::conf,
    maps::{count, submit, WAITERS, WAITS_FOR_PID},
    task::{boot_ns, read_at, ReadError, Task},
};

/// tp_btf: `TP_PROTO(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_process_free")]
pub fn free_btf(ctx: BtfTracePointContext) -> i32 {
    match try_free_btf(&ctx) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

fn try_free_btf(ctx: &BtfTracePointContext) -> Result<(), ReadError> {
    let task = Task(ctx.arg::<u64>(0));
    let tid = task.pid()?;
    let pid = task.tgid()?;
    // Threads, and the old leader that de_thread() released after a non-leader exec (its pid
    // was exchanged for the exec'ing thread's tid), are not processes.
    if tid != pid {
        return Ok(());
    }
    emit(pid, task.start_boottime().unwrap_or(0));
    Ok(())
}

/// tp_btf, `--reap-timing bounded`: the release with the reaper's wait calls.
#[btf_tracepoint(function = "sched_process_free")]
pub fn free_waits_btf(ctx: BtfTracePointContext) -> i32 {
    match try_free_waits(Task(ctx.arg::<u64>(0))) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

fn try_free_waits(task: Task) -> Result<(), ReadError> {
    let tid = task.pid()?;
    let pid = task.tgid()?;
    if tid != pid {
        return Ok(());
    }
    let start_ns = task.start_boottime().unwrap_or(0);
    // wait_task_zombie() (kernel/exit.c) releases a child only when the waiter is a thread of
    // its real parent's group (a tracer that is not the parent gets it back as EXIT_TRACE);
    // forget_original_parent() points real_parent at the new reaper when the parent died.
    let parent = task.real_parent()?;
    let reaper = parent.tgid()?;
    let reaper_start = parent
        .group_leader()
        .and_then(Task::start_boottime)
        .unwrap_or(0);
    // SAFETY: plain-data value, copied out at once.
    let waits = match unsafe { WAITERS.get(reaper) } {
        Some(note) if note.leader_start_ns == reaper_start => *note,
        _ => WaitNote::default(),
    };
    // SAFETY: as above. A call of another process (a tracer's), or from before this task
    // started (for a former holder of the pid), is not its reaper's.
    let for_it = match unsafe { WAITS_FOR_PID.get(pid) } {
        Some(call) if call.target == reaper && call.ktime_ns >= start_ns => *call,
        _ => WaitCall::default(),
    };
    submit(|| FreeWaitsEvent {
        header: EventHeader::new(kind::FREE_WAITS, pid, pid, reaper, boot_ns()),
        start_ns,
        waits,
        for_it,
    });
    Ok(())
}

/// Classic tracepoint: only `pid` (a thread id) is in the record, so every task's release is
/// sent with an unknown start; userspace ignores ids that are not a zombie process.
#[tracepoint(category = "sched", name = "sched_process_free")]
pub fn free_tp(ctx: TracePointContext) -> u32 {
    if let Ok(pid) = read_at::<u32>(ctx.as_ptr() as u64, conf!(free_pid)) {
        emit(pid, 0);
    }
    0
}

#[inline(always)]
fn emit(pid: u32, start_ns: u64) {
    submit(|| FreeEvent {
        header: EventHeader::new(kind::FREE, pid, pid, 0, boot_ns()),
        start_ns,
    });
}
