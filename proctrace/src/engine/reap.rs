//! What every reap does, whichever event reported it: the `reap` record, the zombie time in
//! the percentiles, the process forgotten and the reap remembered (see `recent_reaps`).

use crate::output::record::{Clock, ReapHow, ReapRecord, Record, ZombieClass};

use super::owners::{OwnedZombie, Owners};
use super::process::Proc;
use super::Engine;

/// One reap, as reported by an event (the process itself aside).
#[derive(Clone, Copy, Debug)]
pub(super) struct Reap {
    pub(super) pid: u32,
    pub(super) ktime_ns: u64,
    /// The parent at the reap (for a wait, the waiter).
    pub(super) ppid: u32,
    /// Who reaped it, when a waiter did.
    pub(super) reaper: Option<u32>,
    pub(super) how: ReapHow,
    /// Time spent as a zombie, when its exit time is known.
    pub(super) zombie_ns: Option<u64>,
    /// When `ktime_ns` is placed, not seen: how much later the reap may have been.
    pub(super) window_ns: Option<u64>,
}

impl Reap {
    /// The `reap` record of `p`; `threshold_ns` sets its zombie class.
    pub(super) fn record(&self, p: &Proc, clock: &Clock, threshold_ns: u64) -> ReapRecord {
        ReapRecord {
            time: clock.wall(self.ktime_ns),
            ktime_ns: self.ktime_ns,
            pid: self.pid,
            ppid: self.ppid,
            comm: p.comm.clone(),
            proc_id: Some(p.proc_id),
            reaper: self.reaper,
            how: self.how,
            zombie_ns: self.zombie_ns,
            zombie_class: self.zombie_ns.map(|z| ZombieClass::of(z, threshold_ns)),
            reap_window_ns: self.window_ns,
            reparented: self.ppid != p.orig_ppid,
            place: p.place.fields(),
        }
    }
}

impl Engine {
    /// Reaps the tracked process `reap.pid`: removes its entry (and pending alert), counts its
    /// zombie time, remembers the reap and emits its record.
    pub(super) fn reap_tracked(&mut self, reap: Reap, out: &mut Vec<Record>) {
        let Some(p) = self.remove(reap.pid) else {
            return;
        };
        if let Some(z) = reap.zombie_ns {
            self.zombie_hist.record(z);
            if z >= self.alerts.threshold_ns() {
                // Out of `self` while the process table is read.
                let mut owners = std::mem::take(&mut self.owners);
                self.tally_owner(&mut owners, &p, z, true);
                self.owners = owners;
            }
        }
        let record = reap.record(&p, &self.clock, self.alerts.threshold_ns());
        self.recent_reaps.note(reap.pid, reap.ktime_ns);
        self.push(Record::Reap(record), out);
    }

    /// Counts `p`, a long-lived zombie, for its parent (as its alert saw it, else as now)
    /// and its container.
    pub(super) fn tally_owner(&self, owners: &mut Owners, p: &Proc, zombie_ns: u64, reaped: bool) {
        let now = p
            .parent_at_alert
            .is_none()
            .then(|| self.parent_seen(p.ppid));
        let parent = p.parent_at_alert.as_ref().or(now.as_ref());
        if let Some(parent) = parent {
            owners.add(&OwnedZombie {
                parent,
                container_id: p.place.container_id.as_ref(),
                zombie_ns,
                reaped,
            });
        }
    }

    /// Emits the reap of a process without an entry, and remembers it (a second report of it
    /// is then not another reap).
    pub(super) fn reap_untracked(&mut self, record: ReapRecord, out: &mut Vec<Record>) {
        self.recent_reaps.note(record.pid, record.ktime_ns);
        self.push(Record::Reap(record), out);
    }
}
