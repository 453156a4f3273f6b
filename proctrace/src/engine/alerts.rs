//! Zombie alerts: a zombie still unreaped `zombie_threshold_ns` after its exit gets one `zombie`
//! record, when the first entry point called at or after that deadline runs. An alert due
//! while the parent's wait awaits confirmation by the release is deferred by a grace (see
//! candidates.rs).

use std::collections::{BTreeSet, HashMap};

use crate::output::record::{Record, ZombieRecord};

use super::process::Proc;
use super::Engine;

/// The pending alerts, ordered by deadline.
pub(super) struct ZombieAlerts {
    threshold_ns: u64,
    /// (deadline ktime, pid); one per unalerted zombie, removed at its alert, its reap, or when
    /// its entry is replaced.
    pending: BTreeSet<(u64, u32)>,
    /// pid → the later time its alert was moved to (its entry in `pending` then has that time).
    deferred: HashMap<u32, u64>,
}

impl ZombieAlerts {
    pub(super) fn new(threshold_ns: u64) -> Self {
        ZombieAlerts {
            threshold_ns,
            pending: BTreeSet::new(),
            deferred: HashMap::new(),
        }
    }

    /// Zombies at least this old are `long_lived`.
    pub(super) fn threshold_ns(&self) -> u64 {
        self.threshold_ns
    }

    /// When the alert of a zombie that exited at `since_ns` is due.
    pub(super) fn deadline(&self, since_ns: u64) -> u64 {
        since_ns.saturating_add(self.threshold_ns)
    }

    pub(super) fn schedule(&mut self, pid: u32, since_ns: u64) {
        self.pending.insert((self.deadline(since_ns), pid));
    }

    pub(super) fn cancel(&mut self, pid: u32, since_ns: u64) {
        self.pending.remove(&(self.deadline(since_ns), pid));
        if let Some(until) = self.deferred.remove(&pid) {
            self.pending.remove(&(until, pid));
        }
    }

    /// Whether a popped entry (due at `at`) is the live alert of the zombie `pid` that exited
    /// at `since_ns`, and not a stale one.
    fn is_current(&self, pid: u32, since_ns: u64, at: u64) -> bool {
        match self.deferred.get(&pid) {
            Some(&until) => until == at,
            None => self.deadline(since_ns) == at,
        }
    }

    /// Moves the alert of `pid` (just popped) to `until`.
    fn defer(&mut self, pid: u32, until: u64) {
        self.deferred.insert(pid, until);
        self.pending.insert((until, pid));
    }

    pub(super) fn next_deadline(&self) -> Option<u64> {
        self.pending.first().map(|&(deadline, _)| deadline)
    }

    /// Takes the earliest alert if it is due by `now`: (deadline, pid).
    fn pop_due(&mut self, now: u64) -> Option<(u64, u32)> {
        let &(deadline, _) = self.pending.first()?;
        if deadline > now {
            return None;
        }
        self.pending.pop_first()
    }
}

impl Engine {
    /// Emits the `zombie` record of every alert due by `now`.
    pub(super) fn fire_alerts(&mut self, now: u64, out: &mut Vec<Record>) {
        while let Some((at, pid)) = self.alerts.pop_due(now) {
            let Some(since_ns) = self.procs.get(&pid).and_then(Proc::alert_pending_since) else {
                continue;
            };
            if !self.alerts.is_current(pid, since_ns, at) {
                continue;
            }
            let deadline = self.alerts.deadline(since_ns);
            if let Some(until) = self.alert_grace_until(pid, deadline) {
                if until > now {
                    self.alerts.defer(pid, until);
                    continue;
                }
            }
            self.alerts.deferred.remove(&pid);
            if let Some(p) = self.procs.get_mut(&pid) {
                p.mark_alerted();
            }
            let record = self.zombie_record(pid, now, since_ns);
            self.push(record, out);
        }
    }

    /// Emits the alert of `pid` at `now` if it is due and no longer held back: a new wait
    /// candidate at or after the threshold ends a grace that an earlier wait started, so that a
    /// `long_lived` reap is never without its alert.
    pub(super) fn fire_alert_if_due(&mut self, pid: u32, now: u64, out: &mut Vec<Record>) {
        let Some(since_ns) = self.procs.get(&pid).and_then(Proc::alert_pending_since) else {
            return;
        };
        let deadline = self.alerts.deadline(since_ns);
        if deadline > now
            || self
                .alert_grace_until(pid, deadline)
                .is_some_and(|u| u > now)
        {
            return;
        }
        self.alerts.cancel(pid, since_ns);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.mark_alerted();
        }
        let record = self.zombie_record(pid, now, since_ns);
        self.push(record, out);
    }

    /// The `zombie` record of the tracked zombie `pid`, aged at `now`.
    pub(super) fn zombie_record(&self, pid: u32, now: u64, since_ns: u64) -> Record {
        let p = &self.procs[&pid];
        let status = p.exit_status;
        Record::Zombie(ZombieRecord {
            time: self.clock.wall(now),
            ktime_ns: now,
            pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            proc_id: p.proc_id,
            zombie_ns: now.saturating_sub(since_ns),
            parent_comm: self.comm_of(p.ppid),
            source: p.zombie_source,
            exit_code: status.and_then(|s| s.code),
            signal: status.and_then(|s| s.signal),
            core_dumped: status.is_some_and(|s| s.core_dumped),
            place: p.place.fields(),
        })
    }
}

#[cfg(test)]
impl Engine {
    /// Zombie alerts not yet due.
    pub fn pending_alerts(&self) -> usize {
        self.alerts.pending.len()
    }
}
