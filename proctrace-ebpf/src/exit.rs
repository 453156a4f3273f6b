//! Process exit: `sched_process_exit` (kernel/exit.c do_exit) fires once per exiting thread;
//! only the thread that ends the group (`group_dead`) makes a record, so threads never do.
use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use proctrace_common::{counter, exit_flags, kind, EventHeader, ExitEvent, ABSENT, COMM_LEN};

use core::ptr::addr_of_mut;

use crate::{
    config::conf,
    maps::{count, EVENTS},
    place,
    task::{boot_ns, current_uid, read_at, ReadError, Task},
    usage,
};

/// include/linux/sched/signal.h
const SIGNAL_GROUP_EXIT: u32 = 0x0000_0004;
/// include/uapi/asm-generic/signal.h (x86/arm64): SIGCHLD, SIG_IGN, SA_NOCLDWAIT.
const SIGCHLD: u64 = 17;
const SIG_IGN: u64 = 1;
const SA_NOCLDWAIT: u64 = 2;

/// tp_btf: `TP_PROTO(struct task_struct *p, bool group_dead)` on 6.16+, `(p)` before.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn exit_btf(ctx: BtfTracePointContext) -> i32 {
    let group_dead = if conf!(exit_group_dead) != ABSENT {
        Ok(ctx.arg::<u64>(1) & 0xff != 0)
    } else {
        live_is_zero()
    };
    emit_if_group_dead(group_dead);
    0
}

#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn exit_tp(ctx: TracePointContext) -> u32 {
    let off = conf!(exit_group_dead);
    let group_dead = if off != ABSENT {
        read_at::<u8>(ctx.as_ptr() as u64, off).map(|v| v != 0)
    } else {
        live_is_zero()
    };
    emit_if_group_dead(group_dead);
    0
}

/// Only the thread that ends the group makes a record. Not knowing whether the group died,
/// no record: a thread's exit taken for the process's would start its zombie clock early.
#[inline(always)]
fn emit_if_group_dead(group_dead: Result<bool, ReadError>) {
    match group_dead {
        Ok(true) => emit(),
        Ok(false) => {}
        Err(ReadError) => count(counter::DROPPED_EXIT),
    }
}

/// Before 6.16 the tracepoint has no `group_dead`; do_exit() has already run
/// `atomic_dec_and_test(&tsk->signal->live)` when it fires, so live == 0 means this thread
/// ended the group. (Two threads racing can both read 0: userspace keeps the first exit.)
#[inline(always)]
fn live_is_zero() -> Result<bool, ReadError> {
    let signal = Task::current().signal()?;
    read_at::<i32>(signal, conf!(signal_live)).map(|v| v == 0)
}

/// Written in place in the reserved record: with its usage block the event is too large for
/// the 512-byte stack. Every field is written; the timestamp is taken right after the
/// reservation, in ring-buffer order.
#[inline(always)]
fn emit() {
    let Some(mut entry) = EVENTS.reserve::<ExitEvent>(0) else {
        count(counter::RINGBUF_FULL);
        return;
    };
    let ev = entry.as_mut_ptr();
    let task = Task::current();
    let leader = task.group_leader().unwrap_or(task);
    // Read before the exit's moment is taken: a parent found asleep in a wait then began that
    // call (its `sched_process_wait` note) before the moment. Read after it, a parent that
    // called wait in between (a window of a few reads, long under emulation) passed for one
    // asleep before the exit while no noted call preceded the exit, and a WNOWAIT peek was
    // taken for the reap (the 7.3 guest, `--hooks tracepoints`; engine/bounded.rs).
    let waiting = parent_waiting(leader);
    // The exit's moment: taken before the usage reads, which take a while (longer still
    // under emulation), so that the zombie clock starts when the tracepoint fired.
    let ktime_ns = boot_ns();
    let (status, mut flags) = status_and_flags(task, leader);
    if waiting {
        flags |= exit_flags::PARENT_WAITING;
    }
    // Everything else is written before the usage is read: the verifier walks what follows
    // the usage's thread loop once for each pass that can end it (each attempt, usage.rs),
    // so the less that follows, and the less it holds on the stack, the faster the program
    // loads. Reading the usage first cost 84,300 instructions verified (6.18 host), 26,500
    // this way; under emulation this program's load was half of a start-up (2–3 s of 4–5 s
    // in the 7.3 guest).
    // SAFETY: `ev` is the reserved record; `place` lies after `usage`, outside ExitHead.
    unsafe { addr_of_mut!((*ev).place).write(place::of_current(task, leader)) };
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let (tid, pid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let mut comm = [0u8; COMM_LEN];
    leader.comm(&mut comm);
    let head = ExitHead {
        header: EventHeader::new(kind::EXIT, tid, pid, task.ppid(), ktime_ns),
        start_ns: leader.start_boottime().unwrap_or(0),
        status,
        uid: current_uid(),
        flags,
        _pad: 0,
        comm,
    };
    // SAFETY: ExitHead is ExitEvent's layout up to `usage` (asserted below).
    unsafe { ev.cast::<ExitHead>().write(head) };
    // SAFETY: `ev` is the reserved record; `usage` is written field by field by fill().
    if !usage::fill(task, unsafe { addr_of_mut!((*ev).usage) }) {
        // SAFETY: the head's `flags`, written above.
        unsafe { addr_of_mut!((*ev).flags).write(flags | exit_flags::USAGE_INCOMPLETE) };
    }
    entry.submit(0);
}

/// ExitEvent without its usage block, written as one piece.
#[repr(C)]
struct ExitHead {
    header: EventHeader,
    start_ns: u64,
    status: u32,
    uid: u32,
    flags: u32,
    _pad: u32,
    comm: [u8; COMM_LEN],
}
const _: () = assert!(
    core::mem::size_of::<ExitHead>() == core::mem::offset_of!(ExitEvent, usage)
        && core::mem::offset_of!(ExitEvent, comm) == core::mem::offset_of!(ExitHead, comm)
);

/// Whether a thread of the parent's group sleeps in do_wait() (kernel/exit.c: it queues itself
/// on `signal->wait_chldexit` for the whole call, and exit_notify()'s __wake_up_parent() wakes
/// it): the reap then follows the exit at once (`--reap-timing bounded`, engine/bounded.rs).
/// Unknown (an offset missing, a read failing) reads as not waiting.
#[inline(always)]
fn parent_waiting(leader: Task) -> bool {
    let off = conf!(signal_wait_chldexit);
    if off == ABSENT {
        return false;
    }
    let Ok(signal) = leader.real_parent().and_then(Task::signal) else {
        return false;
    };
    let head = signal + off as u64;
    // An empty list_head points at itself.
    read_at::<u64>(head, 0).is_ok_and(|next| next != head)
}

/// The wait status the parent will collect, as kernel/exit.c wait_task_zombie() builds it,
/// and whether exit_notify()/do_notify_parent() (kernel/signal.c) will autoreap.
#[inline(always)]
fn status_and_flags(task: Task, leader: Task) -> (u32, u32) {
    let signal = task.signal().unwrap_or(0);
    let sig_flags = read_at::<u32>(signal, conf!(signal_flags)).unwrap_or(0);
    let status = if sig_flags & SIGNAL_GROUP_EXIT != 0 {
        read_at::<u32>(signal, conf!(signal_group_exit_code)).unwrap_or(0)
    } else {
        read_at::<u32>(leader.0, conf!(task_exit_code)).unwrap_or(0)
    };

    let mut flags = 0;
    let exit_signal = read_at::<i32>(leader.0, conf!(task_exit_signal)).unwrap_or(SIGCHLD as i32);
    if exit_signal as u64 != SIGCHLD {
        flags |= exit_flags::NON_SIGCHLD;
        return (status, flags);
    }
    // A ptraced child is always kept for the tracer (do_notify_parent checks !tsk->ptrace).
    if read_at::<u32>(leader.0, conf!(task_ptrace)).unwrap_or(0) != 0 {
        return (status, flags);
    }
    let Ok(parent) = leader.real_parent() else {
        return (status, flags);
    };
    let sighand = read_at::<u64>(parent.0, conf!(task_sighand)).unwrap_or(0);
    let size = conf!(sigaction_size);
    let handler_off = conf!(sighand_action);
    let flags_off = conf!(sigaction_flags);
    if size == ABSENT || handler_off == ABSENT || flags_off == ABSENT {
        return (status, flags);
    }
    let slot = (SIGCHLD as u32 - 1) * size;
    let handler = read_at::<u64>(sighand, handler_off + slot).unwrap_or(0);
    let sa_flags = read_at::<u64>(sighand, flags_off + slot).unwrap_or(0);
    if handler == SIG_IGN || sa_flags & SA_NOCLDWAIT != 0 {
        flags |= exit_flags::AUTOREAP;
    }
    (status, flags)
}
