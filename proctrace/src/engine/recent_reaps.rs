//! Recently reaped pids, remembered so that a second report of the same reap (a `Wait` after
//! the `Free` that already reaped it, a `Wait` after the `Release` or after a /proc check
//! confirmed it) is not reported as the reap of an unknown process.

use std::collections::VecDeque;

use foldhash::HashMap;

/// How long a reap is remembered (and at most `RECENT_REAPS_MAX` of them).
pub(super) const RECENT_REAP_TTL_NS: u64 = 10_000_000_000;
pub(super) const RECENT_REAPS_MAX: usize = 4096;

#[derive(Default)]
pub(super) struct RecentReaps {
    /// pid → ktime of its reap, for pids reaped within `RECENT_REAP_TTL_NS`.
    by_pid: HashMap<u32, u64>,
    /// (pid, ktime) in reap order, oldest first; may hold entries no longer in `by_pid`.
    order: VecDeque<(u32, u64)>,
}

impl RecentReaps {
    pub(super) fn note(&mut self, pid: u32, ktime_ns: u64) {
        self.by_pid.insert(pid, ktime_ns);
        self.order.push_back((pid, ktime_ns));
        while self.order.len() > RECENT_REAPS_MAX {
            self.pop_oldest();
        }
    }

    /// Forgets the reaps older than `RECENT_REAP_TTL_NS` at `now`.
    pub(super) fn expire(&mut self, now: u64) {
        while let Some(&(_, t)) = self.order.front() {
            if now.saturating_sub(t) < RECENT_REAP_TTL_NS {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((pid, t)) = self.order.pop_front() {
            if self.by_pid.get(&pid) == Some(&t) {
                self.by_pid.remove(&pid);
            }
        }
    }

    pub(super) fn contains(&self, pid: u32) -> bool {
        self.by_pid.contains_key(&pid)
    }

    /// When `pid` was reaped, if that was recently.
    pub(super) fn reaped_at(&self, pid: u32) -> Option<u64> {
        self.by_pid.get(&pid).copied()
    }

    /// `pid` names a tracked process again: a report about it is not about the old reap.
    pub(super) fn forget(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// (remembered pids, queued reaps)
    #[cfg(test)]
    pub(super) fn sizes(&self) -> (usize, usize) {
        (self.by_pid.len(), self.order.len())
    }
}

#[cfg(test)]
impl super::Engine {
    pub(super) fn recent_reaps_len(&self) -> (usize, usize) {
        self.recent_reaps.sizes()
    }
}
