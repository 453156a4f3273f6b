//! Reap timing (README "Reap timing"): where release_task() cannot be hooked, the default
//! `--reap-timing bounded` places each reap from the reaper's wait calls without any syscall
//! tracepoint, and `--reap-timing exact` keeps the wait syscall tracepoints. Both must give
//! the reaper and the zombie time a parent measured, to within 5 ms.
use serde_json::Value;

use crate::common::{of, run, scenario_bin, tracer, wait_record, Tracer};

crate::three_modes!(
    a_parent_asleep_in_wait_collects_at_the_exit,
    a_parent_asleep_waiting_for_another_child_collects_later,
);

/// What the scenarios' clocks and proctrace's may differ by (the same ±5 ms as the exact
/// hooks' tests: the exit event fires a little before the parent can see the zombie).
const TOLERANCE_NS: u64 = 5_000_000;

fn ns(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The start record's reap hook and timing must agree: bounded exactly when the hook is
/// `tp_btf/sched_process_free` alone, and never a syscall tracepoint then.
fn reap_hook(start: &Value) -> (&str, &str) {
    let hook = start["hooks"]["reap"].as_str().expect("hooks.reap");
    let timing = start["reap_timing"].as_str().expect("reap_timing");
    (hook, timing)
}

fn release_hooked(hook: &str) -> bool {
    hook.starts_with("fentry/") || hook.starts_with("kprobe/")
}

#[test]
fn the_default_needs_no_syscall_tracepoint() {
    let t = Tracer::start(&[]);
    let start = t.records[0].clone();
    t.stop();
    let (hook, timing) = reap_hook(&start);
    for (job, h) in start["hooks"].as_object().expect("hooks") {
        let h = h.as_str().unwrap_or_default();
        assert!(
            !h.contains("syscalls"),
            "{job} uses a syscall tracepoint: {start}"
        );
    }
    if release_hooked(hook) {
        assert_eq!(timing, "exact", "{start}");
    } else {
        assert_eq!((hook, timing), ("tp_btf/sched_process_free", "bounded"));
    }
}

#[test]
fn exact_timing_is_an_opt_in() {
    let t = Tracer::start(&["--reap-timing", "exact"]);
    let start = t.records[0].clone();
    t.stop();
    let (hook, timing) = reap_hook(&start);
    assert_eq!(timing, "exact", "{start}");
    if !release_hooked(hook) {
        assert!(
            hook.contains("tracepoint/syscalls/sys_exit_wait4"),
            "{start}"
        );
    }
    // Classic tracepoints have no bounded path: exact, with the syscall tracepoints.
    let t = Tracer::start(&["--hooks", "classic", "--reap-timing", "bounded"]);
    let start = t.records[0].clone();
    t.stop();
    let (hook, timing) = reap_hook(&start);
    assert_eq!(timing, "exact", "{start}");
    assert!(
        hook.contains("tracepoint/syscalls/sys_exit_wait4"),
        "{start}"
    );
}

/// Runs `args` under `t` and returns the scenario's JSON line and the child's exit and reap.
fn scenario(t: &mut Tracer, args: &[&str]) -> (u32, Value, Value, Value) {
    let (pid, status, out) = run(&scenario_bin(), args);
    assert!(status.success(), "scenario {args:?} failed: {status:?}");
    let line = out.into_iter().last().expect("the scenario's JSON line");
    let child = ns(&line, "child") as u32;
    let reap = wait_record(t, "reap", child);
    let exit = wait_record(t, "exit", child);
    (pid, line, exit, reap)
}

/// The reap of `child` by its parent `pid`: placed no later than the parent's wait returned,
/// and, when placed rather than seen (`reap_window_ns`), not before the release bound allows.
fn assert_reaped_by(pid: u32, line: &Value, exit: &Value, reap: &Value, timing: &str) {
    assert_eq!(reap["how"], "wait", "{reap}");
    assert_eq!(reap["reaper"], pid, "{reap}");
    assert_eq!(reap["ppid"], pid, "{reap}");
    let at = ns(reap, "ktime_ns");
    assert!(
        at >= ns(exit, "ktime_ns"),
        "reaped before its exit: {reap} {exit}"
    );
    assert!(
        at <= ns(line, "reaped_ns") + TOLERANCE_NS,
        "reaped after the parent's wait returned: {reap} {line}"
    );
    assert_eq!(ns(reap, "zombie_ns"), at - ns(exit, "ktime_ns"), "{reap}");
    if timing == "bounded" {
        assert!(reap["reap_window_ns"].is_u64(), "{reap}");
    } else {
        assert!(reap["reap_window_ns"].is_null(), "{reap}");
    }
}

/// The parent sleeps in waitpid(-1) from before its child exits.
fn a_parent_asleep_in_wait_collects_at_the_exit(mode: &str) {
    let mut t = tracer(mode);
    let timing = t.records[0]["reap_timing"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (pid, line, exit, reap) = scenario(&mut t, &["blocked-wait", "300"]);
    t.stop();
    assert!(
        ns(&line, "wait_start_ns") < ns(&line, "child_exit_ns"),
        "{line}"
    );
    assert_reaped_by(pid, &line, &exit, &reap, &timing);
    // Measured by the parent: from the child's last moment to its own wait's return.
    let measured = ns(&line, "reaped_ns") - ns(&line, "child_exit_ns");
    assert!(
        ns(&reap, "zombie_ns") <= measured + TOLERANCE_NS,
        "zombie {} ns, the parent measured at most {measured} ns: {reap}",
        ns(&reap, "zombie_ns")
    );
}

/// The parent sleeps in waitpid(B) when A exits; A is collected only by the waitpid(A) that
/// follows B's exit, about 300 ms later.
fn a_parent_asleep_waiting_for_another_child_collects_later(mode: &str) {
    let mut t = tracer(mode);
    let timing = t.records[0]["reap_timing"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (pid, line, exit, reap) = scenario(&mut t, &["wait-other-first", "400"]);
    let other = ns(&line, "other") as u32;
    wait_record(&mut t, "reap", other);
    let records = t.stop();
    assert_reaped_by(pid, &line, &exit, &reap, &timing);
    let at = ns(&reap, "ktime_ns");
    assert!(
        at + TOLERANCE_NS >= ns(&line, "wait_start_ns"),
        "A was placed before the wait that collected it: {reap} {line}"
    );
    let expected = ns(&line, "wait_start_ns") - ns(&line, "child_exit_ns");
    let zombie = ns(&reap, "zombie_ns");
    assert!(
        zombie.abs_diff(expected) <= TOLERANCE_NS,
        "zombie {zombie} ns, the parent measured {expected} ns: {reap}"
    );
    // B, collected by the call that was asleep at A's exit, as soon as it exited: its zombie
    // time is the rest of its exit path and the parent's wake-up (6 ms seen under the 7.3
    // guest's emulation), nowhere near A's 300 ms.
    let b = of(&records, "reap", u64::from(other));
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(ns(b[0], "zombie_ns") < 50_000_000, "{}", b[0]);
}
