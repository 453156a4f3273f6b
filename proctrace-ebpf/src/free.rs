//! Task release: `sched_process_free` fires from delayed_put_task_struct(), an RCU callback
//! queued by release_task() (kernel/exit.c). Always after the reap, late by a grace period:
//! userspace uses it only for reaps the wait hooks could not see.
use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use proctrace_common::{counter, kind, EventHeader, FreeEvent};

use crate::{
    config::conf,
    maps::{count, submit},
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
