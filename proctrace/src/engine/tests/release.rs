//! `Free` (sched_process_free) and `Release` (release_task()) events.

use super::*;

#[test]
fn free_after_a_wait_confirms_the_wait_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 930, 1, S),
            exit(2 * S, 930, 1, S, "a", EXITED_0),
            wait(2 * S + 10, 1, 930, Some(EXITED_0)),
            free(2 * S + 20 * MS, 930, S),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    assert_eq!(only_reap(&out).how, ReapHow::Wait);
}

#[test]
fn free_of_a_zombie_is_a_release_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 940, 1, S),
            exit(2 * S, 940, 1, S, "nsjob", EXITED_0),
            free(2 * S + 30 * MS, 940, S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!(r.how, ReapHow::Release);
    assert_eq!(r.reaper, None);
    assert_eq!(r.ppid, 1);
    assert_eq!(r.zombie_ns, Some(30 * MS));
    assert_eq!(r.zombie_class, Some(ZombieClass::Transient));
    assert_empty(&e);
}

#[test]
fn non_leader_exec_then_free_of_the_old_leader_is_not_a_reap() {
    // A thread (tid 961) of process 960 execs: de_thread() releases the old leader. The kernel
    // side drops the Free (pid != tgid), but even a Free with the process's pid and a stale start
    // time must not reap the live process.
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 960, 1, S)]);
    let KernelEvent::Exec(mut ev) = exec(2 * S, 960, 1, S, "newimg") else {
        unreachable!()
    };
    ev.old_pid = 961;
    e.handle(KernelEvent::Exec(ev), &mut out);
    match &out[1] {
        Record::Exec(x) => {
            assert_eq!((x.pid, x.old_pid), (960, 961));
            assert_eq!(x.proc_id, "960-1000000000");
        }
        other => panic!("{other:?}"),
    }
    e.handle(free(2 * S + 10 * MS, 960, S), &mut out);
    e.handle(free(2 * S + 10 * MS, 960, S - 5), &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.live_count(), 1);
    // Its real end is still tracked normally.
    e.handle(exit(3 * S, 960, 1, S, "newimg", EXITED_0), &mut out);
    e.handle(wait(3 * S + 3, 1, 960, Some(EXITED_0)), &mut out);
    e.handle(free(3 * S + 3 + GP, 960, S), &mut out);
    let r = only_reap(&out);
    assert_eq!((r.comm.as_str(), r.zombie_ns), ("newimg", Some(3)));
}

#[test]
fn release_by_a_waiter_is_an_exact_wait_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 400, S, "c", exited(1)),
            release(2 * S + 3 * MS, 500, 400, S, 400, false),
            // The syscall exit that follows is the same reap: not a second one.
            wait(2 * S + 4 * MS, 400, 500, Some(exited(1))),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    let r = reaps(&out)[0];
    assert_eq!(
        (r.how, r.reaper, r.ppid, r.zombie_ns),
        (ReapHow::Wait, Some(400), 400, Some(3 * MS))
    );
    assert!(!r.reparented);
    assert_eq!(e.tracked_count(), 0);
}

#[test]
fn release_by_a_subreaper_is_reparented() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 300, S, "c", EXITED_0),
            release(2 * S + MS, 500, 300, S, 300, false),
        ],
    );
    let r = reaps(&out)[0];
    assert_eq!((r.reaper, r.ppid, r.reparented), (Some(300), 300, true));
}

#[test]
fn release_by_the_exiting_side_is_an_autoreap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit(2 * S, 500, 400, S, "c", EXITED_0),
            // e.g. the parent died and its reaper ignores SIGCHLD: released by exit code.
            release(2 * S + 5 * MS, 500, 400, S, 400, true),
        ],
    );
    let r = reaps(&out)[0];
    assert_eq!(
        (r.how, r.reaper, r.zombie_ns),
        (ReapHow::Autoreap, None, Some(5 * MS))
    );
}

#[test]
fn release_after_an_autoreap_exit_is_not_a_second_reap() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, S),
            exit_autoreap(2 * S, 500, 400, S, "c"),
            release(2 * S + 1000, 500, 400, S, 500, true),
        ],
    );
    assert_eq!(types(&out), ["fork", "exit", "reap"]);
    assert_eq!(reaps(&out)[0].how, ReapHow::Autoreap);
}

#[test]
fn release_of_a_never_seen_process_has_its_proc_id() {
    let mut e = engine();
    let out = run(&mut e, [release(5 * S, 700, 1, 42, 1, false)]);
    let r = reaps(&out)[0];
    assert_eq!(
        r.proc_id.map(|id| id.to_string()).as_deref(),
        Some("700-42")
    );
    assert_eq!((r.zombie_ns, r.zombie_class), (None, None));
    assert_eq!(r.reaper, Some(1));
    // A later Free of the same process is not another reap.
    assert_eq!(run(&mut e, [free(5 * S + MS, 700, 42)]).len(), 0);
}

#[test]
fn release_of_a_reused_pid_does_not_reap_the_new_process() {
    let mut e = engine();
    let out = run(
        &mut e,
        [
            fork(S, 500, 400, 2 * S),
            release(2 * S, 500, 400, S, 400, false),
        ],
    );
    assert_eq!(types(&out), ["fork"]);
    assert_eq!(e.live_count(), 1);
}
