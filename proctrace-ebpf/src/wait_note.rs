//! A process's wait-family calls, for the zombie diagnosis (`parent_last_wait_ns`):
//! `sched_process_wait` fires at the start of every do_wait() (kernel/exit.c: wait4, waitid,
//! waitpid), in the waiter's context, whichever child it waits for and whether or not one is
//! ready. The time of the latest call is kept per tgid in `WAITERS`; nothing is sent.
//! It runs on every wait call system-wide: two reads and a map lookup (an insert the first
//! time a process waits), no ring buffer.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
};
use proctrace_common::{counter, WaitNote};

use crate::{
    maps::{count, WAITERS},
    task::{boot_ns, ReadError, Task},
};

/// tp_btf: `TP_PROTO(struct pid *pid)`, the pid waited for (unused: any wait counts).
#[btf_tracepoint(function = "sched_process_wait")]
pub fn wait_note_btf(_ctx: BtfTracePointContext) -> i32 {
    match try_note() {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_WAIT);
            0
        }
    }
}

/// Classic tracepoint: the record (comm, pid, prio) is not needed either.
#[tracepoint(category = "sched", name = "sched_process_wait")]
pub fn wait_note_tp(_ctx: TracePointContext) -> u32 {
    match try_note() {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_WAIT);
            0
        }
    }
}

#[inline(always)]
fn try_note() -> Result<(), ReadError> {
    // The time first: the call's moment, not the end of the reads.
    let ktime_ns = boot_ns();
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let leader_start_ns = Task::current().group_leader()?.start_boottime()?;
    let note = WaitNote {
        ktime_ns,
        leader_start_ns,
    };
    // A process that waited before (shells, make, supervisors: most waits) has its note
    // rewritten in place: a hash lookup, where an LRU insert takes the LRU's locks and a
    // free node (kernel.bpf_stats_enabled, 40,000 waits: 1.1–1.2 µs per wait inserting
    // every time, 0.7–0.9 µs so).
    if let Some(slot) = WAITERS.get_ptr_mut(tgid) {
        // SAFETY: the pointer is to this map's value, valid while the program runs (the
        // element is freed only after an RCU grace period); two threads of one process
        // writing at once both write whole, aligned u64s of their own call.
        unsafe { slot.write(note) };
        return Ok(());
    }
    // A failed insert (the LRU found no free node) is no read failure: counted as dropped only.
    WAITERS.insert(tgid, note, 0).map_err(|_| ReadError)
}
