//! Successful exec: `sched_process_exec` (fs/exec.c exec_binprm), fired after the new image is
//! in place, so `current->mm` is the new mm and its arg area holds the new argv. execve and
//! execveat both end here (syscall-entry hooks miss execveat/fexecve).
use aya_ebpf::{
    helpers::{
        bpf_get_current_comm,
        generated::{bpf_probe_read_kernel_str, bpf_probe_read_user},
    },
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use proctrace_common::{
    counter, exec_flags, kind, EventHeader, ExecEvent, ExecHeader, ABSENT64, ARGV_CAP, FILENAME_CAP,
};

use crate::{
    config::conf,
    maps::{count, submit_bytes, EXEC_SCRATCH},
    place,
    task::{boot_ns, current_uid, read_at, ReadError, Task},
};

const HDR: usize = core::mem::size_of::<ExecHeader>();

/// tp_btf: `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn exec_btf(ctx: BtfTracePointContext) -> i32 {
    match try_exec_btf(&ctx) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_EXEC);
            0
        }
    }
}

fn try_exec_btf(ctx: &BtfTracePointContext) -> Result<(), ReadError> {
    let old_pid = ctx.arg::<u64>(1) as u32;
    let bprm = ctx.arg::<u64>(2);
    // bprm->filename is the path as passed to exec (or /dev/fd/N for fexecve).
    let filename = read_at::<u64>(bprm, conf!(bprm_filename))?;
    emit(old_pid, filename)
}

/// Classic tracepoint: `filename` is a `__data_loc` string inside the record.
#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn exec_tp(ctx: TracePointContext) -> u32 {
    match try_exec_tp(&ctx) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_EXEC);
            0
        }
    }
}

fn try_exec_tp(ctx: &TracePointContext) -> Result<(), ReadError> {
    let rec = ctx.as_ptr() as u64;
    let old_pid = read_at::<u32>(rec, conf!(exec_old_pid))?;
    let loc = read_at::<u32>(rec, conf!(exec_filename))?;
    emit(old_pid, rec + (loc & 0xffff) as u64)
}

#[inline(always)]
fn emit(old_pid: u32, filename: u64) -> Result<(), ReadError> {
    let Some(ev) = EXEC_SCRATCH.get_ptr_mut(0) else {
        return Err(ReadError);
    };
    // SAFETY: per-CPU map value, exclusively ours while this program runs.
    let ev: &mut ExecEvent = unsafe { &mut *ev };
    let task = Task::current();
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    let mut flags = 0u32;

    // The fixed-size fields first, the path and argv last: the verifier walks what follows
    // those copies once for each of their outcomes (cut, failed, empty), so the shorter that
    // tail, the faster the program loads (as in exit.rs emit()).
    ev.hdr.start_ns = task.process_start();
    ev.hdr.old_pid = old_pid;
    ev.hdr.uid = current_uid();
    ev.hdr.euid = task.euid();
    ev.hdr.comm = bpf_get_current_comm().unwrap_or_default();
    ev.hdr.maxrss_pages = task
        .signal()
        .and_then(|signal| read_at::<u64>(signal, conf!(signal_maxrss)))
        .unwrap_or(ABSENT64);
    // After de_thread() (fs/exec.c) the current task leads its process.
    ev.hdr.place = place::of_current(task, task);

    // The path: probe_read_kernel_str: probe_read_kernel_str returns the length including the NUL.
    let data = ev.data.as_mut_ptr();
    // SAFETY: writes at most FILENAME_CAP bytes into `data`.
    let ret = unsafe {
        bpf_probe_read_kernel_str(data.cast(), FILENAME_CAP as u32, filename as *const _)
    };
    let mut fn_len = if ret > 0 { ret as usize - 1 } else { 0 };
    if fn_len >= FILENAME_CAP - 1 {
        flags |= exec_flags::FILENAME_TRUNCATED;
    }
    // Bound for the verifier: the argv copy below starts at `fn_len`.
    fn_len &= FILENAME_CAP - 1;

    // argv: the NUL-separated strings between mm->arg_start and mm->arg_end.
    let mut argv_len = 0usize;
    // Partial data is reported on the record (`argv_read_failed`), never as an empty argv.
    let (start, end) = match arg_area(task) {
        Ok(area) => area,
        Err(ReadError) => {
            flags |= exec_flags::ARGV_READ_FAILED;
            (0, 0)
        }
    };
    if start != 0 && end > start {
        let mut len = (end - start) as usize;
        if len > ARGV_CAP {
            len = ARGV_CAP;
            flags |= exec_flags::ARGV_TRUNCATED;
        }
        // SAFETY: `fn_len < FILENAME_CAP` and `len <= ARGV_CAP`, within `data`.
        let ret =
            unsafe { bpf_probe_read_user(data.add(fn_len).cast(), len as u32, start as *const _) };
        if ret == 0 {
            argv_len = len;
        } else {
            flags |= exec_flags::ARGV_READ_FAILED;
        }
    }

    ev.hdr.header = EventHeader::new(kind::EXEC, pid_tgid as u32, pid, task.ppid(), boot_ns());
    ev.hdr.flags = flags;
    ev.hdr.filename_len = fn_len as u32;
    ev.hdr.argv_len = argv_len as u32;

    // Submit only the used part: header + path + argv (bounded for the verifier).
    // The mask must be a power of two minus one that covers the largest record, or it would
    // cut real sizes (a bug the long-argv test caught); the clamp below is the exact bound.
    const SIZE_MASK: usize = core::mem::size_of::<ExecEvent>().next_power_of_two() - 1;
    let size = (HDR + fn_len + argv_len) & SIZE_MASK;
    let size = if size > core::mem::size_of::<ExecEvent>() {
        core::mem::size_of::<ExecEvent>()
    } else {
        size
    };
    // SAFETY: `size <= size_of::<ExecEvent>()` bytes of the map value.
    let bytes = unsafe { core::slice::from_raw_parts((ev as *const ExecEvent).cast::<u8>(), size) };
    submit_bytes(bytes);
    Ok(())
}

/// `mm->arg_start`, `mm->arg_end` of the new image.
#[inline(always)]
fn arg_area(task: Task) -> Result<(u64, u64), ReadError> {
    let mm = read_at::<u64>(task.0, conf!(task_mm))?;
    Ok((
        read_at::<u64>(mm, conf!(mm_arg_start))?,
        read_at::<u64>(mm, conf!(mm_arg_end))?,
    ))
}
