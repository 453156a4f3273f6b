//! The kernel releasing a task: `Free` (sched_process_free, an RCU grace period after
//! release_task()) and `Release` (release_task() itself).

use crate::ingest::event::{Free, Release};
use crate::output::record::{ReapHow, Record};

use super::process::Proc;
use super::reap::Reap;
use super::Engine;

impl Engine {
    pub(super) fn on_free(&mut self, f: Free, out: &mut Vec<Record>) {
        // Only a zombie (or a process a wait returned) of the same incarnation: a live
        // process's Free is the old leader released by de_thread() (a non-leader thread
        // exec'd), and an unknown pid's is a process whose reap we already reported or never
        // knew.
        let Some(p) = self.procs.get_mut(&f.pid) else {
            return;
        };
        let since = p.zombie_since();
        if (since.is_none() && p.waited.is_none()) || !p.same_process(f.start_ns) {
            return;
        }
        let ppid = p.ppid;
        // Released: a wait that returned it is confirmed, the last one (the one that released
        // it; earlier ones were a tracer's or WNOWAIT). See candidates.rs.
        if self.reap_candidate(f.pid, out) {
            return;
        }
        let Some(since) = since else {
            return;
        };
        let reap = Reap {
            pid: f.pid,
            ktime_ns: f.ktime_ns,
            ppid,
            reaper: None,
            how: ReapHow::Release,
            zombie_ns: Some(f.ktime_ns.saturating_sub(since)),
            window_ns: None,
        };
        self.reap_tracked(reap, out);
    }

    /// release_task() seen directly (fentry/kprobe): definitive, exactly timed, with the
    /// releaser, whatever syscall or pid namespace it waited from.
    pub(super) fn on_release(&mut self, r: Release, out: &mut Vec<Record>) {
        let (how, reaper, ppid) = if r.releaser_exiting {
            (ReapHow::Autoreap, None, r.ppid)
        } else {
            (ReapHow::Wait, Some(r.releaser), r.releaser)
        };
        let mut reap = Reap {
            pid: r.pid,
            ktime_ns: r.ktime_ns,
            ppid,
            reaper,
            how,
            zombie_ns: None,
            window_ns: None,
        };
        let known = self
            .procs
            .get_mut(&r.pid)
            .is_some_and(|p| p.same_process(r.start_ns));
        if !known {
            self.on_release_of_untracked(&r, reap, out);
            return;
        }
        reap.zombie_ns = self
            .procs
            .get(&r.pid)
            .and_then(Proc::zombie_since)
            .map(|since| r.ktime_ns.saturating_sub(since));
        self.reap_tracked(reap, out);
    }

    /// A release of a pid without an entry for that process: already reported (an autoreap is
    /// reported at the exit), or the tracked entry is a later process with the same pid, or
    /// never seen (reported, with the `proc_id` the event's start time gives).
    fn on_release_of_untracked(&mut self, r: &Release, reap: Reap, out: &mut Vec<Record>) {
        if self.recent_reaps.contains(r.pid) || self.procs.contains_key(&r.pid) {
            return;
        }
        let p = Proc::new(r.pid, r.start_ns, false, String::new(), r.ppid);
        let record = reap.record(&p, &self.clock, self.alerts.threshold_ns());
        self.reap_untracked(record, out);
    }
}
