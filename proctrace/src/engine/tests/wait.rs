//! `Wait` events: which wait returns are reaps, and which are not.

use super::*;
use crate::engine::wait::status_terminated;

#[test]
fn wait_reporting_a_stopped_or_continued_live_child_is_not_a_reap() {
    let mut e = engine();
    let mut out = run(&mut e, [fork(S, 910, 1, S)]);
    e.handle(wait(2 * S, 1, 910, Some(STOPPED_SIGSTOP)), &mut out);
    e.handle(wait(3 * S, 1, 910, Some(CONTINUED)), &mut out);
    e.handle(wait(4 * S, 1, 910, None), &mut out);
    e.handle(wait(4 * S, 1, 0, Some(EXITED_0)), &mut out); // WNOHANG, nothing collected
    assert_eq!(types(&out), ["fork"]);
    assert_eq!(e.live_count(), 1);
    // And a stopped status never reaps a zombie either.
    e.handle(exit(5 * S, 910, 1, S, "bash", EXITED_0), &mut out);
    e.handle(wait(5 * S + 1, 1, 910, Some(STOPPED_SIGSTOP)), &mut out);
    assert!(reaps(&out).is_empty());
    assert_eq!(e.zombie_count(), 1);
    // A zombie reaped with an unreadable status is still a reap.
    e.handle(wait(5 * S + 2, 1, 910, None), &mut out);
    e.handle(free(5 * S + 2 + GP, 910, S), &mut out);
    assert_eq!(only_reap(&out).zombie_ns, Some(2));
}

#[test]
fn wait_status_termination_rules() {
    assert!(status_terminated(0));
    assert!(status_terminated(exited(1)));
    assert!(status_terminated(exited(255)));
    assert!(status_terminated(SIGKILL));
    assert!(status_terminated(11 | 0x80)); // SIGSEGV, core dumped
    assert!(!status_terminated(STOPPED_SIGSTOP));
    assert!(!status_terminated((5 << 8) | 0x7f)); // stopped by SIGTRAP
    assert!(!status_terminated(CONTINUED));
}

#[test]
fn a_wait_from_inside_a_pid_namespace_names_no_global_pid() {
    // A container's init (global 950, pid 1 inside) reaps its child, global 951 and pid 5
    // inside; wait4 returns 5. Global 5 is an unrelated live process: it must stay alive, and
    // the reap of 951 comes from its release.
    let mut e = engine();
    let ns_wait = KernelEvent::Wait(Wait {
        ktime_ns: 3 * S,
        reaper: 950,
        reaper_tid: 950,
        reaped: 5,
        status: Some(EXITED_0),
        ns_local: true,
    });
    let out = run(
        &mut e,
        [
            fork(S, 5, 1, S),
            fork(S, 950, 1, S),
            fork(2 * S, 951, 950, 2 * S),
            exit(3 * S - 10 * MS, 951, 950, 2 * S, "job", EXITED_0),
            ns_wait,
            free(3 * S + 20 * MS, 951, 2 * S),
        ],
    );
    let r = only_reap(&out);
    assert_eq!((r.pid, r.how), (951, ReapHow::Release));
    assert_eq!(r.zombie_ns, Some(30 * MS));
    assert!(e.process(5).is_some_and(|p| p.zombie_since_ns.is_none()));
}

#[test]
fn a_wait_after_the_release_reap_is_not_a_second_reap() {
    // Under load, the RCU callback behind Free can run before the reaper returns from wait.
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 945, 1, S),
            exit(2 * S, 945, 1, S, "racy", EXITED_0),
            free(2 * S + 5 * MS, 945, S),
            wait(2 * S + 6 * MS, 1, 945, Some(EXITED_0)),
        ],
    );
    assert_eq!(reaps(&out).len(), 1);
    // Same for a waitid(WNOWAIT) peek followed by the real wait.
    out.clear();
    run(
        &mut e,
        [
            fork(3 * S, 946, 1, 3 * S),
            exit(4 * S, 946, 1, 3 * S, "peek", EXITED_0),
        ],
    );
    e.handle(wait(4 * S + 1, 1, 946, Some(EXITED_0)), &mut out);
    e.handle(wait(4 * S + 2, 1, 946, Some(EXITED_0)), &mut out);
    e.handle(free(4 * S + 2 + GP, 946, 3 * S), &mut out);
    assert_eq!(reaps(&out).len(), 1);
    assert_eq!(
        reaps(&out)[0].ktime_ns,
        4 * S + 2,
        "the last wait before the release"
    );
    // Long after, an unknown pid's terminated wait is reported again (pid could be reused by
    // a process we never saw).
    e.tick(100 * S, &mut out);
    e.handle(wait(100 * S, 1, 946, Some(EXITED_0)), &mut out);
    assert_eq!(reaps(&out).len(), 2);
    assert_eq!(reaps(&out)[1].proc_id, None);
}
