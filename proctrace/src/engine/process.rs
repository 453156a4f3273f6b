//! The process table: one entry per tracked process (tgid), alive or a zombie.

use std::collections::hash_map::Entry;

use crate::ingest::event::{ExitStatus, Place};
use crate::output::record::{ProcId, ZombieSource};

use super::alerts::ZombieAlerts;
use super::candidates::{CandidateTimers, WaitCandidate};
use super::owners::{ParentKey, ParentSeen};
use super::usage::Image;
use super::Engine;

/// When a process's start time is approximate (`Fork::start_approx`: the fork time), a later
/// exact `start_ns` within this distance is taken to be the same process.
const APPROX_START_TOLERANCE_NS: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Alive,
    /// Exited at `since_ns`, not reaped yet; `alerted` once its `zombie` record is out.
    Zombie {
        since_ns: u64,
        alerted: bool,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Proc {
    pub(super) proc_id: ProcId,
    pub(super) start_ns: u64,
    pub(super) start_approx: bool,
    pub(super) comm: String,
    /// Current parent (updated by exec and exit events).
    pub(super) ppid: u32,
    /// Parent it was forked from, or first seen with: `reparented` compares the reaper to it.
    pub(super) orig_ppid: u32,
    pub(super) state: State,
    /// How it died, once it has (reported in `zombie` records).
    pub(super) exit_status: Option<ExitStatus>,
    /// Where its zombie state was learnt: the trace, or a /proc scan.
    pub(super) zombie_source: ZombieSource,
    /// When a /proc check first found this zombie gone (released, its release event not
    /// handled yet): see reconcile.rs.
    pub(super) gone_since_ns: Option<u64>,
    /// A thread of its parent's group was blocked in a wait call when it exited (bounded.rs).
    pub(super) parent_waiting_at_exit: bool,
    /// The latest wait that returned it, awaiting confirmation by its release (candidates.rs).
    pub(super) waited: Option<WaitCandidate>,
    /// What its kernel peak RSS covers besides its last image (usage.rs).
    pub(super) image: Image,
    /// The path of its last exec, for the summary's top consumers.
    pub(super) filename: Option<String>,
    /// Where it lives, as of its latest fork, exec or exit event: the zombie and reap records
    /// carry the place captured at exit (the cgroup may be gone by then).
    pub(super) place: Place,
    /// Its parent when its `zombie` record was made (long-lived zombies only): the owner
    /// the summary names, even when that parent is gone by the reap.
    pub(super) parent_at_alert: Option<ParentSeen>,
}

impl Proc {
    pub(super) fn new(
        pid: u32,
        start_ns: u64,
        start_approx: bool,
        comm: String,
        ppid: u32,
    ) -> Self {
        Proc {
            proc_id: ProcId::new(pid, start_ns),
            start_ns,
            start_approx,
            comm,
            ppid,
            orig_ppid: ppid,
            state: State::Alive,
            exit_status: None,
            zombie_source: ZombieSource::Trace,
            gone_since_ns: None,
            parent_waiting_at_exit: false,
            waited: None,
            image: Image::Unknown,
            filename: None,
            place: Place::default(),
            parent_at_alert: None,
        }
    }

    /// Whether an event carrying `start_ns` is about this process (and not a later one that
    /// reuses its pid). 0 means unknown and matches anything. Adopts an exact start time when
    /// the entry's was approximate (its `proc_id` is kept: it must not change).
    pub(super) fn same_process(&mut self, start_ns: u64) -> bool {
        if start_ns == 0 || self.start_ns == 0 || start_ns == self.start_ns {
            return true;
        }
        if self.start_approx && start_ns.abs_diff(self.start_ns) <= APPROX_START_TOLERANCE_NS {
            self.start_ns = start_ns;
            self.start_approx = false;
            return true;
        }
        false
    }

    /// Its parent now is not the one it was forked from, or first seen with.
    pub(super) fn reparented(&self) -> bool {
        self.ppid != self.orig_ppid
    }

    /// Exit time, when the process is a zombie.
    pub(super) fn zombie_since(&self) -> Option<u64> {
        match self.state {
            State::Zombie { since_ns, .. } => Some(since_ns),
            State::Alive => None,
        }
    }

    /// Exit time of a zombie whose alert is still pending (not yet emitted).
    pub(super) fn alert_pending_since(&self) -> Option<u64> {
        match self.state {
            State::Zombie {
                since_ns,
                alerted: false,
            } => Some(since_ns),
            _ => None,
        }
    }

    /// The process exited at `since_ns` (its alert is to be scheduled by the caller).
    pub(super) fn become_zombie(&mut self, since_ns: u64) {
        self.state = State::Zombie {
            since_ns,
            alerted: false,
        };
    }

    /// A /proc scan shows the process as a zombie since (at least) `since_ns`.
    pub(super) fn become_procfs_zombie(&mut self, since_ns: u64, status: Option<ExitStatus>) {
        self.become_zombie(since_ns);
        self.exit_status = status;
        self.zombie_source = ZombieSource::Procfs;
    }

    /// Its `zombie` record is out: no other one. `parent` is its parent then.
    pub(super) fn mark_alerted(&mut self, parent: ParentSeen) {
        self.parent_at_alert = Some(parent);
        if let State::Zombie { since_ns, .. } = self.state {
            self.state = State::Zombie {
                since_ns,
                alerted: true,
            };
        }
    }

    fn view(&self, pid: u32) -> ProcView {
        ProcView {
            pid,
            ppid: self.ppid,
            #[cfg(test)]
            proc_id: self.proc_id,
            start_ns: self.start_ns,
            zombie_since_ns: self.zombie_since(),
            gone_since_ns: self.gone_since_ns,
            waited: self.waited.is_some(),
        }
    }
}

/// A read-only view of a tracked process (for the /proc reconciliation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcView {
    pub pid: u32,
    pub ppid: u32,
    /// Only tests look at it (the reconciliation matches processes by pid and start time).
    #[cfg(test)]
    pub proc_id: ProcId,
    pub start_ns: u64,
    /// Exit time (ktime) when the process is a zombie.
    pub zombie_since_ns: Option<u64>,
    /// See [`Engine::mark_gone`].
    pub gone_since_ns: Option<u64>,
    /// A wait returned it and its release has not confirmed that yet (see
    /// [`Engine::confirm_released`]).
    pub waited: bool,
}

impl Engine {
    /// Every tracked process, in no particular order.
    pub fn processes(&self) -> impl Iterator<Item = ProcView> + '_ {
        self.procs.iter().map(|(&pid, p)| p.view(pid))
    }

    pub fn process(&self, pid: u32) -> Option<ProcView> {
        self.procs.get(&pid).map(|p| p.view(pid))
    }

    /// The entry for `pid` if it is the process with `start_ns`; otherwise (unknown pid, or a
    /// stale entry of an earlier process with the same pid, whose reap we missed) a new entry
    /// made by `make`.
    pub(super) fn entry_for(
        &mut self,
        pid: u32,
        start_ns: u64,
        make: impl FnOnce() -> Proc,
    ) -> &mut Proc {
        match self.procs.entry(pid) {
            Entry::Occupied(mut o) => {
                if !o.get_mut().same_process(start_ns) {
                    let stale = o.insert(make());
                    drop_timers(&mut self.alerts, &mut self.candidate_timers, pid, &stale);
                }
                o.into_mut()
            }
            Entry::Vacant(v) => {
                self.recent_reaps.forget(pid);
                v.insert(make())
            }
        }
    }

    pub(super) fn insert(&mut self, pid: u32, p: Proc) {
        self.recent_reaps.forget(pid);
        if let Some(old) = self.procs.insert(pid, p) {
            drop_timers(&mut self.alerts, &mut self.candidate_timers, pid, &old);
        }
    }

    /// Removes an entry, its pending alert and its wait candidate's timer; returns the entry.
    pub(super) fn remove(&mut self, pid: u32) -> Option<Proc> {
        let p = self.procs.remove(&pid)?;
        drop_timers(&mut self.alerts, &mut self.candidate_timers, pid, &p);
        Some(p)
    }

    pub(super) fn comm_of(&self, pid: u32) -> Option<String> {
        self.procs.get(&pid).map(|p| p.comm.clone())
    }

    /// What is known of the process `pid` as a parent now.
    pub(super) fn parent_seen(&self, pid: u32) -> ParentSeen {
        let parent = self.procs.get(&pid);
        ParentSeen {
            key: ParentKey {
                ppid: pid,
                proc_id: parent.map(|q| q.proc_id),
            },
            comm: parent.map(|q| q.comm.clone()),
        }
    }
}

/// Cancels the timers of an entry that goes: its pending alert, its candidate's confirmation.
fn drop_timers(alerts: &mut ZombieAlerts, timers: &mut CandidateTimers, pid: u32, p: &Proc) {
    if let Some(since_ns) = p.alert_pending_since() {
        alerts.cancel(pid, since_ns);
    }
    if let Some(c) = &p.waited {
        timers.cancel(pid, c);
    }
}

/// Table sizes and filtered views, for tests.
#[cfg(test)]
impl Engine {
    /// Tracked processes (alive + zombie).
    pub fn tracked_count(&self) -> usize {
        self.procs.len()
    }

    pub fn live_count(&self) -> usize {
        self.procs
            .values()
            .filter(|p| p.state == State::Alive)
            .count()
    }

    pub fn zombie_count(&self) -> usize {
        self.procs.len() - self.live_count()
    }

    pub fn zombies(&self) -> impl Iterator<Item = ProcView> + '_ {
        self.processes().filter(|p| p.zombie_since_ns.is_some())
    }

    pub fn live(&self) -> impl Iterator<Item = ProcView> + '_ {
        self.processes().filter(|p| p.zombie_since_ns.is_none())
    }
}
