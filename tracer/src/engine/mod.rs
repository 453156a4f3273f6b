//! The process-lifecycle engine: a pure state machine from decoded kernel events to records.
//!
//! No I/O, no clocks: the caller passes every event ([`Engine::handle`]), every loss
//! ([`Engine::lost`]) and the current kernel boot time ([`Engine::tick`]); records are appended
//! to a caller-owned `Vec`.
//!
//! # Model
//! One entry per process (tgid) that is alive or a zombie. A process is a zombie from its `Exit`
//! (the kernel emits it only for `group_dead`, i.e. when the last thread is gone, so a group
//! leader that exits before its threads is not yet a zombie) until its reap:
//! - `Wait`: a wait-family syscall returned the zombie in the reaper's context → `how: wait`;
//! - `Exit{autoreap}`: the parent ignores SIGCHLD/SA_NOCLDWAIT → `how: autoreap`, zombie_ns 0;
//! - `Free` of a zombie: released without a wait we saw (e.g. waited for from another pid
//!   namespace, where wait returns another pid number) → `how: release`; zombie_ns is an upper
//!   bound (sched_process_free fires an RCU grace period after release_task()).
//!
//! Entries are removed at the reap, so memory is bounded by the live + zombie processes seen.
//! A zombie that stays unreaped for `zombie_threshold_ns` gets one `zombie` record, emitted by
//! [`Engine::tick`] (or by [`Engine::handle`] when an event's time is past the deadline: every
//! `long_lived` reap of a process whose exit was seen is preceded by its `zombie` record).
//!
//! Processes started before the trace (or whose fork was lost) are created from the first event
//! that names them; events carry the kernel's `start_boottime`, so `proc_id` and `lifetime_ns`
//! are right for them too.

mod histogram;
#[cfg(test)]
mod tests;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::event::{Exec, Exit, ExitStatus, Fork, Free, KernelEvent, Release, Wait};
use crate::record::{
    proc_id, Clock, Counts, ExecRecord, ExitRecord, ForkRecord, LostCauses, LostRecord, ReapHow,
    ReapRecord, Record, SummaryRecord, Unreaped, ZombieClass, ZombieRecord, ZombieSource,
    ZombieStats,
};
use histogram::LogHistogram;

/// When a process's start time is approximate (`Fork::start_approx`: the fork time), a later
/// exact `start_ns` within this distance is taken to be the same process.
const APPROX_START_TOLERANCE_NS: u64 = 1_000_000_000;

/// Recently reaped pids are remembered this long (and at most `RECENT_REAPS_MAX` of them) so
/// that a second report of the same reap (a `Wait` after the `Free` that already reaped it, or
/// a `waitid(WNOWAIT)` peek followed by the real wait) is not reported as the reap of an
/// unknown process.
const RECENT_REAP_TTL_NS: u64 = 10_000_000_000;
const RECENT_REAPS_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Zombies at least this old get a `zombie` record and reap as `long_lived`.
    pub zombie_threshold_ns: u64,
    pub clock: Clock,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Alive,
    Zombie { since_ns: u64, alerted: bool },
}

#[derive(Clone, Debug)]
struct Proc {
    proc_id: String,
    start_ns: u64,
    start_approx: bool,
    comm: String,
    uid: u32,
    /// Current parent (updated by exec and exit events).
    ppid: u32,
    /// Parent it was forked from, or first seen with: `reparented` compares the reaper to it.
    orig_ppid: u32,
    state: State,
    /// How it died, once it has (reported in `zombie` records).
    exit_status: Option<ExitStatus>,
    /// Where its zombie state was learnt: the trace, or a /proc scan.
    zombie_source: ZombieSource,
    /// When a /proc check first found this zombie gone (released, its release event not
    /// handled yet): see reconcile.rs.
    gone_since_ns: Option<u64>,
}

impl Proc {
    fn new(pid: u32, start_ns: u64, start_approx: bool, comm: String, uid: u32, ppid: u32) -> Self {
        Proc {
            proc_id: proc_id(pid, start_ns),
            start_ns,
            start_approx,
            comm,
            uid,
            ppid,
            orig_ppid: ppid,
            state: State::Alive,
            exit_status: None,
            zombie_source: ZombieSource::Trace,
            gone_since_ns: None,
        }
    }

    /// Whether an event carrying `start_ns` is about this process (and not a later one that
    /// reuses its pid). 0 means unknown and matches anything. Adopts an exact start time when
    /// the entry's was approximate (its `proc_id` is kept: it must not change).
    fn same_process(&mut self, start_ns: u64) -> bool {
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

    #[allow(dead_code)] // used by the accessors
    fn view(&self, pid: u32) -> ProcView<'_> {
        ProcView {
            pid,
            ppid: self.ppid,
            comm: &self.comm,
            proc_id: &self.proc_id,
            uid: self.uid,
            start_ns: self.start_ns,
            zombie_since_ns: self.zombie_since(),
            gone_since_ns: self.gone_since_ns,
        }
    }

    fn zombie_since(&self) -> Option<u64> {
        match self.state {
            State::Zombie { since_ns, .. } => Some(since_ns),
            State::Alive => None,
        }
    }
}

/// A read-only view of a tracked process (for a later /proc reconciliation).
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcView<'a> {
    pub pid: u32,
    pub ppid: u32,
    pub comm: &'a str,
    pub proc_id: &'a str,
    pub uid: u32,
    pub start_ns: u64,
    /// Exit time (ktime) when the process is a zombie.
    pub zombie_since_ns: Option<u64>,
    /// See [`Engine::mark_gone`].
    pub gone_since_ns: Option<u64>,
}

pub struct Engine {
    threshold_ns: u64,
    clock: Clock,
    procs: HashMap<u32, Proc>,
    /// Pending zombie alerts, (deadline ktime, pid); one per unalerted zombie, removed at its
    /// alert, its reap, or when its entry is replaced.
    alerts: BTreeSet<(u64, u32)>,
    /// pid → ktime of its reap, for pids reaped within `RECENT_REAP_TTL_NS` (see there).
    recent_reaps: HashMap<u32, u64>,
    recent_order: VecDeque<(u32, u64)>,
    counts: Counts,
    lost_total: u64,
    lost_causes: LostCauses,
    /// When the latest loss was noticed.
    last_lost_ns: Option<u64>,
    zombie_hist: LogHistogram,
    first_ktime_ns: Option<u64>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            threshold_ns: config.zombie_threshold_ns,
            clock: config.clock,
            procs: HashMap::new(),
            alerts: BTreeSet::new(),
            recent_reaps: HashMap::new(),
            recent_order: VecDeque::new(),
            counts: Counts::default(),
            lost_total: 0,
            lost_causes: LostCauses::default(),
            last_lost_ns: None,
            zombie_hist: LogHistogram::new(),
            first_ktime_ns: None,
        }
    }

    /// Processes one decoded kernel event. Zombie alerts due by the event's time are emitted
    /// first (so are they by `lost`, `emit` and `summary`).
    pub fn handle(&mut self, ev: KernelEvent, out: &mut Vec<Record>) {
        self.advance(ev.ktime_ns(), out);
        match ev {
            KernelEvent::Fork(f) => self.on_fork(f, out),
            KernelEvent::Exec(e) => self.on_exec(e, out),
            KernelEvent::Exit(x) => self.on_exit(x, out),
            KernelEvent::Wait(w) => self.on_wait(w, out),
            KernelEvent::Free(f) => self.on_free(f, out),
            KernelEvent::Release(r) => self.on_release(r, out),
        }
    }

    /// Emits the `zombie` records whose threshold has been crossed by `now_ktime_ns`. Call it at
    /// [`Engine::next_deadline`], after draining the events already in the ring buffer (so a
    /// reap that happened before the deadline is seen first).
    pub fn tick(&mut self, now_ktime_ns: u64, out: &mut Vec<Record>) {
        self.advance(now_ktime_ns, out);
        self.expire_recent_reaps(now_ktime_ns);
    }

    /// Kernel time at which the earliest pending zombie alert is due.
    pub fn next_deadline(&self) -> Option<u64> {
        self.alerts.first().map(|&(deadline, _)| deadline)
    }

    /// `count` events were dropped (ring buffer full), noticed at `ktime_ns`.
    pub fn lost(&mut self, causes: LostCauses, ktime_ns: u64, out: &mut Vec<Record>) {
        let count = causes.total();
        if count == 0 {
            return;
        }
        self.advance(ktime_ns, out);
        self.lost_total = self.lost_total.saturating_add(count);
        self.lost_causes.add(&causes);
        self.last_lost_ns = Some(ktime_ns);
        let time = self.clock.wall(ktime_ns);
        self.push(
            Record::Lost(LostRecord {
                time,
                ktime_ns,
                count,
                causes,
            }),
            out,
        );
    }

    /// Appends a record built elsewhere (the daemon's `start` record, later /proc findings) so
    /// that it is counted in the summary.
    pub fn emit(&mut self, record: Record, out: &mut Vec<Record>) {
        self.advance(record.ktime_ns(), out);
        self.push(record, out);
    }

    /// Emits the `summary` record (after any zombie alerts due by `now_ktime_ns`): counts of the
    /// records emitted so far (not counting the
    /// summary), zombie-time percentiles over the reaps with a known `zombie_ns`, the zombies
    /// still unreaped (oldest first) and the time since the first thing the engine saw.
    pub fn summary(&mut self, now_ktime_ns: u64, out: &mut Vec<Record>) {
        self.advance(now_ktime_ns, out);
        let h = &self.zombie_hist;
        let zombie_ns = ZombieStats {
            p50: h.quantile(0.50),
            p99: h.quantile(0.99),
            max: h.max(),
            count: h.count(),
        };
        let mut unreaped: Vec<Unreaped> = self
            .procs
            .iter()
            .filter_map(|(&pid, p)| {
                let since = p.zombie_since()?;
                Some(Unreaped {
                    pid,
                    proc_id: p.proc_id.clone(),
                    comm: p.comm.clone(),
                    ppid: p.ppid,
                    parent_comm: self.comm_of(p.ppid),
                    zombie_ns: now_ktime_ns.saturating_sub(since),
                })
            })
            .collect();
        unreaped.sort_by(|a, b| b.zombie_ns.cmp(&a.zombie_ns).then(a.pid.cmp(&b.pid)));
        let duration_ns = self
            .first_ktime_ns
            .map_or(0, |t| now_ktime_ns.saturating_sub(t));
        let record = Record::Summary(SummaryRecord {
            time: self.clock.wall(now_ktime_ns),
            ktime_ns: now_ktime_ns,
            counts: self.counts,
            lost: self.lost_total,
            lost_causes: self.lost_causes,
            zombie_ns,
            unreaped,
            duration_ns,
        });
        self.push(record, out);
    }

    // ---- event handlers --------------------------------------------------------------------

    fn on_fork(&mut self, f: Fork, out: &mut Vec<Record>) {
        // A fork for a tracked pid: the old entry is stale (its reap was not seen) → replace.
        self.remove(f.pid);
        let parent_proc_id = if f.parent_start_ns != 0 {
            Some(proc_id(f.ppid, f.parent_start_ns))
        } else {
            self.procs.get(&f.ppid).map(|p| p.proc_id.clone())
        };
        let p = Proc::new(f.pid, f.start_ns, f.start_approx, f.comm, f.uid, f.ppid);
        let record = Record::Fork(ForkRecord {
            time: self.clock.wall(f.ktime_ns),
            ktime_ns: f.ktime_ns,
            pid: f.pid,
            ppid: f.ppid,
            comm: p.comm.clone(),
            proc_id: p.proc_id.clone(),
            parent_proc_id,
            uid: f.uid,
        });
        self.insert(f.pid, p);
        self.push(record, out);
    }

    fn on_exec(&mut self, e: Exec, out: &mut Vec<Record>) {
        let p = self.entry_for(e.pid, e.start_ns, || {
            Proc::new(e.pid, e.start_ns, false, e.comm.clone(), e.uid, e.ppid)
        });
        p.comm.clone_from(&e.comm);
        p.ppid = e.ppid;
        p.uid = e.uid;
        let proc_id = p.proc_id.clone();
        let record = Record::Exec(ExecRecord {
            time: self.clock.wall(e.ktime_ns),
            ktime_ns: e.ktime_ns,
            pid: e.pid,
            ppid: e.ppid,
            comm: e.comm,
            proc_id,
            filename: e.filename,
            argv: e.argv,
            argv_truncated: e.argv_truncated,
            old_pid: e.old_pid,
            uid: e.uid,
        });
        self.push(record, out);
    }

    fn on_exit(&mut self, x: Exit, out: &mut Vec<Record>) {
        let (clock, threshold) = (self.clock, self.threshold_ns);
        let p = self.entry_for(x.pid, x.start_ns, || {
            Proc::new(x.pid, x.start_ns, false, x.comm.clone(), x.uid, x.ppid)
        });
        if p.zombie_since().is_some() {
            // Already dead: a duplicate group_dead report (older kernels). Ignore.
            return;
        }
        if !x.comm.is_empty() {
            p.comm.clone_from(&x.comm); // the group leader's comm (prctl may have changed it)
        }
        p.ppid = x.ppid; // after a reparenting: the new parent
        p.uid = x.uid;
        p.exit_status = Some(x.status);
        let ExitStatus {
            code,
            signal,
            core_dumped,
        } = x.status;
        let exit = Record::Exit(ExitRecord {
            time: clock.wall(x.ktime_ns),
            ktime_ns: x.ktime_ns,
            pid: x.pid,
            ppid: x.ppid,
            comm: p.comm.clone(),
            proc_id: p.proc_id.clone(),
            exit_code: code,
            signal,
            core_dumped,
            lifetime_ns: x.ktime_ns.saturating_sub(p.start_ns),
            uid: x.uid,
        });
        if x.autoreap {
            // Released by exit_notify() at once: no zombie period, no waiter.
            let zombie_ns = Some(0);
            let reap = reap_record(
                &clock,
                threshold,
                x.pid,
                p,
                x.ktime_ns,
                x.ppid,
                None,
                ReapHow::Autoreap,
                zombie_ns,
            );
            self.push(exit, out);
            self.finish_reap(x.pid, x.ktime_ns, zombie_ns, reap, out);
        } else {
            p.state = State::Zombie {
                since_ns: x.ktime_ns,
                alerted: false,
            };
            self.alerts
                .insert((x.ktime_ns.saturating_add(threshold), x.pid));
            self.push(exit, out);
        }
    }

    fn on_wait(&mut self, w: Wait, out: &mut Vec<Record>) {
        if w.reaped == 0 {
            return; // WNOHANG with nothing to collect
        }
        // A waiter inside a container's pid namespace got that namespace's pid back: taking
        // it as global would reap some unrelated process. The release hook (or
        // sched_process_free) reports that reap instead.
        if w.ns_local {
            return;
        }
        let terminated = w.status.map(status_terminated);
        let Some(p) = self.procs.get(&w.reaped) else {
            // Never seen (started and exited before the trace, or its events were lost).
            // Reported when the status says it terminated, unless we already reported its reap.
            if terminated == Some(true) && !self.recent_reaps.contains_key(&w.reaped) {
                let reap = Record::Reap(ReapRecord {
                    time: self.clock.wall(w.ktime_ns),
                    ktime_ns: w.ktime_ns,
                    pid: w.reaped,
                    ppid: w.reaper,
                    comm: String::new(),
                    proc_id: None,
                    reaper: Some(w.reaper),
                    how: ReapHow::Wait,
                    zombie_ns: None,
                    zombie_class: None,
                    reparented: false,
                });
                self.note_reaped(w.reaped, w.ktime_ns);
                self.push(reap, out);
            }
            return;
        };
        let zombie_ns = match (p.zombie_since(), terminated) {
            // A zombie cannot be stopped or continued: such a status is not about it.
            (Some(_), Some(false)) => return,
            (Some(since), _) => Some(w.ktime_ns.saturating_sub(since)),
            // Alive for us, but the status says it terminated: its exit was not seen (lost).
            (None, Some(true)) => None,
            // A stopped/continued child (WUNTRACED/WCONTINUED), or status unreadable.
            (None, _) => return,
        };
        let reap = reap_record(
            &self.clock,
            self.threshold_ns,
            w.reaped,
            p,
            w.ktime_ns,
            w.reaper,
            Some(w.reaper),
            ReapHow::Wait,
            zombie_ns,
        );
        self.finish_reap(w.reaped, w.ktime_ns, zombie_ns, reap, out);
    }

    fn on_free(&mut self, f: Free, out: &mut Vec<Record>) {
        // Only a zombie of the same incarnation: a live process's Free is the old leader
        // released by de_thread() (a non-leader thread exec'd), and an unknown pid's is a
        // process whose reap we already reported or never knew.
        let (clock, threshold) = (self.clock, self.threshold_ns);
        let Some(p) = self.procs.get_mut(&f.pid) else {
            return;
        };
        let Some(since) = p.zombie_since() else {
            return;
        };
        if !p.same_process(f.start_ns) {
            return;
        }
        let zombie_ns = Some(f.ktime_ns.saturating_sub(since));
        let reap = reap_record(
            &clock,
            threshold,
            f.pid,
            p,
            f.ktime_ns,
            p.ppid,
            None,
            ReapHow::Release,
            zombie_ns,
        );
        self.finish_reap(f.pid, f.ktime_ns, zombie_ns, reap, out);
    }

    /// release_task() seen directly (fentry/kprobe): definitive, exactly timed, with the
    /// releaser, whatever syscall or pid namespace it waited from.
    fn on_release(&mut self, r: Release, out: &mut Vec<Record>) {
        let (how, reaper, ppid) = if r.releaser_exiting {
            (ReapHow::Autoreap, None, r.ppid)
        } else {
            (ReapHow::Wait, Some(r.releaser), r.releaser)
        };
        let (clock, threshold) = (self.clock, self.threshold_ns);
        let known = match self.procs.get_mut(&r.pid) {
            Some(p) => p.same_process(r.start_ns),
            None => false,
        };
        if !known {
            // Already reported (an autoreap is reported at the exit), or never seen.
            if self.recent_reaps.contains_key(&r.pid) || self.procs.contains_key(&r.pid) {
                return;
            }
            let p = Proc::new(r.pid, r.start_ns, false, String::new(), 0, r.ppid);
            let reap = reap_record(
                &clock, threshold, r.pid, &p, r.ktime_ns, ppid, reaper, how, None,
            );
            self.note_reaped(r.pid, r.ktime_ns);
            self.push(reap, out);
            return;
        }
        let Some(p) = self.procs.get(&r.pid) else {
            return;
        };
        let zombie_ns = p
            .zombie_since()
            .map(|since| r.ktime_ns.saturating_sub(since));
        let reap = reap_record(
            &clock, threshold, r.pid, p, r.ktime_ns, ppid, reaper, how, zombie_ns,
        );
        self.finish_reap(r.pid, r.ktime_ns, zombie_ns, reap, out);
    }

    // ---- helpers ---------------------------------------------------------------------------

    fn finish_reap(
        &mut self,
        pid: u32,
        ktime_ns: u64,
        zombie_ns: Option<u64>,
        reap: Record,
        out: &mut Vec<Record>,
    ) {
        self.remove(pid);
        if let Some(z) = zombie_ns {
            self.zombie_hist.record(z);
        }
        self.note_reaped(pid, ktime_ns);
        self.push(reap, out);
    }

    /// The entry for `pid` if it is the process with `start_ns`; otherwise (unknown pid, or a
    /// stale entry of an earlier process with the same pid, whose reap we missed) a new entry
    /// made by `make`.
    fn entry_for(&mut self, pid: u32, start_ns: u64, make: impl FnOnce() -> Proc) -> &mut Proc {
        match self.procs.entry(pid) {
            Entry::Occupied(mut o) => {
                if !o.get_mut().same_process(start_ns) {
                    let stale = o.insert(make());
                    if let State::Zombie {
                        since_ns,
                        alerted: false,
                    } = stale.state
                    {
                        self.alerts
                            .remove(&(since_ns.saturating_add(self.threshold_ns), pid));
                    }
                }
                o.into_mut()
            }
            Entry::Vacant(v) => {
                self.recent_reaps.remove(&pid);
                v.insert(make())
            }
        }
    }

    fn insert(&mut self, pid: u32, p: Proc) {
        self.recent_reaps.remove(&pid);
        self.procs.insert(pid, p);
    }

    /// Removes an entry and its pending alert.
    fn remove(&mut self, pid: u32) {
        if let Some(p) = self.procs.remove(&pid) {
            if let State::Zombie {
                since_ns,
                alerted: false,
            } = p.state
            {
                self.alerts.remove(&(self.deadline(since_ns), pid));
            }
        }
    }

    fn deadline(&self, since_ns: u64) -> u64 {
        since_ns.saturating_add(self.threshold_ns)
    }

    fn fire_alerts(&mut self, now: u64, out: &mut Vec<Record>) {
        while let Some(&(deadline, pid)) = self.alerts.first() {
            if deadline > now {
                break;
            }
            self.alerts.pop_first();
            let Some(p) = self.procs.get_mut(&pid) else {
                continue;
            };
            let State::Zombie {
                since_ns,
                alerted: false,
            } = p.state
            else {
                continue;
            };
            if since_ns.saturating_add(self.threshold_ns) != deadline {
                continue;
            }
            p.state = State::Zombie {
                since_ns,
                alerted: true,
            };
            let record = self.zombie_record(pid, now, since_ns);
            self.push(record, out);
        }
    }

    /// The `zombie` record of the tracked zombie `pid`, aged at `now`.
    fn zombie_record(&self, pid: u32, now: u64, since_ns: u64) -> Record {
        let p = &self.procs[&pid];
        let status = p.exit_status;
        Record::Zombie(ZombieRecord {
            time: self.clock.wall(now),
            ktime_ns: now,
            pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            proc_id: p.proc_id.clone(),
            zombie_ns: now.saturating_sub(since_ns),
            parent_comm: self.comm_of(p.ppid),
            source: p.zombie_source,
            exit_code: status.and_then(|s| s.code),
            signal: status.and_then(|s| s.signal),
            core_dumped: status.is_some_and(|s| s.core_dumped),
        })
    }

    fn comm_of(&self, pid: u32) -> Option<String> {
        self.procs.get(&pid).map(|p| p.comm.clone())
    }

    fn note_reaped(&mut self, pid: u32, ktime_ns: u64) {
        self.recent_reaps.insert(pid, ktime_ns);
        self.recent_order.push_back((pid, ktime_ns));
        while self.recent_order.len() > RECENT_REAPS_MAX {
            self.pop_recent();
        }
    }

    fn expire_recent_reaps(&mut self, now: u64) {
        while let Some(&(_, t)) = self.recent_order.front() {
            if now.saturating_sub(t) < RECENT_REAP_TTL_NS {
                break;
            }
            self.pop_recent();
        }
    }

    fn pop_recent(&mut self) {
        if let Some((pid, t)) = self.recent_order.pop_front() {
            if self.recent_reaps.get(&pid) == Some(&t) {
                self.recent_reaps.remove(&pid);
            }
        }
    }

    /// Every entry point first emits the zombie alerts due by its time, so that records come out
    /// in time order.
    fn advance(&mut self, now: u64, out: &mut Vec<Record>) {
        self.observe(now);
        self.fire_alerts(now, out);
    }

    fn observe(&mut self, ktime_ns: u64) {
        self.first_ktime_ns = Some(self.first_ktime_ns.map_or(ktime_ns, |t| t.min(ktime_ns)));
    }

    fn push(&mut self, record: Record, out: &mut Vec<Record>) {
        self.counts.bump(record.record_type());
        out.push(record);
    }

    #[cfg(test)]
    fn recent_reaps_len(&self) -> (usize, usize) {
        (self.recent_reaps.len(), self.recent_order.len())
    }
}

/// Accessors, for the daemon and the /proc reconciliation (not all used yet).
#[allow(dead_code)]
impl Engine {
    /// Records emitted so far, per type.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Total events lost.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    pub fn zombie_threshold_ns(&self) -> u64 {
        self.threshold_ns
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

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

    /// Zombie alerts not yet due.
    pub fn pending_alerts(&self) -> usize {
        self.alerts.len()
    }

    /// Every tracked process, in no particular order.
    pub fn processes(&self) -> impl Iterator<Item = ProcView<'_>> + '_ {
        self.procs.iter().map(|(&pid, p)| p.view(pid))
    }

    pub fn zombies(&self) -> impl Iterator<Item = ProcView<'_>> + '_ {
        self.processes().filter(|p| p.zombie_since_ns.is_some())
    }

    pub fn live(&self) -> impl Iterator<Item = ProcView<'_>> + '_ {
        self.processes().filter(|p| p.zombie_since_ns.is_none())
    }

    pub fn process(&self, pid: u32) -> Option<ProcView<'_>> {
        self.procs.get(&pid).map(|p| p.view(pid))
    }

    /// Adopts a process found elsewhere (a /proc scan) without emitting anything; a zombie gets
    /// its alert scheduled from `zombie_since_ns`. Returns false (and changes nothing) when the
    /// pid is already tracked.
    pub fn seed_process(&mut self, seed: SeedProcess) -> bool {
        if self.procs.contains_key(&seed.pid) {
            return false;
        }
        let mut p = Proc::new(
            seed.pid,
            seed.start_ns,
            seed.start_approx,
            seed.comm,
            seed.uid,
            seed.ppid,
        );
        if let Some(since_ns) = seed.zombie_since_ns {
            p.state = State::Zombie {
                since_ns,
                alerted: false,
            };
            p.exit_status = seed.exit_status;
            p.zombie_source = ZombieSource::Procfs;
            self.alerts.insert((self.deadline(since_ns), seed.pid));
        }
        self.recent_reaps.remove(&seed.pid);
        self.procs.insert(seed.pid, p);
        true
    }
}

/// A process found outside the trace (see [`Engine::seed_process`]).
#[allow(dead_code)] // for the /proc reconciliation
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedProcess {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub uid: u32,
    pub start_ns: u64,
    /// `start_ns` is /proc's starttime (clock ticks): the first exact start time from the
    /// trace is adopted (see `Proc::same_process`) while `proc_id` stays.
    pub start_approx: bool,
    pub zombie_since_ns: Option<u64>,
    /// /proc/<pid>/stat `exit_code` of a zombie.
    pub exit_status: Option<ExitStatus>,
}

/// Healing after a /proc check (see reconcile.rs): adopt /proc's truth without records.
impl Engine {
    /// Emits the `zombie` record of a seeded zombie at once (`source: "procfs"`), instead of
    /// waiting for its threshold: it was a zombie before proctrace started.
    pub fn report_zombie_now(&mut self, pid: u32, now: u64, out: &mut Vec<Record>) {
        self.advance(now, out);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let State::Zombie { since_ns, alerted } = p.state else {
            return;
        };
        p.state = State::Zombie {
            since_ns,
            alerted: true,
        };
        if !alerted {
            self.alerts.remove(&(self.deadline(since_ns), pid));
        }
        let record = self.zombie_record(pid, now, since_ns);
        self.push(record, out);
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
        let deadline = self.deadline(since_ns);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.zombie_since().is_some() {
            return;
        }
        p.state = State::Zombie {
            since_ns,
            alerted: false,
        };
        p.exit_status = status;
        p.zombie_source = ZombieSource::Procfs;
        self.alerts.insert((deadline, pid));
    }

    /// /proc says `pid` is alive though we took it for a zombie.
    pub fn mark_alive(&mut self, pid: u32) {
        let threshold = self.threshold_ns;
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if let State::Zombie {
            since_ns,
            alerted: false,
        } = p.state
        {
            self.alerts
                .remove(&(since_ns.saturating_add(threshold), pid));
        }
        p.state = State::Alive;
    }

    /// When `pid` was reaped, if that was recently (within the recent-reap memory).
    pub fn reaped_at(&self, pid: u32) -> Option<u64> {
        self.recent_reaps.get(&pid).copied()
    }
}

/// A `reap` record for the tracked process `p`.
#[allow(clippy::too_many_arguments)]
fn reap_record(
    clock: &Clock,
    threshold_ns: u64,
    pid: u32,
    p: &Proc,
    ktime_ns: u64,
    ppid: u32,
    reaper: Option<u32>,
    how: ReapHow,
    zombie_ns: Option<u64>,
) -> Record {
    Record::Reap(ReapRecord {
        time: clock.wall(ktime_ns),
        ktime_ns,
        pid,
        ppid,
        comm: p.comm.clone(),
        proc_id: Some(p.proc_id.clone()),
        reaper,
        how,
        zombie_ns,
        zombie_class: zombie_ns.map(|z| ZombieClass::of(z, threshold_ns)),
        reparented: ppid != p.orig_ppid,
    })
}

/// Whether a raw wait status says the child terminated (include/uapi/linux/wait.h):
/// WIFEXITED `(s & 0x7f) == 0`, or WIFSIGNALED `((s & 0x7f) + 1) as i8 >> 1 > 0`.
/// Stopped (`0x7f` low byte) and continued (`0xffff`) statuses are not terminations.
pub fn status_terminated(status: u32) -> bool {
    let exited = status & 0x7f == 0;
    let signaled = (((status & 0x7f) + 1) as u8 as i8) >> 1 > 0;
    exited || signaled
}
