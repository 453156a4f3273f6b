//! The reap itself: `release_task(p)` (kernel/exit.c), called by every path that ends a
//! process's life: wait_task_zombie() in the waiter's context, exit_notify() for an autoreap
//! in the exiting task's own context, de_thread() for the old leader after a non-leader exec
//! (not a process: dropped here). Exact time and releaser for every reap, whichever syscall
//! or pid namespace the waiter used. fentry where the kernel allows it, kprobe otherwise;
//! without either, the wait-syscall and sched_process_free hooks stand in (wait.rs, free.rs).
use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use proctrace_common::{counter, kind, EventHeader, ReleaseEvent};

use crate::{
    config::conf,
    maps::{count, submit},
    task::{boot_ns, read_at, ReadError, Task},
};

/// include/linux/sched.h
const PF_EXITING: u32 = 0x0000_0004;

#[fentry(function = "release_task")]
pub fn release_fentry(ctx: FEntryContext) -> i32 {
    // release_task(struct task_struct *p)
    match try_release(Task(ctx.arg::<u64>(0))) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

#[kprobe]
pub fn release_kprobe(ctx: ProbeContext) -> u32 {
    let result = ctx
        .arg::<u64>(0)
        .ok_or(ReadError)
        .map(Task)
        .and_then(try_release);
    match result {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

fn try_release(task: Task) -> Result<(), ReadError> {
    let tid = task.pid()?;
    let pid = task.tgid()?;
    if tid != pid {
        return Ok(());
    }
    let current = Task::current();
    let flags = read_at::<u32>(current.0, conf!(task_flags)).unwrap_or(0);
    let releaser = (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32;
    let ppid = task.ppid();
    let start_ns = task.start_boottime().unwrap_or(0);
    submit(|| ReleaseEvent {
        header: EventHeader::new(kind::RELEASE, tid, pid, ppid, boot_ns()),
        start_ns,
        releaser,
        releaser_exiting: u32::from(flags & PF_EXITING != 0),
    });
    Ok(())
}
