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
//! - `Release` (release_task() hooked): the reap itself → `how: wait` (or `autoreap`);
//! - `Wait` + `Free` (the fallback): a wait-family syscall returning the zombie is only a
//!   candidate (a ptrace tracer's wait or WNOWAIT returns it without releasing it); the `Free`
//!   of that process confirms it, and the reap is the last wait before it, in the reaper's
//!   context → `how: wait` (see `candidates`);
//! - `FreeWaits` (`--reap-timing bounded`, no syscall tracepoint): the release names the
//!   reaper, and the reap is placed from its wait calls and whether it was already waiting at
//!   the exit → `how: wait`, with `reap_window_ns` (see `bounded`);
//! - `Exit{autoreap}`: the parent ignores SIGCHLD/SA_NOCLDWAIT → `how: autoreap`, zombie_ns 0;
//! - `Free` of a zombie no wait returned: released without a wait we saw (e.g. waited for
//!   from another pid namespace, where wait returns another pid number) → `how: release`;
//!   zombie_ns is an upper bound (sched_process_free fires an RCU grace period after
//!   release_task()).
//!
//! Entries are removed at the reap, so memory is bounded by the live + zombie processes seen.
//! A zombie that stays unreaped for `zombie_threshold_ns` gets one `zombie` record, emitted by
//! [`Engine::tick`] (or by [`Engine::handle`] when an event's time is past the deadline: every
//! `long_lived` reap of a process whose exit was seen is preceded by its `zombie` record).
//!
//! Processes started before the trace (or whose fork was lost) are created from the first event
//! that names them; events carry the kernel's `start_boottime`, so `proc_id` and `lifetime_ns`
//! are right for them too.
//!
//! # Layout
//! - this file: [`Engine`], its configuration and entry points, event dispatch;
//! - `process`: the process table (one `Proc` per tracked tgid);
//! - `fork`, `exec`, `exit`, `wait`, `release`, `bounded`: one handler per kernel event;
//! - `candidates`: waits awaiting confirmation by the release, and their timers;
//! - `reap`: what every reap does (the `reap` record, forgetting the process);
//! - `alerts`: the pending `zombie` alerts and their records;
//! - `recent_reaps`: reaps remembered to recognise a second report of the same reap;
//! - `seed`, `healing`: adopting /proc's view (seeding at start, corrections after a check);
//! - `summary`: the `summary` record; `histogram`: zombie-time percentiles; `owners`:
//!   long-lived zombies by parent and container.
//! - `gauges`: figures of the process table (by state, zombies by container) for the
//!   metrics.

mod alerts;
mod bounded;
mod candidates;
mod consumers;
pub mod diagnosis;
mod exec;
mod exit;
mod fork;
mod gauges;
mod healing;
mod histogram;
mod owners;
mod process;
mod reap;
mod recent_reaps;
mod release;
mod seed;
mod summary;
#[cfg(test)]
mod tests;
mod usage;
mod wait;

use foldhash::{HashMap, HashMapExt as _};

use crate::ingest::event::KernelEvent;
use crate::output::record::{Clock, Counts, LostCauses, LostRecord, Record};
use alerts::ZombieAlerts;
use candidates::CandidateTimers;
use consumers::Consumers;
use histogram::LogHistogram;
use owners::Owners;
use process::Proc;
use recent_reaps::RecentReaps;

pub use gauges::{ContainerZombieGauge, TableGauges};
pub use seed::SeedProcess;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Zombies at least this old get a `zombie` record and reap as `long_lived`.
    pub zombie_threshold_ns: u64,
    pub clock: Clock,
    /// Entries in each list of the summary's `top` (`--top`).
    pub top: usize,
}

pub struct Engine {
    clock: Clock,
    /// The process table: tgid → its entry, for every live or zombie process seen.
    procs: HashMap<u32, Proc>,
    alerts: ZombieAlerts,
    /// Confirmation timers of the wait candidates (candidates.rs).
    candidate_timers: CandidateTimers,
    /// Records made outside an entry point (a reap confirmed by a /proc check), emitted by the
    /// next one; already counted.
    held: Vec<Record>,
    recent_reaps: RecentReaps,
    counts: Counts,
    lost_total: u64,
    lost_causes: LostCauses,
    /// When the latest loss was noticed.
    last_lost_ns: Option<u64>,
    zombie_hist: LogHistogram,
    first_ktime_ns: Option<u64>,
    consumers: Consumers,
    /// Long-lived reaps by parent and container, for the summary.
    owners: Owners,
    top: usize,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            clock: config.clock,
            procs: HashMap::new(),
            alerts: ZombieAlerts::new(config.zombie_threshold_ns),
            candidate_timers: CandidateTimers::default(),
            held: Vec::new(),
            recent_reaps: RecentReaps::default(),
            counts: Counts::default(),
            lost_total: 0,
            lost_causes: LostCauses::default(),
            last_lost_ns: None,
            zombie_hist: LogHistogram::new(),
            first_ktime_ns: None,
            consumers: Consumers::default(),
            owners: Owners::default(),
            top: config.top,
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
            KernelEvent::FreeWaits(f) => self.on_free_waits(f, out),
            KernelEvent::Release(r) => self.on_release(r, out),
        }
    }

    /// Emits the `zombie` records whose threshold has been crossed by `now_ktime_ns`. Call it at
    /// [`Engine::next_deadline`], after draining the events already in the ring buffer (so a
    /// reap that happened before the deadline is seen first).
    pub fn tick(&mut self, now_ktime_ns: u64, out: &mut Vec<Record>) {
        self.advance(now_ktime_ns, out);
        self.recent_reaps.expire(now_ktime_ns);
    }

    /// Kernel time at which the earliest pending zombie alert (or wait-candidate timeout, see
    /// candidates.rs) is due.
    pub fn next_deadline(&self) -> Option<u64> {
        let alert = self.alerts.next_deadline();
        let confirm = self.candidate_timers.next_due();
        alert.into_iter().chain(confirm).min()
    }

    /// Losses (or damage, see [`LostCauses`]) noticed at `ktime_ns`.
    pub fn lost(&mut self, causes: LostCauses, ktime_ns: u64, out: &mut Vec<Record>) {
        // Damage without loss (a field left unread) is reported too, with `count` 0.
        if causes.is_empty() {
            return;
        }
        let count = causes.total();
        self.observe(ktime_ns);
        out.append(&mut self.held);
        self.expire_candidates(ktime_ns, out);
        self.lost_total = self.lost_total.saturating_add(count);
        self.lost_causes.add(&causes);
        self.last_lost_ns = Some(ktime_ns);
        let time = self.clock.wall(ktime_ns);
        // Before the zombie alerts that are due by now (unlike `advance`): the loss happened
        // earlier than it was noticed, and a lost reap is what leaves such a zombie
        // unexplained. The reader must learn of the loss first.
        self.push(
            Record::Lost(LostRecord {
                time,
                ktime_ns,
                count,
                causes,
            }),
            out,
        );
        self.fire_alerts(ktime_ns, out);
    }

    /// Appends a record built elsewhere (the daemon's `start` record, later /proc findings) so
    /// that it is counted in the summary.
    pub fn emit(&mut self, record: Record, out: &mut Vec<Record>) {
        self.advance(record.ktime_ns(), out);
        self.push(record, out);
    }

    /// Emits the `summary` record (after any zombie alerts due by `now_ktime_ns`): see
    /// `summary.rs` for what it holds.
    pub fn summary(&mut self, now_ktime_ns: u64, out: &mut Vec<Record>) {
        self.wind_up(now_ktime_ns, out);
        let record = self.summary_record(now_ktime_ns);
        self.push(record, out);
    }

    /// The records the end of tracing makes, before the summary (which calls it too; a second
    /// call at the same time adds nothing): the alerts due by `now_ktime_ns`, and the reaps of
    /// the parents' waits, since no release will be traced any more.
    pub fn wind_up(&mut self, now_ktime_ns: u64, out: &mut Vec<Record>) {
        self.advance(now_ktime_ns, out);
        self.confirm_parent_candidates(out);
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every entry point first emits the zombie alerts due by its time, so that records come out
    /// in time order; before them, the records held since the last one and the reaps of wait
    /// candidates that timed out (so that they get no alert).
    fn advance(&mut self, now: u64, out: &mut Vec<Record>) {
        self.observe(now);
        out.append(&mut self.held);
        self.expire_candidates(now, out);
        self.fire_alerts(now, out);
    }

    fn observe(&mut self, ktime_ns: u64) {
        self.first_ktime_ns = Some(self.first_ktime_ns.map_or(ktime_ns, |t| t.min(ktime_ns)));
    }

    /// Emits a record, counting it for the summary.
    fn push(&mut self, record: Record, out: &mut Vec<Record>) {
        self.counts.bump(record.record_type());
        out.push(record);
    }
}

/// Totals, for tests.
#[cfg(test)]
impl Engine {
    /// Records emitted so far, per type.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Total events lost.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }
}
