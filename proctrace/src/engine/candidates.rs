//! Wait candidates: on the wait fallback (no `release_task` hook) a wait that returns a zombie
//! is not taken as its reap, only as a candidate; the release confirms it.
//!
//! A wait can return a pid without releasing it (kernel/exit.c):
//! - a ptrace tracer that is not the real parent: wait_task_zombie() moves a
//!   `ptrace_reparented()` leader to EXIT_TRACE, detaches and leaves it EXIT_ZOMBIE for its
//!   real parent (`do_notify_parent()`), which reaps it later;
//! - `waitid(WNOWAIT)` (the kernel side already drops those at `sys_enter_waitid`).
//!
//! So a `Wait` only records a [`WaitCandidate`] in the process's entry (the latest one wins),
//! and the reap is confirmed by the release:
//! - `Free` (sched_process_free, an RCU grace period after release_task()) of the same process
//!   (pid and start time): the reap is reported with the time, reaper and zombie time of the
//!   *last* wait that returned the process before it, the one that released it (`how: wait`);
//!   a `Free` without a candidate stays a `how: release` reap timed at the `Free`;
//! - a /proc check finding the process gone ([`Engine::confirm_released`]): released, its
//!   `Free` lost or still on its way;
//! - a candidate from the process's parent still unconfirmed [`CONFIRM_TIMEOUT_NS`] after its
//!   wait, or when the trace ends (the summary): a wait by the parent releases the child unless
//!   WNOWAIT (dropped by the kernel side), so it is the reap whose `Free` was lost (or, at the
//!   end, will never be traced). A candidate from anyone else (a tracer) is never confirmed
//!   without a release: that process is still a zombie.
//!
//! The zombie alert of a process whose parent's wait is pending confirmation is deferred until
//! [`ALERT_GRACE_NS`] after that wait (see `alerts.rs`): the `Free` is normally milliseconds
//! away, and the zombie was reaped before its threshold.
//!
//! Races (both need the releasing waiter to be preempted for milliseconds between
//! release_task() and its syscall exit, where its `Wait` is recorded): a `Free` handled before
//! the releasing `Wait` confirms the last wait seen before it (a tracer's, if any) or, without
//! one, is a `how: release` reap, and the late `Wait` is recognised as already reaped
//! (`recent_reaps`); a /proc check in that window confirms the same way.
//!
//! Candidates live in the process entries, so they go with them (reap, forget, pid reuse);
//! their timers (one per candidate) are removed with them: memory is bounded by the process
//! table. With the `release_task` hook there are no `Wait` events: `Release` is the reap.

use std::collections::BTreeSet;

use crate::output::record::{ReapHow, Record};

use super::reap::Reap;
use super::Engine;

/// A candidate from the process's parent is confirmed without its release after this long.
pub(super) const CONFIRM_TIMEOUT_NS: u64 = 5_000_000_000;

/// How long after its parent's wait a due zombie alert is held back for the release to
/// confirm that wait: a few RCU grace periods, generously (300 ms was seen to be too short
/// for sched_process_free under load, see reconcile.rs).
pub(super) const ALERT_GRACE_NS: u64 = 500_000_000;

/// The latest wait that returned a process, not yet confirmed as its reap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct WaitCandidate {
    pub(super) ktime_ns: u64,
    /// The waiting process (tgid; any of its threads may have waited).
    pub(super) reaper: u32,
    /// Zombie time up to this wait, when the exit was seen.
    pub(super) zombie_ns: Option<u64>,
}

/// One timer per candidate: (due, pid), due `CONFIRM_TIMEOUT_NS` after the wait.
#[derive(Default)]
pub(super) struct CandidateTimers {
    due: BTreeSet<(u64, u32)>,
}

impl CandidateTimers {
    fn due_of(c: &WaitCandidate) -> u64 {
        c.ktime_ns.saturating_add(CONFIRM_TIMEOUT_NS)
    }

    fn schedule(&mut self, pid: u32, c: &WaitCandidate) {
        self.due.insert((Self::due_of(c), pid));
    }

    pub(super) fn cancel(&mut self, pid: u32, c: &WaitCandidate) {
        self.due.remove(&(Self::due_of(c), pid));
    }

    pub(super) fn next_due(&self) -> Option<u64> {
        self.due.first().map(|&(due, _)| due)
    }

    fn pop_due(&mut self, now: u64) -> Option<u32> {
        let &(due, _) = self.due.first()?;
        if due > now {
            return None;
        }
        self.due.pop_first().map(|(_, pid)| pid)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.due.len()
    }
}

impl Engine {
    /// A wait returned the tracked process `pid`: it becomes the process's candidate (replacing
    /// an earlier one).
    pub(super) fn note_candidate(&mut self, pid: u32, c: WaitCandidate) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if let Some(old) = p.waited.replace(c) {
            self.candidate_timers.cancel(pid, &old);
        }
        self.candidate_timers.schedule(pid, &c);
    }

    /// Reaps `pid` as its candidate says, if it has one: returns whether it did.
    pub(super) fn reap_candidate(&mut self, pid: u32, out: &mut Vec<Record>) -> bool {
        let Some(c) = self.procs.get(&pid).and_then(|p| p.waited) else {
            return false;
        };
        let reap = Reap {
            pid,
            ktime_ns: c.ktime_ns,
            ppid: c.reaper,
            reaper: Some(c.reaper),
            how: ReapHow::Wait,
            zombie_ns: c.zombie_ns,
            window_ns: None,
        };
        self.reap_tracked(reap, out);
        true
    }

    /// `pid`'s candidate if it is a wait by its parent (which releases it, WNOWAIT aside).
    fn parent_waited(&self, pid: u32) -> Option<WaitCandidate> {
        let p = self.procs.get(&pid)?;
        p.waited.filter(|c| c.reaper == p.ppid)
    }

    /// Confirms the parents' candidates unconfirmed for `CONFIRM_TIMEOUT_NS` by `now`.
    pub(super) fn expire_candidates(&mut self, now: u64, out: &mut Vec<Record>) {
        while let Some(pid) = self.candidate_timers.pop_due(now) {
            // A timer outlives nothing: it is removed with its candidate. A tracer's candidate
            // just loses its timer and waits for the release.
            if self.parent_waited(pid).is_some() {
                self.reap_candidate(pid, out);
            }
        }
    }

    /// The end of the trace: every parent's candidate is a reap whose release will not be
    /// traced any more.
    pub(super) fn confirm_parent_candidates(&mut self, out: &mut Vec<Record>) {
        let mut pids: Vec<(u64, u32)> = self
            .procs
            .keys()
            .filter_map(|&pid| self.parent_waited(pid).map(|c| (c.ktime_ns, pid)))
            .collect();
        pids.sort_unstable();
        for (_, pid) in pids {
            self.reap_candidate(pid, out);
        }
    }

    /// The alert of the zombie `pid` (exited at `since_ns`) is due at `deadline`: when its
    /// parent's wait before that deadline awaits confirmation, the time until which to hold
    /// the alert back.
    pub(super) fn alert_grace_until(&self, pid: u32, deadline: u64) -> Option<u64> {
        let c = self.parent_waited(pid)?;
        (c.ktime_ns < deadline).then(|| c.ktime_ns.saturating_add(ALERT_GRACE_NS))
    }

    /// A /proc check found the tracked process `pid` gone although a wait returned it: it has
    /// been released (its `Free` lost, or not handled yet). Reaps it as its candidate says;
    /// the record comes out with the next entry point's. Returns whether there was a candidate.
    pub fn confirm_released(&mut self, pid: u32) -> bool {
        let mut out = Vec::new();
        let reaped = self.reap_candidate(pid, &mut out);
        self.held.extend(out);
        reaped
    }
}

#[cfg(test)]
impl Engine {
    /// Pending candidate timers.
    pub fn candidate_timers_len(&self) -> usize {
        self.candidate_timers.len()
    }
}
