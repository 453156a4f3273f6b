//! The `summary` record: counts of the records emitted so far (not counting the summary),
//! zombie-time percentiles over the reaps with a known `zombie_ns`, the zombies still unreaped
//! (oldest first) and the time since the first thing the engine saw.

use crate::output::record::{
    ContainerZombies, ParentZombies, Record, SummaryRecord, Unreaped, ZombieStats,
};

use super::alerts::siblings;
use super::Engine;

impl Engine {
    pub(super) fn summary_record(&self, now_ktime_ns: u64) -> Record {
        let duration_ns = self
            .first_ktime_ns
            .map_or(0, |t| now_ktime_ns.saturating_sub(t));
        let (zombies_by_parent, zombies_by_container) = self.zombie_owners(now_ktime_ns);
        Record::Summary(SummaryRecord {
            time: self.clock.wall(now_ktime_ns),
            ktime_ns: now_ktime_ns,
            counts: self.counts,
            lost: self.lost_total,
            lost_causes: self.lost_causes,
            zombie_ns: self.zombie_stats(),
            unreaped: self.unreaped(now_ktime_ns),
            zombies_by_parent,
            zombies_by_container,
            duration_ns,
            top: self.consumers.top(self.top),
        })
    }

    fn zombie_stats(&self) -> ZombieStats {
        let h = &self.zombie_hist;
        ZombieStats {
            p50: h.quantile(0.50),
            p99: h.quantile(0.99),
            max: h.max(),
            count: h.count(),
        }
    }

    /// The zombies still unreaped at `now_ktime_ns`, oldest first (then by pid).
    fn unreaped(&self, now_ktime_ns: u64) -> Vec<Unreaped> {
        let census = self.zombies_per_parent();
        let mut unreaped: Vec<Unreaped> = self
            .procs
            .iter()
            .filter_map(|(&pid, p)| {
                let since = p.zombie_since()?;
                Some(Unreaped {
                    pid,
                    proc_id: p.proc_id,
                    comm: p.comm.clone(),
                    ppid: p.ppid,
                    parent_comm: self.comm_of(p.ppid),
                    zombie_ns: now_ktime_ns.saturating_sub(since),
                    container_id: p.place.container_id.clone(),
                    siblings_unreaped: siblings(&census, p.ppid),
                    reparented: p.reparented(),
                    diagnosis: None,
                })
            })
            .collect();
        unreaped.sort_by(|a, b| b.zombie_ns.cmp(&a.zombie_ns).then(a.pid.cmp(&b.pid)));
        unreaped
    }

    /// The long-lived reaps tallied so far plus the zombies unreaped at `now_ktime_ns` (as
    /// long-lived, whatever their age: they outlived the trace), grouped by owner.
    fn zombie_owners(&self, now_ktime_ns: u64) -> (Vec<ParentZombies>, Vec<ContainerZombies>) {
        let mut owners = self.owners.clone();
        for p in self.procs.values() {
            if let Some(since) = p.zombie_since() {
                self.tally_owner(&mut owners, p, now_ktime_ns.saturating_sub(since), false);
            }
        }
        owners.top(self.top)
    }
}
