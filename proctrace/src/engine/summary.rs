//! The `summary` record: counts of the records emitted so far (not counting the summary),
//! zombie-time percentiles over the reaps with a known `zombie_ns`, the zombies still unreaped
//! (oldest first) and the time since the first thing the engine saw.

use crate::output::record::{Record, SummaryRecord, Unreaped, ZombieStats};

use super::Engine;

impl Engine {
    pub(super) fn summary_record(&self, now_ktime_ns: u64) -> Record {
        let duration_ns = self
            .first_ktime_ns
            .map_or(0, |t| now_ktime_ns.saturating_sub(t));
        Record::Summary(SummaryRecord {
            time: self.clock.wall(now_ktime_ns),
            ktime_ns: now_ktime_ns,
            counts: self.counts,
            lost: self.lost_total,
            lost_causes: self.lost_causes,
            zombie_ns: self.zombie_stats(),
            unreaped: self.unreaped(now_ktime_ns),
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
                })
            })
            .collect();
        unreaped.sort_by(|a, b| b.zombie_ns.cmp(&a.zombie_ns).then(a.pid.cmp(&b.pid)));
        unreaped
    }
}
