//! Zombie alerts: a zombie still unreaped `zombie_threshold_ns` after its exit gets one `zombie`
//! record, when the first entry point called at or after that deadline runs. An alert due
//! while the parent's wait awaits confirmation by the release is deferred by a grace (see
//! candidates.rs).

use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt as _};

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
        // Counted once for the batch (a scan of the table), only when an alert fires: no
        // zombie is reaped while the batch is made.
        let mut census: Option<HashMap<u32, u32>> = None;
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
            let census = census.get_or_insert_with(|| self.zombies_per_parent());
            self.alert(pid, now, since_ns, census, out);
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
        let census = self.zombies_per_parent();
        self.alert(pid, now, since_ns, &census, out);
    }

    /// Emits the one `zombie` record of the tracked zombie `pid` (its pending alert already
    /// taken or cancelled by the caller), and keeps who its parent was: a parent that dies
    /// before the zombie is reaped is still the owner the summary names.
    pub(super) fn alert(
        &mut self,
        pid: u32,
        now: u64,
        since_ns: u64,
        census: &HashMap<u32, u32>,
        out: &mut Vec<Record>,
    ) {
        let Some(ppid) = self.procs.get(&pid).map(|p| p.ppid) else {
            return;
        };
        let parent = self.parent_seen(ppid);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.mark_alerted(parent);
        }
        let record = self.zombie_record(pid, now, since_ns, census);
        self.push(record, out);
    }

    /// The `zombie` record of the tracked zombie `pid`, aged at `now`; `census` counts the
    /// unreaped zombies of each parent (this one included).
    fn zombie_record(
        &self,
        pid: u32,
        now: u64,
        since_ns: u64,
        census: &HashMap<u32, u32>,
    ) -> Record {
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
            parent_comm: p.parent_at_alert.as_ref().and_then(|a| a.comm.clone()),
            source: p.zombie_source,
            exit_code: status.and_then(|s| s.code),
            signal: status.and_then(|s| s.signal),
            core_dumped: status.is_some_and(|s| s.core_dumped),
            reparented: p.reparented(),
            siblings_unreaped: siblings(census, p.ppid),
            diagnosis: None,
            place: p.place.fields(),
        })
    }

    /// Unreaped zombies by parent pid.
    pub(super) fn zombies_per_parent(&self) -> HashMap<u32, u32> {
        let mut census = HashMap::new();
        for p in self.procs.values().filter(|p| p.zombie_since().is_some()) {
            *census.entry(p.ppid).or_insert(0) += 1;
        }
        census
    }
}

/// The other unreaped zombies of `ppid`'s, given a census that counts the one asking.
pub(super) fn siblings(census: &HashMap<u32, u32>, ppid: u32) -> u32 {
    census.get(&ppid).map_or(0, |n| n.saturating_sub(1))
}

#[cfg(test)]
impl Engine {
    /// Zombie alerts not yet due.
    pub fn pending_alerts(&self) -> usize {
        self.alerts.pending.len()
    }
}
