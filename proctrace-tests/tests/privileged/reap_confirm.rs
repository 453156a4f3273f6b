//! A wait that returns a child is not always its reap: a ptrace tracer that is not the parent,
//! or waitid(WNOWAIT), gets it back and leaves it a zombie. proctrace must report the reap at
//! the wait that released it, with that waiter (README, reap and the zombie model): on hosts
//! without a release_task hook that is the last wait before the release (sched_process_free).
use serde_json::Value;

use crate::common::{of, run, scenario_bin, tracer, tree, wait_record};

crate::three_modes!(
    ptrace_by_a_sibling_is_no_reap,
    tracer_that_is_the_parent_reaps_once,
    wnowait_peek_is_no_reap,
    wait_from_a_non_leader_thread_reaps_as_the_parent,
);

/// Runs `scenario` under proctrace (in `mode`) until `child`'s reap is reported, then stops.
/// Returns the scenario's pid, its JSON line, every record.
fn traced_scenario(mode: &str, args: &[&str]) -> (u32, Value, Vec<Value>) {
    let mut t = tracer(mode);
    let (pid, status, out) = run(&scenario_bin(), args);
    assert!(status.success(), "scenario {args:?} failed: {status:?}");
    let line = out.into_iter().last().expect("the scenario's JSON line");
    let child = line["child"].as_u64().expect("child") as u32;
    wait_record(&mut t, "reap", child);
    // The scenario itself is reaped by us (its parent) right after: wait for it too, so that
    // anything proctrace had to say about the child is out.
    wait_record(&mut t, "reap", pid);
    (pid, line, t.stop())
}

/// The records of `ty` about the child forked by `pid` (our own process tree, by `proc_id`).
fn of_child<'a>(records: &'a [Value], pid: u32, child: u64, ty: &str) -> Vec<&'a Value> {
    assert!(
        tree(records, pid).contains(&child),
        "{child} is not a child of the scenario {pid}"
    );
    let forks = of(records, "fork", child);
    assert_eq!(forks.len(), 1, "one fork of {child}: {forks:?}");
    assert_eq!(forks[0]["ppid"], pid);
    let proc_id = &forks[0]["proc_id"];
    of(records, ty, child)
        .into_iter()
        .filter(|r| r["proc_id"] == *proc_id)
        .collect()
}

fn ns(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The one reap of `child`, which must be the wait by `pid` that started at `wait_start_ns`
/// and returned at `reaped_ns`.
fn the_reap<'a>(records: &'a [Value], pid: u32, child: u64, line: &Value) -> &'a Value {
    let reaps = of_child(records, pid, child, "reap");
    assert_eq!(reaps.len(), 1, "exactly one reap of {child}: {reaps:?}");
    let reap = reaps[0];
    assert_eq!(reap["how"], "wait", "{reap}");
    assert_eq!(reap["reaper"], pid, "reaped by the parent: {reap}");
    assert_eq!(reap["ppid"], pid, "{reap}");
    assert_eq!(reap["reparented"], false, "{reap}");
    let at = ns(reap, "ktime_ns");
    assert!(
        (ns(line, "wait_start_ns")..=ns(line, "reaped_ns")).contains(&at),
        "the reap at {at} is not the parent's releasing wait ({line})"
    );
    let exits = of_child(records, pid, child, "exit");
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(
        ns(reap, "zombie_ns"),
        at - ns(exits[0], "ktime_ns"),
        "{reap}"
    );
    reap
}

/// (a) C traced by its sibling T: T's wait collects C's exit without releasing it; the real
/// parent reaps it 1.2 s later.
fn ptrace_by_a_sibling_is_no_reap(mode: &str) {
    let (pid, line, records) = traced_scenario(mode, &["ptrace-sibling", "1200"]);
    let child = ns(&line, "child");
    let tracer = ns(&line, "tracer");
    assert_eq!(line["status"], 5 << 8);
    assert!(ns(&line, "tracer_waited_ns") < ns(&line, "wait_start_ns"));
    let reap = the_reap(&records, pid, child, &line);
    assert!(
        ns(reap, "zombie_ns") >= 1_200_000_000,
        "zombie time up to the real parent's wait: {reap}"
    );
    assert_eq!(reap["zombie_class"], "long_lived");
    let alerts = of_child(&records, pid, child, "zombie");
    assert_eq!(alerts.len(), 1, "a zombie alert for {child}: {alerts:?}");
    assert_eq!(alerts[0]["ppid"], pid);
    assert_eq!(alerts[0]["source"], "trace");
    assert!(ns(alerts[0], "ktime_ns") < ns(reap, "ktime_ns"));
    // The tracer itself was reaped by the parent, once.
    let tracer_reaps = of_child(&records, pid, tracer, "reap");
    assert_eq!(tracer_reaps.len(), 1, "{tracer_reaps:?}");
    assert_eq!(tracer_reaps[0]["reaper"], pid);
    assert!(
        records
            .iter()
            .all(|r| !(r["type"] == "reap" && r["reaper"] == tracer)),
        "nothing was reaped by the tracer"
    );
}

/// (b) The parent traces its child (a ptrace stop on the way): its wait is the release.
fn tracer_that_is_the_parent_reaps_once(mode: &str) {
    let (pid, line, records) = traced_scenario(mode, &["ptrace-parent"]);
    let child = ns(&line, "child");
    assert_eq!(line["status"], 6 << 8);
    let reap = the_reap(&records, pid, child, &line);
    assert!(ns(reap, "zombie_ns") < 1_000_000_000, "{reap}");
    assert_eq!(reap["zombie_class"], "transient");
    assert!(of_child(&records, pid, child, "zombie").is_empty());
}

/// (c) waitid(WNOWAIT) looks at the zombie; the real waitpid comes 1.2 s later.
fn wnowait_peek_is_no_reap(mode: &str) {
    let (pid, line, records) = traced_scenario(mode, &["wnowait", "1200"]);
    let child = ns(&line, "child");
    assert_eq!(line["status"], 7 << 8);
    let start = &records[0];
    assert_eq!(start["type"], "start");
    if start["unsupported"]
        .as_array()
        .expect("start.unsupported")
        .contains(&"reap.wait_options".into())
    {
        // Bounded timing that cannot read a call's options (before 5.15; README "Reap
        // timing"): the peek passes for a call that collects. Still one reap, the parent's,
        // no earlier than the exit and no later than the wait that released the child.
        assert_eq!(start["reap_timing"], "bounded", "{start}");
        let reaps = of_child(&records, pid, child, "reap");
        assert_eq!(reaps.len(), 1, "{reaps:?}");
        assert_eq!(reaps[0]["reaper"], pid, "{}", reaps[0]);
        let exit = of_child(&records, pid, child, "exit");
        let at = ns(reaps[0], "ktime_ns");
        assert!(
            (ns(exit[0], "ktime_ns")..=ns(&line, "reaped_ns")).contains(&at),
            "{} {line}",
            reaps[0]
        );
        return;
    }
    let reap = the_reap(&records, pid, child, &line);
    assert!(ns(reap, "ktime_ns") > ns(&line, "peeked_ns") + 1_000_000_000);
    assert!(ns(reap, "zombie_ns") >= 1_200_000_000, "{reap}");
    assert_eq!(reap["zombie_class"], "long_lived");
    assert_eq!(of_child(&records, pid, child, "zombie").len(), 1);
}

/// (d) A thread other than the leader reaps the child: the reaper is the process.
fn wait_from_a_non_leader_thread_reaps_as_the_parent(mode: &str) {
    let (pid, line, records) = traced_scenario(mode, &["thread-wait"]);
    let child = ns(&line, "child");
    assert_eq!(line["status"], 8 << 8);
    assert_ne!(ns(&line, "tid"), u64::from(pid));
    let reap = the_reap(&records, pid, child, &line);
    assert_eq!(reap["zombie_class"], "transient");
}
