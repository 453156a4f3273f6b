//! The wait fallback: a wait is a reap candidate, confirmed by the release (`Free`); the reap
//! is the last wait before it (see candidates.rs).

use super::*;
use crate::engine::candidates::{ALERT_GRACE_NS, CONFIRM_TIMEOUT_NS};

/// Parent 10, its child 100 (started at `S`), a sibling 20 that traces it.
const PARENT: u32 = 10;
const CHILD: u32 = 100;
const TRACER: u32 = 20;

fn family(e: &mut Engine) -> Vec<Record> {
    run(
        e,
        [
            fork(S / 2, PARENT, 1, S / 2),
            fork(S / 2 + MS, TRACER, PARENT, S / 2 + MS),
            fork(S, CHILD, PARENT, S),
        ],
    )
}

/// The family, and the child exited (status 0) at 2 s: a zombie of the parent.
fn child_exited() -> (Engine, Vec<Record>) {
    let mut e = engine();
    let mut out = family(&mut e);
    e.handle(exit(2 * S, CHILD, PARENT, S, "c", EXITED_0), &mut out);
    (e, out)
}

fn wait_from_thread(
    t: u64,
    reaper: u32,
    tid: u32,
    reaped: u32,
    status: Option<u32>,
) -> KernelEvent {
    KernelEvent::Wait(Wait {
        ktime_ns: t,
        reaper,
        reaper_tid: tid,
        reaped,
        status,
        ns_local: false,
    })
}

#[test]
fn a_non_parent_tracers_wait_is_not_the_reap() {
    // C exits at 2 s; its tracer T (a sibling) collects the exit notification at once and
    // exits; the real parent reaps C at 3.2 s, released (Free) a grace period later.
    let mut e = engine();
    let mut out = family(&mut e);
    e.handle(exit(2 * S, CHILD, PARENT, S, "traced", exited(5)), &mut out);
    e.handle(wait(2 * S + MS, TRACER, CHILD, Some(exited(5))), &mut out);
    e.handle(
        exit(
            2 * S + 2 * MS,
            TRACER,
            PARENT,
            S / 2 + MS,
            "tracer",
            EXITED_0,
        ),
        &mut out,
    );
    e.handle(
        wait(2 * S + 3 * MS, PARENT, TRACER, Some(EXITED_0)),
        &mut out,
    );
    e.handle(free(2 * S + 3 * MS + GP, TRACER, S / 2 + MS), &mut out);
    assert_eq!(reaps(&out).len(), 1, "only the tracer itself is reaped");
    assert_eq!(reaps(&out)[0].pid, TRACER);
    // Still a zombie for us: its alert is due at 3 s (no grace: the tracer is not its parent).
    e.tick(3 * S, &mut out);
    let z = zombies(&out);
    assert_eq!((z.len(), z[0].pid, z[0].ppid), (1, CHILD, PARENT));
    e.handle(
        wait(3 * S + 200 * MS, PARENT, CHILD, Some(exited(5))),
        &mut out,
    );
    assert_eq!(reaps(&out).len(), 1, "not before its release");
    e.handle(free(3 * S + 200 * MS + GP, CHILD, S), &mut out);
    let r = reaps(&out)[1];
    assert_eq!((r.pid, r.how), (CHILD, ReapHow::Wait));
    assert_eq!((r.reaper, r.ppid), (Some(PARENT), PARENT));
    assert_eq!(r.ktime_ns, 3 * S + 200 * MS, "at the real parent's wait");
    assert_eq!(r.zombie_ns, Some(S + 200 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::LongLived));
    assert!(!r.reparented);
    assert_eq!(e.tracked_count(), 1, "the parent only");
    assert_eq!(e.candidate_timers_len(), 0);
}

#[test]
fn a_tracers_candidate_never_times_out_into_a_reap() {
    let mut e = engine();
    let mut out = family(&mut e);
    e.handle(exit(2 * S, CHILD, PARENT, S, "traced", EXITED_0), &mut out);
    e.handle(wait(2 * S + MS, TRACER, CHILD, Some(EXITED_0)), &mut out);
    assert_eq!(e.next_deadline(), Some(3 * S), "the alert first");
    e.tick(3 * S, &mut out);
    assert_eq!(e.next_deadline(), Some(2 * S + MS + CONFIRM_TIMEOUT_NS));
    e.tick(100 * S, &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.next_deadline(), None);
    // It is still unreaped at the end of the trace.
    e.summary(101 * S, &mut out);
    assert!(reaps(&out).is_empty());
    let Some(Record::Summary(s)) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(s.unreaped.len(), 1);
    assert_eq!((s.unreaped[0].pid, s.unreaped[0].ppid), (CHILD, PARENT));
}

#[test]
fn an_early_wait_without_release_then_the_real_wait() {
    // Like waitid(WNOWAIT) (the kernel side drops those, but a wait that leaves the child
    // waitable must not be the reap): the parent's wait at 2.1 s, its real one at 3.3 s.
    let mut e = engine();
    let mut out = family(&mut e);
    e.handle(exit(2 * S, CHILD, PARENT, S, "peeked", EXITED_0), &mut out);
    e.handle(
        wait(2 * S + 100 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    // The early wait's grace (until 2.6 s) is over by the threshold (3 s): alerted on time.
    e.tick(3 * S, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(zombies(&out)[0].ktime_ns, 3 * S);
    e.handle(
        wait(3 * S + 300 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    e.handle(free(3 * S + 300 * MS + GP, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(r.ktime_ns, 3 * S + 300 * MS);
    assert_eq!(r.zombie_ns, Some(S + 300 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::LongLived));
    assert_eq!(r.reaper, Some(PARENT));
    assert_eq!(types(&out)[3..], ["exit", "zombie", "reap"]);
}

#[test]
fn a_wait_from_another_thread_of_the_parent_reaps_as_the_parent() {
    // __WNOTHREAD/__WALL waits from thread 11 of the parent: the reaper is the process.
    let (mut e, mut out) = child_exited();
    e.handle(
        wait_from_thread(2 * S + MS, PARENT, 11, CHILD, None),
        &mut out,
    );
    e.handle(free(2 * S + MS + GP, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(
        (r.reaper, r.ppid, r.zombie_ns),
        (Some(PARENT), PARENT, Some(MS))
    );
    assert!(!r.reparented);
}

#[test]
fn a_tracer_that_is_the_parent_reaps_once() {
    // The parent traces its own child: its wait is a real release, one reap.
    let mut e = engine();
    let mut out = family(&mut e);
    // A ptrace stop first (not a candidate), then the exit.
    e.handle(wait(S + MS, PARENT, CHILD, Some((5 << 8) | 0x7f)), &mut out);
    e.handle(exit(2 * S, CHILD, PARENT, S, "c", SIGKILL), &mut out);
    e.handle(wait(2 * S + 2 * MS, PARENT, CHILD, Some(SIGKILL)), &mut out);
    e.handle(free(2 * S + 2 * MS + GP, CHILD, S), &mut out);
    // A late duplicate report of the same reap changes nothing.
    e.handle(free(2 * S + 3 * MS + GP, CHILD, S), &mut out);
    e.handle(
        wait(2 * S + 4 * MS + GP, PARENT, CHILD, Some(SIGKILL)),
        &mut out,
    );
    let r = only_reap(&out);
    assert_eq!((r.reaper, r.zombie_ns), (Some(PARENT), Some(2 * MS)));
    assert_eq!(r.how, ReapHow::Wait);
}

#[test]
fn a_free_without_a_wait_stays_a_release_reap() {
    let (mut e, mut out) = child_exited();
    e.handle(free(2 * S + 30 * MS, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!((r.how, r.reaper, r.ppid), (ReapHow::Release, None, PARENT));
    assert_eq!((r.ktime_ns, r.zombie_ns), (2 * S + 30 * MS, Some(30 * MS)));
}

#[test]
fn a_free_of_another_process_with_the_pid_confirms_nothing() {
    let (mut e, mut out) = child_exited();
    e.handle(wait(2 * S + MS, PARENT, CHILD, Some(EXITED_0)), &mut out);
    e.handle(free(2 * S + MS + GP, CHILD, S / 3), &mut out);
    assert!(reaps(&out).is_empty());
    assert!(e.process(CHILD).is_some_and(|p| p.waited));
}

#[test]
fn a_lost_free_is_confirmed_by_the_parents_wait_after_a_timeout() {
    let mut e = engine();
    let mut out = family(&mut e);
    e.handle(exit(2 * S, CHILD, PARENT, S, "c", exited(1)), &mut out);
    let waited = 2 * S + 40 * MS;
    e.handle(wait(waited, PARENT, CHILD, Some(exited(1))), &mut out);
    e.lost(rb(1), waited + 10 * MS, &mut out);
    // The grace after the parent's wait (until 2.54 s) is over by the threshold (3 s): the
    // alert fires on time, the reap still awaits its release.
    assert_eq!(e.next_deadline(), Some(3 * S));
    e.tick(waited + CONFIRM_TIMEOUT_NS - 1, &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(e.next_deadline(), Some(waited + CONFIRM_TIMEOUT_NS));
    e.tick(waited + CONFIRM_TIMEOUT_NS, &mut out);
    let r = only_reap(&out);
    assert_eq!(
        (r.ktime_ns, r.reaper, r.how),
        (waited, Some(PARENT), ReapHow::Wait)
    );
    assert_eq!(r.zombie_ns, Some(40 * MS));
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.tracked_count(), 2, "parent and tracer");
    // The Free, if it comes after all, is not a second reap.
    e.handle(free(waited + CONFIRM_TIMEOUT_NS + 1, CHILD, S), &mut out);
    assert_eq!(reaps(&out).len(), 1);
}

#[test]
fn a_released_process_found_gone_by_proc_is_its_candidates_reap() {
    // What the /proc check does when a waited-for zombie is gone (reconcile.rs): the reap is
    // confirmed at once and comes out with the next record.
    let (mut e, mut out) = child_exited();
    e.handle(wait(2 * S + MS, TRACER, CHILD, Some(EXITED_0)), &mut out);
    e.handle(
        wait(2 * S + 300 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    assert!(e.process(CHILD).is_some_and(|p| p.waited));
    assert!(
        !e.confirm_released(PARENT),
        "no candidate: nothing to confirm"
    );
    assert!(e.confirm_released(CHILD));
    assert!(e.process(CHILD).is_none());
    assert!(reaps(&out).is_empty(), "held until the next entry point");
    e.tick(2 * S + 400 * MS, &mut out);
    let r = only_reap(&out);
    assert_eq!((r.reaper, r.ktime_ns), (Some(PARENT), 2 * S + 300 * MS));
    assert_eq!(e.counts().reap, 1);
    assert_eq!(e.candidate_timers_len(), 0);
}

#[test]
fn the_end_of_the_trace_confirms_the_parents_waits_only() {
    // Waited for just before proctrace detached: the release will not be traced.
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S / 2, PARENT, 1, S / 2),
            fork(S, CHILD, PARENT, S),
            fork(S, CHILD + 1, PARENT, S),
            exit(2 * S, CHILD, PARENT, S, "a", EXITED_0),
            exit(2 * S, CHILD + 1, PARENT, S, "b", EXITED_0),
            wait(2 * S + MS, PARENT, CHILD, Some(EXITED_0)),
            wait(2 * S + MS, TRACER, CHILD + 1, Some(EXITED_0)),
        ],
    );
    e.summary(2 * S + 2 * MS, &mut out);
    let r = only_reap(&out);
    assert_eq!(
        (r.pid, r.reaper, r.zombie_ns),
        (CHILD, Some(PARENT), Some(MS))
    );
    let Some(Record::Summary(s)) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(s.counts.reap, 1);
    let unreaped: Vec<u32> = s.unreaped.iter().map(|u| u.pid).collect();
    assert_eq!(unreaped, [CHILD + 1]);
}

#[test]
fn an_alert_due_while_the_parents_wait_awaits_its_release_is_deferred() {
    let (mut e, mut out) = child_exited();
    // Reaped 10 ms before the threshold; the Free comes 30 ms after it.
    e.handle(
        wait(3 * S - 10 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    e.tick(3 * S, &mut out);
    assert!(zombies(&out).is_empty(), "deferred");
    assert_eq!(e.next_deadline(), Some(3 * S - 10 * MS + ALERT_GRACE_NS));
    e.handle(free(3 * S + 30 * MS, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert!(zombies(&out).is_empty());
    assert_eq!(e.pending_alerts(), 0);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn a_deferred_alert_fires_when_the_release_does_not_come() {
    let (mut e, mut out) = child_exited();
    let waited = 3 * S - 10 * MS;
    e.handle(wait(waited, PARENT, CHILD, Some(EXITED_0)), &mut out);
    e.tick(3 * S, &mut out);
    e.tick(waited + ALERT_GRACE_NS - 1, &mut out);
    assert!(zombies(&out).is_empty());
    e.tick(waited + ALERT_GRACE_NS, &mut out);
    let z = zombies(&out);
    assert_eq!(z.len(), 1, "bounded: one grace after the wait");
    assert_eq!(z[0].zombie_ns, S - 10 * MS + ALERT_GRACE_NS);
    // Only once, and the timeout still makes the wait the reap.
    e.tick(waited + CONFIRM_TIMEOUT_NS, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(only_reap(&out).ktime_ns, waited);
    assert_empty(e_without_family(&mut e));
}

/// Removes the family's parent and tracer (alive), so that `assert_empty` checks the rest.
fn e_without_family(e: &mut Engine) -> &Engine {
    e.forget(PARENT);
    e.forget(TRACER);
    e
}

#[test]
fn a_later_wait_past_the_threshold_ends_the_grace() {
    // The parent's early wait (10 ms before the threshold) did not release the child; its real
    // wait 100 ms after the threshold does: a long-lived reap, so its alert comes first.
    let (mut e, mut out) = child_exited();
    e.handle(
        wait(3 * S - 10 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    e.tick(3 * S, &mut out);
    assert!(zombies(&out).is_empty(), "deferred");
    e.handle(
        wait(3 * S + 100 * MS, PARENT, CHILD, Some(EXITED_0)),
        &mut out,
    );
    let z = zombies(&out);
    assert_eq!((z.len(), z[0].ktime_ns), (1, 3 * S + 100 * MS));
    e.handle(free(3 * S + 100 * MS + GP, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(r.zombie_class, Some(ZombieClass::LongLived));
    assert_eq!(types(&out)[3..], ["exit", "zombie", "reap"]);
    assert_eq!(e.pending_alerts(), 0);
}

#[test]
fn a_tracers_wait_does_not_defer_the_alert() {
    let (mut e, mut out) = child_exited();
    e.handle(
        wait(3 * S - 10 * MS, TRACER, CHILD, Some(EXITED_0)),
        &mut out,
    );
    e.tick(3 * S, &mut out);
    assert_eq!(zombies(&out).len(), 1);
}

#[test]
fn pid_reuse_and_forgetting_drop_the_candidate() {
    let (mut e, mut out) = child_exited();
    e.handle(wait(2 * S + MS, PARENT, CHILD, Some(EXITED_0)), &mut out);
    assert_eq!(e.candidate_timers_len(), 1);
    // Its release was lost and the pid reused by a new process.
    e.handle(fork(2 * S + 50 * MS, CHILD, 1, 2 * S + 50 * MS), &mut out);
    assert_eq!(e.candidate_timers_len(), 0);
    assert!(e.process(CHILD).is_some_and(|p| !p.waited));
    // The old process's late Free is not about the new one.
    e.handle(free(2 * S + 60 * MS, CHILD, S), &mut out);
    e.tick(20 * S, &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.live_count(), 3);
    // Exit-then-wait, then /proc says it is alive after all: the candidate goes.
    e.handle(
        exit(21 * S, CHILD, 1, 2 * S + 50 * MS, "n", EXITED_0),
        &mut out,
    );
    e.handle(wait(21 * S + MS, 1, CHILD, Some(EXITED_0)), &mut out);
    e.mark_alive(CHILD);
    assert_eq!(e.candidate_timers_len(), 0);
    assert!(e.process(CHILD).is_some_and(|p| !p.waited));
    e.handle(wait(22 * S, 1, CHILD, Some(EXITED_0)), &mut out);
    e.forget(CHILD);
    assert_eq!(e.candidate_timers_len(), 0);
}

#[test]
fn a_wait_for_a_live_process_whose_exit_was_lost_is_a_candidate_too() {
    let mut e = engine();
    let mut out = family(&mut e);
    e.lost(rb(1), 2 * S, &mut out);
    e.handle(wait(3 * S, TRACER, CHILD, Some(exited(1))), &mut out);
    e.handle(wait(4 * S, PARENT, CHILD, Some(exited(1))), &mut out);
    assert!(reaps(&out).is_empty());
    e.handle(free(4 * S + GP, CHILD, S), &mut out);
    let r = only_reap(&out);
    assert_eq!(
        (r.reaper, r.ktime_ns, r.zombie_ns),
        (Some(PARENT), 4 * S, None)
    );
}
