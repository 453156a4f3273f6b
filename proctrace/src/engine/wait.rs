//! `Wait`: a wait-family syscall returned a child; a reap candidate (see candidates.rs) only
//! when that child is a zombie (or its status says it terminated): its release confirms it.

use crate::ingest::event::Wait;
use crate::output::record::{ReapHow, ReapRecord, Record};

use super::candidates::WaitCandidate;
use super::Engine;

impl Engine {
    pub(super) fn on_wait(&mut self, w: Wait, out: &mut Vec<Record>) {
        if w.reaped == 0 {
            return; // WNOHANG with nothing to collect
        }
        // A waiter inside a container's pid namespace got that namespace's pid back: taking
        // it as global would reap some unrelated process. The release hook (or
        // sched_process_free) reports that reap instead.
        if w.ns_local {
            return;
        }
        let terminated = w.status.map(status_terminated);
        let Some(p) = self.procs.get(&w.reaped) else {
            self.on_wait_for_untracked(&w, terminated, out);
            return;
        };
        let zombie_ns = match (p.zombie_since(), terminated) {
            // A zombie cannot be stopped or continued: such a status is not about it.
            (Some(_), Some(false)) => return,
            (Some(since), _) => Some(w.ktime_ns.saturating_sub(since)),
            // Alive for us, but the status says it terminated: its exit was not seen (lost).
            (None, Some(true)) => None,
            // A stopped/continued child (WUNTRACED/WCONTINUED), or status unreadable.
            (None, _) => return,
        };
        // Not the reap yet: a ptrace tracer that is not the parent gets the zombie back without
        // releasing it (kernel/exit.c wait_task_zombie(): EXIT_TRACE), and the real parent
        // reaps it later. The release (Free) confirms the last wait before it.
        let candidate = WaitCandidate {
            ktime_ns: w.ktime_ns,
            reaper: w.reaper,
            zombie_ns,
        };
        self.note_candidate(w.reaped, candidate);
        self.fire_alert_if_due(w.reaped, w.ktime_ns, out);
    }

    /// A wait for a process never seen (started and exited before the trace, or its events
    /// were lost). Reported when the status says it terminated, unless we already reported its
    /// reap. There is no entry to keep a candidate in nor a start time to match a release
    /// with: the wait is taken as the reap.
    fn on_wait_for_untracked(&mut self, w: &Wait, terminated: Option<bool>, out: &mut Vec<Record>) {
        if terminated != Some(true) || self.recent_reaps.contains(w.reaped) {
            return;
        }
        let record = ReapRecord {
            time: self.clock.wall(w.ktime_ns),
            ktime_ns: w.ktime_ns,
            pid: w.reaped,
            ppid: w.reaper,
            comm: String::new(),
            proc_id: None,
            reaper: Some(w.reaper),
            how: ReapHow::Wait,
            zombie_ns: None,
            zombie_class: None,
            reap_window_ns: None,
            reparented: false,
            place: Default::default(),
        };
        self.reap_untracked(record, out);
    }
}

/// Whether a raw wait status says the child terminated (include/uapi/linux/wait.h):
/// WIFEXITED `(s & 0x7f) == 0`, or WIFSIGNALED `((s & 0x7f) + 1) as i8 >> 1 > 0`.
/// Stopped (`0x7f` low byte) and continued (`0xffff`) statuses are not terminations.
pub(super) fn status_terminated(status: u32) -> bool {
    let exited = status & 0x7f == 0;
    let signaled = (((status & 0x7f) + 1) as u8 as i8) >> 1 > 0;
    exited || signaled
}
