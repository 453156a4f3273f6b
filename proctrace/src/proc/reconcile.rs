//! Agreement with /proc: seeding the engine from a start-up snapshot, and the periodic
//! `proc_check` that compares the engine's live and zombie sets with a fresh snapshot,
//! reports the discrepancies and heals them. Pure: snapshots come in, records go out
//! (reading /proc lives in procscan.rs).
//!
//! Races: /proc is read over a span of time while processes come and go. The daemon drains
//! the ring buffer *after* the read ends, so every event up to then has been consumed when
//! we compare. A difference is then only a discrepancy if no event after `began_ns` (when the
//! read started) explains it: a process forked or reaped during the read, or whose state
//! changed during it, is not reported.
use std::collections::{HashMap, HashSet};

use crate::{
    engine::{Engine, SeedProcess},
    ingest::event::{ExitStatus, KernelEvent},
    output::record::{CheckReason, Discrepancies, ProcCheckRecord, Record},
};

/// One process as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub uid: u32,
    /// /proc/<pid>/stat `starttime`, in ns (clock-tick resolution).
    pub start_ns: u64,
    /// A process zombie: state `Z` with no thread left (a group leader that exited before its
    /// other threads shows `Z` too, while `num_threads` still counts them: that is alive).
    pub zombie: bool,
    /// The kernel is ending it: `PF_EXITING` set (do_exit() sets it before the exit
    /// tracepoint fires, and the task shows `R`/`D` until exit_notify() makes it a zombie).
    pub exiting: bool,
    /// /proc/<pid>/stat `exit_code` (the raw wait status) of a zombie.
    pub exit_status: Option<u32>,
}

/// A read of /proc, with the kernel boot time at its start and end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub began_ns: u64,
    pub ended_ns: u64,
    /// ns per clock tick: /proc start times are truncated to it (fs/proc/array.c
    /// do_task_stat: `nsec_to_clock_t(task->start_boottime)`).
    pub tick_ns: u64,
    pub procs: Vec<ProcEntry>,
}

impl Snapshot {
    /// Whether the read found `pid` as the process that started at `trace_start_ns`.
    pub fn shows(&self, pid: u32, trace_start_ns: u64) -> bool {
        self.procs
            .iter()
            .any(|p| p.pid == pid && self.same_start(p.start_ns, trace_start_ns))
    }

    /// Whether a trace start time (exact, or the fork time) is this /proc start time.
    fn same_start(&self, proc_start_ns: u64, trace_start_ns: u64) -> bool {
        // Truncation puts the exact time in [proc, proc + tick); the fork-time approximation
        // of the classic hooks adds microseconds. Two ticks of slack cover both.
        proc_start_ns.abs_diff(trace_start_ns) <= 2 * self.tick_ns.max(1)
    }
}

/// Seeds the engine with the start-up snapshot. `pending` are the events the kernel programs
/// recorded between attaching and the end of the read, not yet handled: a zombie whose exit
/// is among them is seeded alive, so that its traced exit makes it a zombie (with an exact
/// clock) instead of a `procfs` one. Returns (seeded processes, zombies to report now).
pub fn seed(engine: &mut Engine, snap: &Snapshot, pending: &[KernelEvent]) -> (u64, Vec<u32>) {
    let traced_exits: HashSet<u32> = pending
        .iter()
        .filter_map(|e| match e {
            KernelEvent::Exit(x) => Some(x.pid),
            _ => None,
        })
        .collect();
    let mut seeded = 0;
    let mut zombies = Vec::new();
    for p in &snap.procs {
        let zombie = p.zombie && !traced_exits.contains(&p.pid);
        let added = engine.seed_process(SeedProcess {
            pid: p.pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            uid: p.uid,
            start_ns: p.start_ns,
            start_approx: true,
            // It died before we looked: counting from the end of the read is a lower bound.
            zombie_since_ns: zombie.then_some(snap.ended_ns),
            exit_status: p.exit_status.map(ExitStatus::from_raw),
        });
        if added {
            seeded += 1;
            if zombie {
                zombies.push(p.pid);
            }
        }
    }
    zombies.sort_unstable();
    (seeded, zombies)
}

/// A check whose first pass found candidates: they are confirmed by a second, targeted read
/// after [`SETTLE_NS`], so that events still on their way (a release seen only through the
/// RCU-delayed `sched_process_free`, an autoreaped task not yet unhashed) settle first.
#[derive(Clone, Debug)]
pub struct PendingCheck {
    pub reason: CheckReason,
    checked: u64,
    scan_ns: u64,
    /// Pids to read again.
    pub candidates: Vec<u32>,
}

/// How long candidates settle before the confirming read: well over an RCU grace period,
/// even on a loaded or emulated machine (under TCG or at load 10 on two cores, 300 ms was
/// seen to be too short for sched_process_free).
pub const SETTLE_NS: u64 = 1_000_000_000;

/// How long a zombie may be gone from /proc before its release event is given up on and it is
/// reported `missing`: lazy RCU (CONFIG_RCU_LAZY) holds callbacks for up to 10 s.
const RELEASE_WAIT_NS: u64 = 30_000_000_000;

/// First pass: compares the engine with `snap` (every event up to the end of the read already
/// handled). With no candidate the check is complete and its record is returned; otherwise
/// the daemon reads the candidates again after [`SETTLE_NS`] and calls [`finish`].
pub fn begin(
    engine: &mut Engine,
    snap: &Snapshot,
    reason: CheckReason,
    now: u64,
) -> Result<Record, PendingCheck> {
    let (findings, adopt) = compare(engine, snap, None);
    let in_proc: HashSet<u32> = snap.procs.iter().map(|p| p.pid).collect();
    let checked = engine
        .processes()
        .map(|v| v.pid)
        .chain(in_proc.iter().copied())
        .collect::<HashSet<_>>()
        .len() as u64;
    for h in &adopt {
        apply(engine, h, snap.ended_ns);
    }
    let scan_ns = snap.ended_ns.saturating_sub(snap.began_ns);
    let mut candidates: Vec<u32> = findings.iter().map(|f| f.pid).collect();
    candidates.sort_unstable();
    candidates.dedup();
    let pending = PendingCheck {
        reason,
        checked,
        scan_ns,
        candidates,
    };
    if pending.candidates.is_empty() {
        return Ok(record(engine, &pending, &[], now));
    }
    Err(pending)
}

/// Second pass: the candidates compared again against `snap` (a read of just those pids);
/// what is still wrong is reported and healed to /proc's truth.
pub fn finish(engine: &mut Engine, pending: &PendingCheck, snap: &Snapshot, now: u64) -> Record {
    let only: HashSet<u32> = pending.candidates.iter().copied().collect();
    let (findings, adopt) = compare(engine, snap, Some(&only));
    for h in findings.iter().flat_map(|f| &f.heal).chain(&adopt) {
        apply(engine, h, snap.ended_ns);
    }
    record(engine, pending, &findings, now)
}

/// Both passes at once, for a caller with no time to wait (tests, and the lost-event path
/// when nothing is pending).
#[cfg(test)]
pub fn check(engine: &mut Engine, snap: &Snapshot, reason: CheckReason, now: u64) -> Record {
    match begin(engine, snap, reason, now) {
        Ok(record) => record,
        Err(pending) => finish(engine, &pending, snap, now),
    }
}

fn record(engine: &Engine, pending: &PendingCheck, findings: &[Finding], now: u64) -> Record {
    let mut missing = Discrepancies::default();
    let mut unknown = Discrepancies::default();
    let mut mismatched = Discrepancies::default();
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.pid);
    for f in sorted {
        match f.kind {
            Kind::Missing => missing.add(f.pid),
            Kind::Unknown => unknown.add(f.pid),
            Kind::Reused => {
                missing.add(f.pid);
                unknown.add(f.pid);
            }
            Kind::Mismatched => mismatched.add(f.pid),
        }
    }
    Record::ProcCheck(ProcCheckRecord {
        time: engine.clock().wall(now),
        ktime_ns: now,
        reason: pending.reason,
        checked: pending.checked,
        missing,
        unknown,
        mismatched,
        scan_ns: pending.scan_ns,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Missing,
    Unknown,
    /// The pid was reused: ours is gone (missing), /proc's is new to us (unknown).
    Reused,
    Mismatched,
}

struct Finding {
    pid: u32,
    kind: Kind,
    heal: Vec<Heal>,
}

/// The differences between the engine and `snap` that no event since the read began explains,
/// restricted to `only` when given; and the changes to adopt without reporting them (a new
/// parent after the old one died).
fn compare(
    engine: &Engine,
    snap: &Snapshot,
    only: Option<&HashSet<u32>>,
) -> (Vec<Finding>, Vec<Heal>) {
    let began = snap.began_ns;
    let wanted = |pid: u32| only.is_none_or(|o| o.contains(&pid));
    let in_proc: HashMap<u32, &ProcEntry> = snap
        .procs
        .iter()
        .filter(|p| wanted(p.pid))
        .map(|p| (p.pid, p))
        .collect();
    let mut findings = Vec::new();
    let mut adopt = Vec::new();
    let mut tracked = HashSet::new();
    for v in engine.processes().filter(|v| wanted(v.pid)) {
        tracked.insert(v.pid);
        // Forked after the read began: readdir may have passed its slot already.
        let new_during_read = v.start_ns >= began.saturating_sub(2 * snap.tick_ns);
        match in_proc.get(&v.pid) {
            // Gone from /proc after a wait returned it: released, and its release event
            // (sched_process_free) lost or still on its way. That wait was the reap
            // (Engine::confirm_released): nothing to report.
            None if !new_during_read && v.waited => adopt.push(Heal::Released(v.pid)),
            None if !new_during_read => {
                // A zombie gone from /proc has been released: release_task() unhashes it
                // (kernel/exit.c, __exit_signal) and sched_process_free follows an RCU grace
                // period later, which on a loaded host was seen to take over a second. Where
                // no hook saw the releaser's wait (without a release_task hook, our pid 1's
                // reaps are seen only through sched_process_free), that event is the reap:
                // with nothing lost since the zombie died it is still coming, so wait for it.
                if let Some(since) = v.zombie_since_ns {
                    let gone = v.gone_since_ns.unwrap_or(began);
                    let nothing_lost = engine.last_lost_ns().is_none_or(|t| t < since);
                    if nothing_lost && began.saturating_sub(gone) < RELEASE_WAIT_NS {
                        adopt.push(Heal::Gone(v.pid, gone));
                        continue;
                    }
                }
                findings.push(Finding {
                    pid: v.pid,
                    kind: Kind::Missing,
                    heal: vec![Heal::Forget(v.pid)],
                });
            }
            None => {}
            // The pid was reused: ours is gone, /proc's is new to us.
            Some(p) if !snap.same_start(p.start_ns, v.start_ns) && !new_during_read => findings
                .push(Finding {
                    pid: v.pid,
                    kind: Kind::Reused,
                    heal: vec![Heal::Forget(v.pid), Heal::Seed((*p).clone())],
                }),
            Some(p) if !snap.same_start(p.start_ns, v.start_ns) => {}
            Some(p) => {
                let state_differs = match (p.zombie, v.zombie_since_ns) {
                    // The exit tracepoint fires before the task turns zombie and the ring
                    // buffer was drained after the read: a zombie we think alive is a missed
                    // exit.
                    (true, None) => true,
                    // We saw it die, /proc shows it running: unless it is still on its way
                    // out, or died after the read began.
                    (false, Some(since)) => !p.exiting && since < began,
                    _ => false,
                };
                // The parent changed without an event: expected when the parent we know died
                // (reparented to a subreaper or init), a discrepancy while it lives.
                let ppid_differs = p.ppid != v.ppid;
                let parent_alive = engine
                    .process(v.ppid)
                    .is_some_and(|pv| pv.zombie_since_ns.is_none());
                let mut heal = Vec::new();
                if state_differs {
                    heal.push(if p.zombie {
                        Heal::Zombie(v.pid, p.exit_status)
                    } else {
                        Heal::Alive(v.pid)
                    });
                }
                if ppid_differs {
                    heal.push(Heal::Ppid(v.pid, p.ppid));
                }
                if state_differs || (ppid_differs && parent_alive) {
                    findings.push(Finding {
                        pid: v.pid,
                        kind: Kind::Mismatched,
                        heal,
                    });
                } else if ppid_differs {
                    adopt.push(Heal::Ppid(v.pid, p.ppid));
                }
            }
        }
    }
    for p in in_proc.values() {
        if tracked.contains(&p.pid) {
            continue;
        }
        // Reaped after the read began, or reaped by us while the kernel is still finishing
        // (an autoreaped task is released just after its exit tracepoint).
        if engine
            .reaped_at(p.pid)
            .is_some_and(|t| t >= began || p.exiting || p.zombie)
        {
            continue;
        }
        findings.push(Finding {
            pid: p.pid,
            kind: Kind::Unknown,
            heal: vec![Heal::Seed((*p).clone())],
        });
    }
    (findings, adopt)
}

fn apply(engine: &mut Engine, heal: &Heal, since_ns: u64) {
    match heal {
        Heal::Forget(pid) => engine.forget(*pid),
        Heal::Seed(p) => {
            engine.seed_process(SeedProcess {
                pid: p.pid,
                ppid: p.ppid,
                comm: p.comm.clone(),
                uid: p.uid,
                start_ns: p.start_ns,
                start_approx: true,
                zombie_since_ns: p.zombie.then_some(since_ns),
                exit_status: p.exit_status.map(ExitStatus::from_raw),
            });
        }
        Heal::Zombie(pid, status) => {
            engine.mark_zombie(*pid, since_ns, status.map(ExitStatus::from_raw));
        }
        Heal::Alive(pid) => engine.mark_alive(*pid),
        Heal::Ppid(pid, ppid) => engine.set_ppid(*pid, *ppid),
        Heal::Gone(pid, ns) => engine.mark_gone(*pid, *ns),
        Heal::Released(pid) => {
            engine.confirm_released(*pid);
        }
    }
}

#[derive(Clone, Debug)]
enum Heal {
    Forget(u32),
    Seed(ProcEntry),
    Zombie(u32, Option<u32>),
    Alive(u32),
    Ppid(u32, u32),
    /// A released zombie whose release event is awaited, gone from /proc since then.
    Gone(u32, u64),
    /// Gone from /proc after a wait returned it: that wait was its reap.
    Released(u32),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::EngineConfig,
        ingest::event::{Exec, Exit, ExitStatus, Fork, Free, Release, Wait},
        output::record::{Clock, LostCauses, ReapHow, ZombieSource},
    };

    fn rb(n: u64) -> LostCauses {
        LostCauses {
            ring_buffer_full: n,
            ..LostCauses::default()
        }
    }

    const TICK: u64 = 10_000_000;
    const SEC: u64 = 1_000_000_000;

    fn engine() -> Engine {
        Engine::new(EngineConfig {
            zombie_threshold_ns: SEC,
            clock: Clock::from_offset_ns(0),
            top: 10,
        })
    }

    fn entry(pid: u32, ppid: u32, start_ns: u64, zombie: bool) -> ProcEntry {
        ProcEntry {
            pid,
            ppid,
            comm: format!("p{pid}"),
            uid: 0,
            start_ns,
            zombie,
            exiting: zombie,
            exit_status: zombie.then_some(3 << 8),
        }
    }

    fn snap(began: u64, procs: Vec<ProcEntry>) -> Snapshot {
        Snapshot {
            began_ns: began,
            ended_ns: began + 1_000_000,
            tick_ns: TICK,
            procs,
        }
    }

    fn fork(e: &mut Engine, pid: u32, ppid: u32, t: u64) {
        let mut out = Vec::new();
        e.handle(
            KernelEvent::Fork(Fork {
                ktime_ns: t,
                pid,
                ppid,
                parent_tid: ppid,
                uid: 0,
                start_ns: t,
                start_approx: false,
                parent_start_ns: 0,
                comm: "c".into(),
                place: crate::ingest::event::Place::default(),
            }),
            &mut out,
        );
    }

    fn exit(e: &mut Engine, pid: u32, ppid: u32, start: u64, t: u64) {
        let mut out = Vec::new();
        e.handle(
            KernelEvent::Exit(Exit {
                ktime_ns: t,
                pid,
                tid: pid,
                ppid,
                uid: 0,
                start_ns: start,
                comm: "c".into(),
                status: ExitStatus::from_raw(0),
                autoreap: false,
                non_sigchld: false,
                parent_waiting: false,
                usage: None,
                place: crate::ingest::event::Place::default(),
            }),
            &mut out,
        );
    }

    fn wait(e: &mut Engine, reaper: u32, pid: u32, t: u64) {
        let mut out = Vec::new();
        e.handle(
            KernelEvent::Wait(Wait {
                ktime_ns: t,
                reaper,
                reaper_tid: reaper,
                reaped: pid,
                status: Some(0),
                ns_local: false,
            }),
            &mut out,
        );
    }

    /// The release of a process a wait returned, an RCU grace period after it.
    fn free(e: &mut Engine, pid: u32, start: u64, t: u64) {
        let mut out = Vec::new();
        e.handle(
            KernelEvent::Free(Free {
                ktime_ns: t,
                pid,
                start_ns: start,
            }),
            &mut out,
        );
    }

    fn counts(r: &Record) -> (u64, u64, u64, u64) {
        let Record::ProcCheck(c) = r else {
            panic!("not a proc_check")
        };
        (
            c.checked,
            c.missing.count,
            c.unknown.count,
            c.mismatched.count,
        )
    }

    /// Two checks of the same snapshot: what the first reports, and the second after healing.
    type Counts = (u64, u64, u64, u64);
    fn check_twice(e: &mut Engine, s: &Snapshot) -> (Counts, Counts) {
        let first = counts(&check(e, s, CheckReason::Interval, s.ended_ns));
        (
            first,
            counts(&check(e, s, CheckReason::Interval, s.ended_ns + SEC)),
        )
    }

    /// Seeds pid 1 (init, alive) and the given entries from a start-up snapshot.
    fn seeded(extra: Vec<ProcEntry>) -> Engine {
        let mut e = engine();
        let mut procs = vec![entry(1, 0, 0, false)];
        procs.extend(extra);
        seed(&mut e, &snap(SEC, procs), &[]);
        e
    }

    #[test]
    fn seeding_reports_zombies_and_counts() {
        let mut e = engine();
        let s = snap(
            SEC,
            vec![
                entry(1, 0, 0, false),
                entry(50, 1, TICK, true),
                entry(60, 1, TICK, false),
            ],
        );
        let (n, zombies) = seed(&mut e, &s, &[]);
        assert_eq!((n, zombies), (3, vec![50]));
        let mut out = Vec::new();
        e.report_zombies_now(&[50], 2 * SEC, &mut out);
        let Record::Zombie(z) = &out[0] else {
            panic!("zombie record")
        };
        assert_eq!(z.source, ZombieSource::Procfs);
        assert_eq!((z.exit_code, z.signal), (Some(3), None));
        // Counted from the end of the read: a lower bound.
        assert_eq!(z.zombie_ns, 2 * SEC - s.ended_ns);
        // Reported once: no threshold alert later.
        e.tick(100 * SEC, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn zombie_with_traced_exit_is_seeded_alive() {
        let mut e = engine();
        let pending = vec![KernelEvent::Exit(Exit {
            ktime_ns: SEC / 2,
            pid: 50,
            tid: 50,
            ppid: 1,
            uid: 0,
            start_ns: TICK + 5,
            comm: "c".into(),
            status: ExitStatus::from_raw(0),
            autoreap: false,
            non_sigchld: false,
            parent_waiting: false,
            usage: None,
            place: crate::ingest::event::Place::default(),
        })];
        let (_, zombies) = seed(&mut e, &snap(SEC, vec![entry(50, 1, TICK, true)]), &pending);
        assert!(zombies.is_empty());
        let mut out = Vec::new();
        for ev in pending {
            e.handle(ev, &mut out);
        }
        assert!(
            matches!(out[0], Record::Exit(_)),
            "the traced exit is reported: {out:?}"
        );
        assert_eq!(e.process(50).and_then(|p| p.zombie_since_ns), Some(SEC / 2));
        // The exact start time was adopted, the proc_id kept.
        assert_eq!(
            e.process(50).map(|p| p.proc_id.to_string()),
            Some(format!("50-{TICK}"))
        );
    }

    /// The programs are attached in reverse lifecycle order (kernel/loader.rs), so before the
    /// read the ring buffer can hold the exit or reap of a process forked before the fork hook
    /// and gone by the read: each starts tracking it (or reports an untracked reap), and the
    /// seam leaves nothing behind for the first check to call `missing`.
    #[test]
    fn events_of_processes_gone_before_the_read_leave_nothing_behind() {
        let exit_of = |pid: u32, t: u64| {
            KernelEvent::Exit(Exit {
                ktime_ns: t,
                pid,
                tid: pid,
                ppid: 1,
                uid: 0,
                start_ns: 5 * TICK,
                comm: "c".into(),
                status: ExitStatus::from_raw(0),
                autoreap: false,
                non_sigchld: false,
                parent_waiting: false,
                usage: None,
                place: crate::ingest::event::Place::default(),
            })
        };
        let release_of = |pid: u32, t: u64| {
            KernelEvent::Release(Release {
                ktime_ns: t,
                pid,
                ppid: 1,
                start_ns: 5 * TICK,
                releaser: 1,
                releaser_exiting: false,
            })
        };
        let wait_for = |pid: u32, status: Option<u32>, t: u64| {
            KernelEvent::Wait(Wait {
                ktime_ns: t,
                reaper: 1,
                reaper_tid: 1,
                reaped: pid,
                status,
                ns_local: false,
            })
        };
        let free_of = |pid: u32, t: u64| {
            KernelEvent::Free(Free {
                ktime_ns: t,
                pid,
                start_ns: 5 * TICK,
            })
        };
        let t = SEC / 2;
        let pending = vec![
            // Exited and reaped after their hooks were attached (release_task hooked).
            exit_of(70, t),
            release_of(70, t + 10),
            // Only its reap: it exited before the exit hook was attached.
            release_of(71, t + 20),
            // The wait fallback: exit, the parent's wait, the release.
            exit_of(72, t + 30),
            wait_for(72, Some(0), t + 40),
            free_of(72, t + 50),
            // A wait4 that entered before its hook (no status), then the release.
            wait_for(73, None, t + 60),
            free_of(73, t + 70),
            // A process the read finds: its exec during the attach is no second process.
            KernelEvent::Exec(Exec {
                ktime_ns: t + 80,
                pid: 60,
                old_pid: 60,
                ppid: 1,
                uid: 0,
                euid: Some(0),
                maxrss_bytes: None,
                start_ns: TICK + 5,
                comm: "new".into(),
                filename: "/bin/new".into(),
                argv: vec!["new".into()],
                argv_truncated: false,
                argv_read_failed: false,
                filename_truncated: false,
                place: crate::ingest::event::Place::default(),
            }),
        ];
        let mut e = engine();
        let read = snap(SEC, vec![entry(1, 0, 0, false), entry(60, 1, TICK, false)]);
        let (seeded, zombies) = seed(&mut e, &read, &pending);
        assert_eq!((seeded, zombies), (2, vec![]));
        let mut out = Vec::new();
        for ev in pending {
            e.handle(ev, &mut out);
        }
        let mut tracked: Vec<u32> = e.processes().map(|p| p.pid).collect();
        tracked.sort_unstable();
        assert_eq!(
            tracked,
            vec![1, 60],
            "nothing of the gone processes is left"
        );
        let reaps: Vec<(u32, ReapHow)> = out
            .iter()
            .filter_map(|r| match r {
                Record::Reap(r) => Some((r.pid, r.how)),
                _ => None,
            })
            .collect();
        assert_eq!(
            reaps,
            vec![
                (70, ReapHow::Wait),
                (71, ReapHow::Wait),
                (72, ReapHow::Wait)
            ]
        );
        assert_eq!(
            e.process(60).map(|p| p.proc_id.to_string()),
            Some(format!("60-{TICK}")),
            "the exec kept the seeded proc_id"
        );
        let later = snap(
            2 * SEC,
            vec![entry(1, 0, 0, false), entry(60, 1, TICK, false)],
        );
        assert_eq!(
            counts(&check(&mut e, &later, CheckReason::Interval, 2 * SEC)),
            (2, 0, 0, 0)
        );
    }

    #[test]
    fn agreement_reports_nothing() {
        let mut e = seeded(vec![
            entry(10, 1, TICK, false),
            entry(11, 10, 2 * TICK, true),
        ]);
        let r = check(
            &mut e,
            &snap(
                5 * SEC,
                vec![
                    entry(1, 0, 0, false),
                    entry(10, 1, TICK, false),
                    entry(11, 10, 2 * TICK, true),
                ],
            ),
            CheckReason::Interval,
            5 * SEC,
        );
        assert_eq!(counts(&r), (3, 0, 0, 0));
    }

    #[test]
    fn missed_exit_and_reap_is_missing_and_healed() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        let s = snap(5 * SEC, vec![entry(1, 0, 0, false)]);
        let r = check(&mut e, &s, CheckReason::Lost, 5 * SEC);
        assert_eq!(counts(&r), (2, 1, 0, 0));
        let Record::ProcCheck(c) = &r else {
            unreachable!()
        };
        assert_eq!(c.missing.pids, vec![10]);
        assert_eq!(c.reason, CheckReason::Lost);
        assert!(e.process(10).is_none(), "healed");
        assert_eq!(check_twice(&mut e, &s).1, (1, 0, 0, 0));
    }

    /// A zombie that left /proc was released; its release event (sched_process_free, an RCU
    /// grace period late) is awaited instead of calling the zombie missing.
    #[test]
    fn released_zombie_waits_for_its_release_event() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        exit(&mut e, 10, 1, TICK, 2 * SEC);
        let s = snap(5 * SEC, vec![entry(1, 0, 0, false)]);
        assert_eq!(check_twice(&mut e, &s), ((2, 0, 0, 0), (2, 0, 0, 0)));
        assert_eq!(
            e.process(10).and_then(|p| p.gone_since_ns),
            Some(5 * SEC),
            "first seen gone by the first check"
        );
        let mut out = Vec::new();
        e.handle(
            KernelEvent::Free(Free {
                ktime_ns: 7 * SEC,
                pid: 10,
                start_ns: TICK,
            }),
            &mut out,
        );
        let Some(Record::Reap(reap)) = out.last() else {
            panic!("a reap record: {out:?}")
        };
        assert_eq!(reap.zombie_ns, Some(5 * SEC));
        assert!(e.process(10).is_none());
    }

    #[test]
    fn released_zombie_is_missing_when_its_release_never_comes() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        exit(&mut e, 10, 1, TICK, 2 * SEC);
        let gone = vec![entry(1, 0, 0, false)];
        let r = check(
            &mut e,
            &snap(5 * SEC, gone.clone()),
            CheckReason::Interval,
            5 * SEC,
        );
        assert_eq!(counts(&r), (2, 0, 0, 0));
        let later = 5 * SEC + RELEASE_WAIT_NS - SEC;
        let r = check(
            &mut e,
            &snap(later, gone.clone()),
            CheckReason::Interval,
            later,
        );
        assert_eq!(counts(&r), (2, 0, 0, 0), "still within the wait");
        let late = 5 * SEC + RELEASE_WAIT_NS;
        let r = check(&mut e, &snap(late, gone), CheckReason::Interval, late);
        assert_eq!(counts(&r), (2, 1, 0, 0));
        assert!(e.process(10).is_none(), "healed");
    }

    /// After a loss the release event may be among what was lost: no waiting.
    #[test]
    fn released_zombie_after_a_loss_is_missing_at_once() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        exit(&mut e, 10, 1, TICK, 2 * SEC);
        e.lost(rb(1), 3 * SEC, &mut Vec::new());
        let s = snap(5 * SEC, vec![entry(1, 0, 0, false)]);
        assert_eq!(check_twice(&mut e, &s), ((2, 1, 0, 0), (1, 0, 0, 0)));
    }

    /// A zombie a wait returned, gone from /proc: released, its release event lost (here,
    /// after a loss) or not handled yet. The wait was the reap: no discrepancy, and the reap
    /// comes out with the check's record.
    #[test]
    fn waited_zombie_gone_from_proc_is_reaped_by_that_wait() {
        for lost in [false, true] {
            let mut e = seeded(vec![entry(10, 1, TICK, false)]);
            exit(&mut e, 10, 1, TICK, 2 * SEC);
            wait(&mut e, 1, 10, 2 * SEC + 1_000);
            if lost {
                e.lost(rb(1), 3 * SEC, &mut Vec::new());
            }
            let s = snap(5 * SEC, vec![entry(1, 0, 0, false)]);
            let r = check(&mut e, &s, CheckReason::Interval, 5 * SEC);
            assert_eq!(counts(&r), (2, 0, 0, 0), "lost: {lost}");
            assert!(e.process(10).is_none());
            let mut out = Vec::new();
            e.emit(r, &mut out);
            let [Record::Reap(reap), Record::ProcCheck(_)] = &out[..] else {
                panic!("the reap, then the check: {out:?}")
            };
            assert_eq!((reap.pid, reap.reaper), (10, Some(1)));
            assert_eq!(reap.ktime_ns, 2 * SEC + 1_000);
            assert_eq!(reap.zombie_ns, Some(1_000));
            // The Free, if it comes after all, is no second reap.
            e.handle(
                KernelEvent::Free(Free {
                    ktime_ns: 6 * SEC,
                    pid: 10,
                    start_ns: TICK,
                }),
                &mut out,
            );
            assert_eq!(out.len(), 2);
            assert_eq!(check_twice(&mut e, &s), ((1, 0, 0, 0), (1, 0, 0, 0)));
        }
    }

    #[test]
    fn missed_fork_is_unknown_and_healed() {
        let mut e = seeded(vec![]);
        let s = snap(
            5 * SEC,
            vec![entry(1, 0, 0, false), entry(20, 1, 3 * SEC, false)],
        );
        assert_eq!(check_twice(&mut e, &s), ((2, 0, 1, 0), (2, 0, 0, 0)));
        assert!(e.process(20).is_some(), "healed");
    }

    #[test]
    fn missed_exit_of_a_zombie_is_mismatched_and_healed() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        let s = snap(
            5 * SEC,
            vec![entry(1, 0, 0, false), entry(10, 1, TICK, true)],
        );
        assert_eq!(check_twice(&mut e, &s), ((2, 0, 0, 1), (2, 0, 0, 0)));
        assert_eq!(
            e.process(10).and_then(|p| p.zombie_since_ns),
            Some(s.ended_ns)
        );
        // Its alert says where its zombie state came from.
        let mut out = Vec::new();
        e.tick(s.ended_ns + SEC, &mut out);
        let Record::Zombie(z) = &out[0] else {
            panic!("alert")
        };
        assert_eq!(z.source, ZombieSource::Procfs);
    }

    #[test]
    fn pid_reuse_is_missing_plus_unknown() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        let s = snap(
            5 * SEC,
            vec![entry(1, 0, 0, false), entry(10, 1, 2 * SEC, false)],
        );
        assert_eq!(check_twice(&mut e, &s), ((2, 1, 1, 0), (2, 0, 0, 0)));
    }

    #[test]
    fn ppid_change_after_parent_death_is_expected() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        fork(&mut e, 20, 10, 2 * SEC);
        exit(&mut e, 10, 1, TICK, 3 * SEC);
        wait(&mut e, 1, 10, 3 * SEC + 1);
        free(&mut e, 10, TICK, 3 * SEC + 5_000_000);
        // 20 was reparented to init when 10 died: no discrepancy, but adopted.
        let s = snap(
            5 * SEC,
            vec![entry(1, 0, 0, false), entry(20, 1, 2 * SEC, false)],
        );
        assert_eq!(
            counts(&check(&mut e, &s, CheckReason::Interval, 5 * SEC)),
            (2, 0, 0, 0)
        );
        assert_eq!(e.process(20).map(|p| p.ppid), Some(1));
    }

    #[test]
    fn ppid_change_under_a_living_parent_is_mismatched() {
        let mut e = seeded(vec![entry(10, 1, TICK, false), entry(11, 1, TICK, false)]);
        fork(&mut e, 20, 10, 2 * SEC);
        let s = snap(
            5 * SEC,
            vec![
                entry(1, 0, 0, false),
                entry(10, 1, TICK, false),
                entry(11, 1, TICK, false),
                entry(20, 11, 2 * SEC, false),
            ],
        );
        assert_eq!(
            counts(&check(&mut e, &s, CheckReason::Interval, 5 * SEC)),
            (4, 0, 0, 1)
        );
        assert_eq!(e.process(20).map(|p| p.ppid), Some(11));
    }

    #[test]
    fn changes_during_the_read_are_not_discrepancies() {
        let mut e = seeded(vec![entry(10, 1, TICK, false)]);
        let began = 5 * SEC;
        // Forked during the read (after readdir passed): tracked, absent from /proc.
        fork(&mut e, 30, 1, began + 10);
        // Exited during the read: /proc saw it alive.
        exit(&mut e, 10, 1, TICK, began + 20);
        // Forked and reaped during the read, after /proc listed it.
        fork(&mut e, 40, 1, began - 3 * TICK);
        exit(&mut e, 40, 1, began - 3 * TICK, began + 30);
        wait(&mut e, 1, 40, began + 40);
        free(&mut e, 40, began - 3 * TICK, began + 50);
        let s = snap(
            began,
            vec![
                entry(1, 0, 0, false),
                entry(10, 1, TICK, false),
                entry(40, 1, began - 3 * TICK, false),
            ],
        );
        assert_eq!(
            counts(&check(&mut e, &s, CheckReason::Interval, began + SEC)),
            (4, 0, 0, 0)
        );
    }

    #[test]
    fn example_pids_are_capped_at_twenty() {
        let mut e = seeded((100..150).map(|pid| entry(pid, 1, TICK, false)).collect());
        let r = check(
            &mut e,
            &snap(5 * SEC, vec![entry(1, 0, 0, false)]),
            CheckReason::Interval,
            5 * SEC,
        );
        let Record::ProcCheck(c) = r else {
            unreachable!()
        };
        assert_eq!(c.missing.count, 50);
        assert_eq!(c.missing.pids, (100..120).collect::<Vec<_>>());
    }
}
