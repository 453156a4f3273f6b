//! Reaps by a parent other than the fork parent (`reparented`).

use super::*;

#[test]
fn reparented_zombie_is_reaped_by_the_new_parent() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 50, 1, S / 2), // the parent, "supervisor"
            exec(S + 1, 50, 1, S / 2, "supervisor"),
            fork(2 * S, 60, 50, 2 * S), // child of 50
            exec(2 * S + 1, 60, 50, 2 * S, "worker"),
            exit(3 * S, 50, 1, S / 2, "supervisor", exited(1)), // parent dies first
            wait(3 * S + 10, 1, 50, Some(exited(1))),
            free(3 * S + 10 + GP, 50, S / 2),
            // The child was reparented to pid 1 (init): exit.ppid says so.
            exit(3 * S + 5 * MS, 60, 1, 2 * S, "worker", EXITED_0),
        ],
    );
    assert_eq!(
        exits(&out)[1].ppid,
        1,
        "records after the reparenting show the new parent"
    );
    e.tick(4 * S + 5 * MS, &mut out);
    let z = zombies(&out);
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].ppid, 1);
    e.handle(wait(5 * S, 1, 60, Some(EXITED_0)), &mut out);
    e.handle(free(5 * S + GP, 60, 2 * S), &mut out);
    let r = reaps(&out);
    assert_eq!(r.len(), 2);
    assert!(!r[0].reparented, "50 was reaped by its own parent");
    assert_eq!((r[1].pid, r[1].ppid, r[1].reaper), (60, 1, Some(1)));
    assert!(r[1].reparented, "60 was forked by 50 and reaped by 1");
    assert_eq!(r[1].zombie_ns, Some(2 * S - 5 * MS));
    assert_eq!(r[1].zombie_class, Some(ZombieClass::LongLived));
    assert_empty(&e);
}

#[test]
fn subreaper_reaps_a_reparented_child_via_release_is_reparented_too() {
    // Parent at exit (exit.ppid) differs from the fork parent; the reap is seen only as a Free.
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 70, 50, S),
            exit(2 * S, 70, 42, S, "c", EXITED_0),
            free(2 * S + 3 * MS, 70, S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!(r.how, ReapHow::Release);
    assert_eq!((r.ppid, r.reaper), (42, None));
    assert!(r.reparented);
}
