//! Zombies by owner: `siblings_unreaped` and `reparented` on the alerts and in `unreaped`,
//! and the summary's `zombies_by_parent` / `zombies_by_container`.

use std::sync::Arc;

use super::*;
use crate::ingest::event::Place;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The exit of `pid` (child of `ppid`) in the container `ID`.
fn exit_in_container(t: u64, pid: u32, ppid: u32) -> KernelEvent {
    let mut x = exit_ev(t, pid, ppid, S, "probe", EXITED_0, false);
    x.place = Place {
        cgroup: Some(Arc::from(format!("/docker/{ID}").as_str())),
        container_id: Some(Arc::from(ID)),
        ..Place::default()
    };
    KernelEvent::Exit(x)
}

#[test]
fn each_alert_counts_the_parents_other_zombies() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 100, 1, S),
            exec(S + MS, 100, 1, S, "server"),
            fork(S + 2 * MS, 101, 100, S),
            fork(S + 3 * MS, 102, 100, S),
            fork(S + 4 * MS, 103, 100, S),
            fork(S + 5 * MS, 200, 1, S),
            exit(2 * S, 101, 100, S, "c", EXITED_0),
            exit(2 * S + 10 * MS, 102, 100, S, "c", EXITED_0),
            exit(2 * S + 20 * MS, 200, 1, S, "other", EXITED_0),
        ],
    );
    // 101 and 102 alert together (one batch), before 103 has died.
    e.tick(3 * S + 15 * MS, &mut out);
    e.handle(exit(3 * S + 30 * MS, 103, 100, S, "c", EXITED_0), &mut out);
    e.tick(4 * S + 30 * MS, &mut out);
    let z: Vec<(u32, u32, bool)> = zombies(&out)
        .iter()
        .map(|z| (z.pid, z.siblings_unreaped, z.reparented))
        .collect();
    assert_eq!(
        z,
        [
            (101, 1, false),
            (102, 1, false),
            (200, 0, false),
            (103, 2, false)
        ]
    );
    assert!(zombies(&out).iter().all(|z| z.diagnosis.is_none()));
    // The summary: the unreaped, and the groups.
    e.handle(wait(5 * S, 100, 101, Some(EXITED_0)), &mut out);
    e.handle(free(5 * S + GP, 101, S), &mut out);
    let mut out = Vec::new();
    e.summary(6 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("no summary: {out:?}")
    };
    let unreaped: Vec<(u32, u32)> = s
        .unreaped
        .iter()
        .map(|u| (u.pid, u.siblings_unreaped))
        .collect();
    assert_eq!(unreaped, [(102, 1), (200, 0), (103, 1)]);
    let parents: Vec<(u32, Option<&str>, u64, u64, u64)> = s
        .zombies_by_parent
        .iter()
        .map(|p| {
            let t = p.tally;
            (
                p.ppid,
                p.parent_comm.as_deref(),
                t.unreaped,
                t.long_lived_reaped,
                t.max_zombie_ns,
            )
        })
        .collect();
    assert_eq!(
        parents,
        [
            (100, Some("server"), 2, 1, 4 * S - 10 * MS),
            (1, None, 1, 0, 4 * S - 20 * MS)
        ]
    );
    assert_eq!(
        s.zombies_by_parent[0].parent_proc_id,
        Some(crate::output::record::ProcId::new(100, S))
    );
    assert_eq!(s.zombies_by_container.len(), 1);
    assert_eq!(s.zombies_by_container[0].container_id, None);
    assert_eq!(s.zombies_by_container[0].tally.unreaped, 3);
    assert_eq!(s.zombies_by_container[0].tally.long_lived_reaped, 1);
}

#[test]
fn transient_reaps_are_not_tallied_and_containers_are_grouped() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 10, 1, S),
            fork(S, 11, 10, S),
            fork(S, 12, 10, S),
            exit_in_container(2 * S, 11, 10),
            exit_in_container(2 * S, 12, 10),
            // 11 reaped at once: transient, not a long-lived zombie of anyone.
            wait(2 * S + MS, 10, 11, Some(EXITED_0)),
            free(2 * S + MS + GP, 11, S),
        ],
    );
    e.tick(3 * S, &mut out);
    assert_eq!(zombies(&out)[0].place.container_id.as_deref(), Some(ID));
    assert_eq!(zombies(&out)[0].siblings_unreaped, 0);
    let mut out = Vec::new();
    e.summary(4 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("no summary")
    };
    assert_eq!(s.unreaped[0].container_id.as_deref(), Some(ID));
    assert_eq!(s.zombies_by_container.len(), 1);
    let c = &s.zombies_by_container[0];
    assert_eq!(c.container_id.as_deref(), Some(ID));
    assert_eq!((c.tally.unreaped, c.tally.long_lived_reaped), (1, 0));
    assert_eq!(c.tally.max_zombie_ns, 2 * S);
}

#[test]
fn a_zombie_handed_to_a_new_parent_says_it_was_reparented() {
    let mut e = engine();
    // 31's parent 30 is gone by its exit: the exit names the subreaper 20.
    let mut out = run(
        &mut e,
        [
            fork(S, 30, 20, S),
            fork(S, 31, 30, S),
            exit(2 * S, 30, 20, S, "mid", EXITED_0),
            exit(2 * S + MS, 31, 20, S, "orphan", EXITED_0),
            wait(2 * S + 2 * MS, 20, 30, Some(EXITED_0)),
            free(2 * S + 2 * MS + GP, 30, S),
        ],
    );
    e.tick(3 * S + MS, &mut out);
    let z = zombies(&out);
    assert_eq!((z[0].pid, z[0].ppid, z[0].reparented), (31, 20, true));
}

#[test]
fn groups_are_capped_by_top() {
    let mut e = Engine::new(EngineConfig {
        zombie_threshold_ns: THRESHOLD,
        clock: CLOCK,
        top: 2,
    });
    let mut events = Vec::new();
    for parent in 0..5u32 {
        let ppid = 1000 + parent;
        events.push(fork(S, ppid, 1, S));
        // Parent k has k + 1 zombies.
        for c in 0..=parent {
            let pid = 2000 + parent * 10 + c;
            events.push(fork(S, pid, ppid, S));
            events.push(exit(2 * S, pid, ppid, S, "c", EXITED_0));
        }
    }
    let mut out = run(&mut e, events);
    e.summary(5 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("no summary")
    };
    let parents: Vec<(u32, u64)> = s
        .zombies_by_parent
        .iter()
        .map(|p| (p.ppid, p.tally.unreaped))
        .collect();
    assert_eq!(parents, [(1004, 5), (1003, 4)]);
    assert_eq!(s.unreaped.len(), 15);
}

#[test]
fn a_parent_gone_before_the_reap_is_still_the_owner() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 40, 1, S),
            exec(S, 40, 1, S, "leaky"),
            fork(S, 41, 40, S),
            exit(2 * S, 41, 40, S, "c", EXITED_0),
        ],
    );
    e.tick(3 * S, &mut out);
    assert_eq!(zombies(&out)[0].parent_comm.as_deref(), Some("leaky"));
    // The parent dies and is reaped; init reaps the orphaned zombie.
    for ev in [
        exit(4 * S, 40, 1, S, "leaky", EXITED_0),
        wait(4 * S + MS, 1, 40, Some(EXITED_0)),
        free(4 * S + MS + GP, 40, S),
        wait(4 * S + 2 * MS, 1, 41, Some(EXITED_0)),
        free(4 * S + 2 * MS + GP, 41, S),
    ] {
        e.handle(ev, &mut out);
    }
    let mut out = Vec::new();
    e.summary(5 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("no summary")
    };
    let owner = &s.zombies_by_parent[0];
    assert_eq!(
        (
            owner.ppid,
            owner.parent_comm.as_deref(),
            owner.tally.long_lived_reaped
        ),
        (40, Some("leaky"), 1)
    );
    assert_eq!(
        owner.parent_proc_id,
        Some(crate::output::record::ProcId::new(40, S))
    );
}
