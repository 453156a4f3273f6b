//! Healing after a /proc check (see reconcile.rs): adopt /proc's truth without records, or
//! report a seeded zombie at once.

use crate::ingest::event::ExitStatus;
use crate::output::record::Record;

use super::process::State;
use super::Engine;

impl Engine {
    /// Emits the `zombie` records of seeded zombies at once (`source: "procfs"`), instead of
    /// waiting for their threshold: they were zombies before proctrace started.
    pub fn report_zombies_now(&mut self, pids: &[u32], now: u64, out: &mut Vec<Record>) {
        self.advance(now, out);
        let census = self.zombies_per_parent();
        for &pid in pids {
            let Some(p) = self.procs.get(&pid) else {
                continue;
            };
            let Some(since_ns) = p.zombie_since() else {
                continue;
            };
            if p.alert_pending_since().is_some() {
                self.alerts.cancel(pid, since_ns);
            }
            self.alert(pid, now, since_ns, &census, out);
        }
    }

    /// Stops tracking `pid` (it is gone: its exit or reap was missed).
    pub fn forget(&mut self, pid: u32) {
        self.remove(pid);
    }

    /// Notes that /proc no longer shows the zombie `pid` (from `ns` on, if not noted before).
    pub fn mark_gone(&mut self, pid: u32, ns: u64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.gone_since_ns.get_or_insert(ns);
        }
    }

    /// When the latest loss of events was noticed.
    pub fn last_lost_ns(&self) -> Option<u64> {
        self.last_lost_ns
    }

    /// The process's parent changed without an event (reparenting when its parent died).
    pub fn set_ppid(&mut self, pid: u32, ppid: u32) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.ppid = ppid;
        }
    }

    /// /proc says `pid` is a zombie though its exit was not seen: its clock starts at `since`
    /// (a lower bound) and its alert, if due, says `source: "procfs"`.
    pub fn mark_zombie(&mut self, pid: u32, since_ns: u64, status: Option<ExitStatus>) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.zombie_since().is_some() {
            return;
        }
        p.become_procfs_zombie(since_ns, status);
        self.alerts.schedule(pid, since_ns);
    }

    /// /proc says `pid` is alive though we took it for a zombie.
    pub fn mark_alive(&mut self, pid: u32) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if let Some(since_ns) = p.alert_pending_since() {
            self.alerts.cancel(pid, since_ns);
        }
        // Nor was a wait that returned it its reap.
        if let Some(c) = p.waited.take() {
            self.candidate_timers.cancel(pid, &c);
        }
        p.state = State::Alive;
    }

    /// When `pid` was reaped, if that was recently (within the recent-reap memory).
    pub fn reaped_at(&self, pid: u32) -> Option<u64> {
        self.recent_reaps.reaped_at(pid)
    }
}
