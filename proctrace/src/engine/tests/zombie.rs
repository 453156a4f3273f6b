//! Zombie alerts: one `zombie` record at the threshold, before any later record.

use super::*;

#[test]
fn long_lived_zombie_is_alerted_once_by_tick_then_reaped() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 300, 1, S),
            exec(S + MS, 300, 1, S, "daemonchild"),
            exit(2 * S, 300, 1, S, "daemonchild", EXITED_0),
        ],
    );
    assert_eq!(e.next_deadline(), Some(3 * S));
    // Before the deadline: nothing.
    e.tick(3 * S - 1, &mut out);
    assert_eq!(types(&out), ["fork", "exec", "exit"]);
    // 40 ms after the deadline.
    e.tick(3 * S + 40 * MS, &mut out);
    let z = zombies(&out);
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].zombie_ns, S + 40 * MS);
    assert_eq!(z[0].ktime_ns, 3 * S + 40 * MS);
    assert_eq!((z[0].pid, z[0].ppid), (300, 1));
    assert_eq!(z[0].comm, "daemonchild");
    assert_eq!(z[0].proc_id, "300-1000000000");
    assert_eq!(z[0].parent_comm, None); // pid 1 never seen
    assert_eq!(z[0].source, ZombieSource::Trace);
    assert_eq!(e.next_deadline(), None);
    // Only once.
    e.tick(4 * S, &mut out);
    e.tick(60 * S, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    // Reaped 2.5 s + 1 ns after the exit.
    e.handle(wait(4 * S + 500 * MS + 1, 1, 300, Some(EXITED_0)), &mut out);
    e.handle(free(4 * S + 500 * MS + 1 + GP, 300, S), &mut out);
    assert_eq!(types(&out), ["fork", "exec", "exit", "zombie", "reap"]);
    let r = only_reap(&out);
    assert_eq!(r.zombie_ns, Some(2 * S + 500 * MS + 1));
    assert_eq!(r.zombie_class, Some(ZombieClass::LongLived));
    assert_empty(&e);
}

#[test]
fn zombie_exactly_at_the_threshold_is_long_lived() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [fork(S, 5, 1, S), exit(2 * S, 5, 1, S, "x", EXITED_0)],
    );
    e.tick(3 * S, &mut out); // age == threshold
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(zombies(&out)[0].zombie_ns, THRESHOLD);
    e.handle(wait(3 * S, 1, 5, Some(EXITED_0)), &mut out);
    e.handle(free(3 * S + GP, 5, S), &mut out);
    assert_eq!(only_reap(&out).zombie_class, Some(ZombieClass::LongLived));

    let mut out = run(
        &mut e,
        [
            fork(S, 6, 1, S),
            exit(2 * S, 6, 1, S, "x", EXITED_0),
            wait(3 * S - 1, 1, 6, None),
            // After the threshold: the alert waits for the parent's wait to be confirmed.
            free(3 * S - 1 + GP, 6, S),
        ],
    );
    assert!(zombies(&out).is_empty());
    assert_eq!(only_reap(&out).zombie_class, Some(ZombieClass::Transient));
    e.tick(10 * S, &mut out);
    assert!(zombies(&out).is_empty());
}

#[test]
fn an_event_past_the_deadline_fires_the_alert_first() {
    // The daemon did not tick in time: the reap still follows its zombie record, so every
    // long_lived reap of a process whose exit was seen has a zombie record before it.
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 7, 1, S),
            exit(2 * S, 7, 1, S, "slow", EXITED_0),
            wait(5 * S, 1, 7, Some(EXITED_0)),
            free(5 * S + GP, 7, S),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "zombie", "reap"]);
    assert_eq!(zombies(&out)[0].zombie_ns, 3 * S);
    assert_eq!(zombies(&out)[0].ktime_ns, 5 * S);
    assert_eq!(only_reap(&out).zombie_ns, Some(3 * S));
    assert_empty(&e);
}

#[test]
fn next_deadline_is_the_earliest_pending_alert() {
    let mut e = engine();
    assert_eq!(e.next_deadline(), None);
    let mut out = run(
        &mut e,
        [
            fork(S, 10, 1, S),
            fork(S, 11, 1, S + 1),
            fork(S, 12, 1, S + 2),
            exit(4 * S + 500 * MS, 11, 1, S + 1, "b", EXITED_0),
            exit(4 * S, 10, 1, S, "a", EXITED_0), // slightly out of order: earlier ktime
            exit(4 * S + 800 * MS, 12, 1, S + 2, "c", EXITED_0),
        ],
    );
    assert_eq!(e.next_deadline(), Some(5 * S));
    assert_eq!(e.pending_alerts(), 3);
    // Reaping the earliest removes its alert.
    e.handle(wait(5 * S - 1, 1, 10, Some(EXITED_0)), &mut out);
    e.handle(free(5 * S - 1 + GP, 10, S), &mut out);
    assert_eq!(e.next_deadline(), Some(5 * S + 500 * MS));
    // Alerting removes it too.
    e.tick(5 * S + 500 * MS, &mut out);
    assert_eq!(zombies(&out).len(), 1);
    assert_eq!(zombies(&out)[0].pid, 11);
    assert_eq!(e.next_deadline(), Some(5 * S + 800 * MS));
    // A Free of the last one (release) removes the last alert.
    e.handle(free(5 * S + 600 * MS, 12, S + 2), &mut out);
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.pending_alerts(), 0);
    assert_eq!(e.zombie_count(), 1); // pid 11, alerted, still unreaped
}

#[test]
fn parent_comm_of_a_zombie_alert_is_the_current_parents() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            exec(S, 90, 1, S / 2, "nginx"), // started before the trace
            fork(2 * S, 91, 90, 2 * S),
            exit(3 * S, 91, 90, 2 * S, "nginx", EXITED_0),
        ],
    );
    e.tick(4 * S, &mut out);
    assert_eq!(zombies(&out)[0].parent_comm.as_deref(), Some("nginx"));
}

#[test]
/// A summary comes after the alerts due by its time; a loss noticed late comes before them (a
/// lost reap is what would explain such a zombie: the reader must see the loss first).
fn a_late_loss_precedes_the_due_alerts_and_the_summary_follows_them() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [fork(S, 990, 1, S), exit(2 * S, 990, 1, S, "z", EXITED_0)],
    );
    e.lost(rb(3), 5 * S, &mut out);
    assert_eq!(types(&out), ["fork", "exit", "lost", "zombie"]);
    assert_eq!(zombies(&out)[0].zombie_ns, 3 * S);
    let mut out = run(
        &mut e,
        [
            fork(6 * S, 991, 1, 6 * S),
            exit(7 * S, 991, 1, 6 * S, "y", EXITED_0),
        ],
    );
    e.summary(10 * S, &mut out);
    assert_eq!(types(&out), ["fork", "exit", "zombie", "summary"]);
    let ktimes: Vec<u64> = out.iter().map(Record::ktime_ns).collect();
    assert!(ktimes.windows(2).all(|w| w[0] <= w[1]), "{ktimes:?}");
    match out.last() {
        Some(Record::Summary(s)) => {
            assert_eq!(s.counts.zombie, 2);
            let pids: Vec<u32> = s.unreaped.iter().map(|u| u.pid).collect();
            assert_eq!(pids, [990, 991]);
        }
        other => panic!("{other:?}"),
    }
}
