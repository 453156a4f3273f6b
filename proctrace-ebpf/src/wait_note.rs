//! A process's wait-family calls, for the zombie diagnosis (`parent_last_wait_ns`) and for
//! the reap's moment without syscall tracepoints (free.rs, `--reap-timing bounded`):
//! `sched_process_wait` fires at the start of every do_wait() (kernel/exit.c: wait4, waitid,
//! waitpid), in the waiter's context, whichever child it waits for and whether or not one is
//! ready. The latest calls (time, thread, pid waited for) are kept per tgid in `WAITERS`;
//! nothing is sent. It runs on every wait call system-wide: a few reads and a map lookup (an
//! insert the first time a process waits), no ring buffer.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_task_btf, bpf_task_pt_regs},
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
};
use proctrace_common::{counter, WaitCall, WaitNote, CANNOT_COLLECT, WAIT_CALLS};

use crate::{
    config::conf,
    maps::{count, WAITERS, WAITS_FOR_PID},
    task::{boot_ns, read_at, ReadError, Task},
};

/// include/uapi/linux/wait.h
const WEXITED: u64 = 0x0000_0004;
const WNOWAIT: u64 = 0x0100_0000;
/// arch/x86/entry/syscalls/syscall_64.tbl
const NR_WAITID: u64 = 247;

/// tp_btf with the caller's syscall arguments (`bpf_task_pt_regs`, Linux 5.15+): a call that
/// cannot collect a zombie, `waitid()` with WNOWAIT (it only looks) or without WEXITED, is
/// noted with the target [`CANNOT_COLLECT`]. The loader falls back to [`wait_note_btf`] where
/// the verifier refuses the helper.
#[btf_tracepoint(function = "sched_process_wait")]
pub fn wait_note_regs(ctx: BtfTracePointContext) -> i32 {
    finish(try_note(target(&ctx), collects()))
}

/// tp_btf without the syscall arguments: every call is taken as one that can collect.
#[btf_tracepoint(function = "sched_process_wait")]
pub fn wait_note_btf(ctx: BtfTracePointContext) -> i32 {
    finish(try_note(target(&ctx), true))
}

/// `TP_PROTO(struct pid *pid)`, `wo->wo_pid`: the pid, process group or pidfd's process
/// waited for, NULL for any child. Its number in the initial namespace is `numbers[0]`
/// (include/linux/pid.h). Unreadable, the call is noted as a wait for any child, which may
/// place a reap too early, never lose it.
#[inline(always)]
fn target(ctx: &BtfTracePointContext) -> u32 {
    let pid = ctx.arg::<u64>(0);
    if pid == 0 {
        return 0;
    }
    read_at::<u32>(pid, conf!(pid_numbers).saturating_add(conf!(upid_nr))).unwrap_or(0)
}

/// Whether this wait call can release a zombie, from its syscall's registers (x86-64: the
/// number in `orig_ax`, waitid's options in `r10`). Unknown (another syscall or ABI, a
/// register's offset missing from BTF, a failed read) counts as "can".
#[inline(always)]
fn collects() -> bool {
    // SAFETY: both helpers are valid in a tracing program; the verifier checks the pointer.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    match read_at::<u64>(regs, conf!(regs_orig_ax)) {
        Ok(NR_WAITID) => read_at::<u64>(regs, conf!(regs_r10)).map_or(true, |options| {
            options & WNOWAIT == 0 && options & WEXITED != 0
        }),
        // wait4() (number 61) always waits for exits (kernel/exit.c kernel_wait4() adds
        // WEXITED) and refuses WNOWAIT.
        _ => true,
    }
}

/// Classic tracepoint: its `pid` field is `pid_nr(pid)`, in the waiter's namespace; not
/// needed: classic mode keeps the wait syscall tracepoints for the reap (loader.rs), and the
/// diagnosis reads only the time.
#[tracepoint(category = "sched", name = "sched_process_wait")]
pub fn wait_note_tp(_ctx: TracePointContext) -> u32 {
    finish(try_note(0, true)) as u32
}

#[inline(always)]
fn finish(result: Result<(), ReadError>) -> i32 {
    if result.is_err() {
        count(counter::DROPPED_WAIT);
    }
    0
}

#[inline(always)]
fn try_note(target: u32, collects: bool) -> Result<(), ReadError> {
    // The time first: the call's moment, not the end of the reads.
    let ktime_ns = boot_ns();
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    // Still noted: a parent asleep in such a call at a child's exit is not about to collect
    // it (engine/bounded.rs).
    let call = WaitCall {
        ktime_ns,
        tid,
        target: if collects { target } else { CANNOT_COLLECT },
    };
    if collects && target != 0 {
        let for_pid = WaitCall {
            ktime_ns,
            tid,
            target: tgid,
        };
        // Without it the ring alone places the reap; a refused insert is still counted
        // (`lost.causes.dropped.wait`), and the note below is still written.
        if WAITS_FOR_PID.insert(target, for_pid, 0).is_err() {
            count(counter::DROPPED_WAIT);
        }
    }
    let leader_start_ns = Task::current().group_leader()?.start_boottime()?;
    // A process that waited before (shells, make, supervisors: most waits) has its note
    // updated in place: a hash lookup, where an LRU insert takes the LRU's locks and a
    // free node (kernel.bpf_stats_enabled, 40,000 waits: 1.1–1.2 µs per wait inserting
    // every time, 0.7–0.9 µs so). A note of a former holder of the pid is replaced whole.
    if let Some(slot) = WAITERS.get_ptr_mut(tgid) {
        // SAFETY: the pointer is to this map's value, valid while the program runs (the
        // element is freed only after an RCU grace period). Two threads of one process
        // calling at the same instant may both take the same ring slot (no atomic
        // fetch-and-add before 5.12): one of the two calls is then not kept. Each field
        // written is a whole, aligned integer.
        unsafe {
            if (*slot).leader_start_ns == leader_start_ns {
                let noted = (*slot).noted;
                if let Some(entry) = (*slot).calls.get_mut((noted as usize) % WAIT_CALLS) {
                    *entry = call;
                }
                (*slot).noted = noted.wrapping_add(1);
                (*slot).ktime_ns = ktime_ns;
                return Ok(());
            }
        }
    }
    let mut calls = [WaitCall::default(); WAIT_CALLS];
    calls[0] = call;
    let note = WaitNote {
        ktime_ns,
        leader_start_ns,
        noted: 1,
        _pad: 0,
        calls,
    };
    // A failed insert (the LRU found no free node) is no read failure: counted as dropped only.
    WAITERS.insert(tgid, note, 0).map_err(|_| ReadError)
}
