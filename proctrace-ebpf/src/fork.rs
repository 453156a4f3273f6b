//! Process creation: `sched_process_fork` (kernel/fork.c kernel_clone), fired in the parent's
//! context after copy_process() and before wake_up_new_task(), so the fork record is always
//! reserved before any event of the child. Threads (CLONE_THREAD) are dropped here.
use aya_ebpf::{
    helpers::bpf_probe_read_kernel_buf,
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use proctrace_common::{
    counter, fork_flags, kind, EventHeader, ForkEvent, Place, ABSENT, COMM_LEN,
};

use crate::{
    config::conf,
    maps::{count, submit, NEWTASK_FLAGS},
    place,
    task::{boot_ns, current_uid, read_at, ReadError, Task},
};

/// include/uapi/linux/sched.h
const CLONE_PARENT: u64 = 0x0000_8000;
const CLONE_THREAD: u64 = 0x0001_0000;

/// tp_btf: `TP_PROTO(struct task_struct *parent, struct task_struct *child)`.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn fork_btf(ctx: BtfTracePointContext) -> i32 {
    match try_fork_btf(&ctx) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_FORK);
            0
        }
    }
}

fn try_fork_btf(ctx: &BtfTracePointContext) -> Result<(), ReadError> {
    let child = Task(ctx.arg::<u64>(1));
    let tid = child.pid()?;
    let pid = child.tgid()?;
    if tid != pid {
        return Ok(());
    }
    // real_parent, not the caller: CLONE_PARENT makes the child a sibling of the caller.
    let parent = child.real_parent()?;
    let mut comm = [0u8; COMM_LEN];
    child.comm(&mut comm);
    let start_ns = child.start_boottime().unwrap_or(0);
    emit(
        pid,
        parent.tgid().unwrap_or(0),
        parent.process_start(),
        start_ns,
        0,
        &comm,
        place::of_task(child),
    );
    Ok(())
}

/// Classic companion: `task_newtask` carries clone_flags, which sched_process_fork lacks.
#[tracepoint(category = "task", name = "task_newtask")]
pub fn newtask_tp(ctx: TracePointContext) -> u32 {
    // A failed read is counted where it happens (KERNEL_READ_FAILED) and its consequence
    // when the fork finds no pairing (FORK_UNPAIRED).
    match try_newtask_tp(&ctx) {
        Ok(()) | Err(ReadError) => 0,
    }
}

fn try_newtask_tp(ctx: &TracePointContext) -> Result<(), ReadError> {
    let pid = read_at::<u32>(ctx.as_ptr() as u64, conf!(newtask_pid))?;
    let flags = read_at::<u64>(ctx.as_ptr() as u64, conf!(newtask_clone_flags))?;
    let _ = NEWTASK_FLAGS.insert(pid, flags, 0);
    Ok(())
}

/// Classic tracepoint: the child's task_struct is not reachable, so the layout comes from the
/// format file (child_pid moved from offset 44 to 20 when 6.16 made comms `__data_loc`).
#[tracepoint(category = "sched", name = "sched_process_fork")]
pub fn fork_tp(ctx: TracePointContext) -> u32 {
    match try_fork_tp(&ctx) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_FORK);
            0
        }
    }
}

fn try_fork_tp(ctx: &TracePointContext) -> Result<(), ReadError> {
    let rec = ctx.as_ptr() as u64;
    let child_pid = read_at::<u32>(rec, conf!(fork_child_pid))?;
    // SAFETY: the value is a plain u64 copied out of the map.
    let flags = match unsafe { NEWTASK_FLAGS.get(child_pid) } {
        Some(flags) => {
            let flags = *flags;
            let _ = NEWTASK_FLAGS.remove(child_pid);
            flags
        }
        None => {
            count(counter::FORK_UNPAIRED);
            0
        }
    };
    if flags & CLONE_THREAD != 0 {
        return Ok(());
    }
    let current = Task::current();
    let parent = if flags & CLONE_PARENT != 0 {
        current.real_parent()?
    } else {
        current
    };
    let mut comm = [0u8; COMM_LEN];
    read_comm_field(rec, &mut comm);
    emit(
        child_pid,
        parent.tgid().unwrap_or(0),
        parent.process_start(),
        boot_ns(),
        fork_flags::START_APPROX,
        &comm,
        place::cgroups_of_current(current),
    );
    Ok(())
}

/// `child_comm` is `char[16]` before 6.16 and a `__data_loc char[]` after: the u32 at the
/// field holds `len << 16 | offset-in-record` (include/trace/stages/stage3_struct.h).
fn read_comm_field(rec: u64, out: &mut [u8; COMM_LEN]) {
    let off = conf!(fork_child_comm);
    if off == ABSENT {
        return;
    }
    let src = if conf!(fork_child_comm_data_loc) != 0 {
        match read_at::<u32>(rec, off) {
            Ok(loc) => rec + (loc & 0xffff) as u64,
            Err(_) => return,
        }
    } else {
        rec + off as u64
    };
    // SAFETY: probe read into a 16-byte buffer; a short string is followed by its NUL and
    // whatever bytes come next in the record, which userspace cuts at the first NUL.
    if unsafe { bpf_probe_read_kernel_buf(src as *const u8, out) }.is_err() {
        count(counter::KERNEL_READ_FAILED);
    }
}

#[inline(always)]
fn emit(
    pid: u32,
    ppid: u32,
    parent_start_ns: u64,
    start_ns: u64,
    flags: u32,
    comm: &[u8; COMM_LEN],
    place: Place,
) {
    let parent_tid = aya_ebpf::helpers::bpf_get_current_pid_tgid() as u32;
    let uid = current_uid();
    submit(|| ForkEvent {
        header: EventHeader::new(kind::FORK, pid, pid, ppid, boot_ns()),
        start_ns,
        parent_start_ns,
        parent_tid,
        uid,
        flags,
        _pad: 0,
        comm: *comm,
        place,
    });
}
