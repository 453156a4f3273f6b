//! Agreement with /proc: the start-up snapshot and the continuous `proc_check`.
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{boottime_ns, of, proc_checks, scenario_bin, wait_record, Tracer};

crate::both_modes!(
    processes_from_before_start,
    tiny_ring_buffer_loses_then_heals
);

fn processes_from_before_start(mode: &str) {
    // A zombie (its parent reaps it once we close its stdin) and a long-running process
    // (`cat`, until we close its stdin), both created before proctrace starts. Both end when
    // the test has what it needs from the start, not after fixed times: those were 9 s and
    // 8 s, to outlast a start in an emulated kernel-matrix guest.
    let mut scenario = Command::new(scenario_bin())
        .args(["zombie", "eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("scenario");
    let sleeper_spawned = boottime_ns();
    let mut sleeper = Command::new("/bin/cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cat");
    // The sleeper's fork was before this.
    let sleeper_forked_by = boottime_ns();
    std::thread::sleep(Duration::from_millis(300));
    let mut t = Tracer::start(&["--hooks", mode]);
    let start = t.records[0].clone();
    assert!(
        start["seeded_processes"].as_u64().unwrap_or(0) >= 3,
        "{start}"
    );
    assert!(
        start["seeded_zombies"].as_u64().unwrap_or(0) >= 1,
        "{start}"
    );
    let scenario_pid = scenario.id();
    let zombie = t
        .wait_for(Duration::from_secs(5), |r| {
            r["type"] == "zombie" && r["ppid"] == scenario_pid && r["source"] == "procfs"
        })
        .expect("a procfs zombie record for the pre-existing zombie");
    // Right after start: before any record of the trace about it.
    let zombie_idx = t.records.iter().position(|r| *r == zombie).expect("index");
    assert!(
        t.records[1..zombie_idx]
            .iter()
            .all(|r| r["type"] == "zombie"),
        "procfs zombies come right after start"
    );
    assert_eq!(zombie["exit_code"], 3, "exit status from /proc/<pid>/stat");
    assert_eq!(zombie["signal"], Value::Null);
    assert!(zombie["zombie_ns"].as_u64().is_some());

    let sleeper_pid = sleeper.id();
    // The sleeper lived at least from its fork to here: across the whole start of proctrace
    // (300 ms and more), which a lifetime counted from the trace's start would miss.
    let stopped_after = boottime_ns();
    drop(sleeper.stdin.take());
    let _ = sleeper.wait();
    let exit = wait_record(&mut t, "exit", sleeper_pid);
    let measured = boottime_ns() - sleeper_spawned;
    drop(scenario.stdin.take());
    let out = scenario.wait_with_output().expect("scenario");
    let child = zombie["pid"].as_u64().expect("pid") as u32;
    let reap = wait_record(&mut t, "reap", child);
    let records = t.stop();

    // The pre-existing process: correct ppid and lifetime (from the kernel's start time).
    assert_eq!(exit["ppid"], std::process::id());
    let lifetime = exit["lifetime_ns"].as_u64().expect("lifetime");
    let lived = stopped_after - sleeper_forked_by;
    assert!(
        lifetime >= lived,
        "lifetime {lifetime} < {lived} it lived at least"
    );
    assert!(
        lifetime <= measured,
        "lifetime {lifetime} > measured {measured}"
    );
    assert!(of(&records, "fork", u64::from(sleeper_pid)).is_empty());

    // The pre-existing zombie is reaped by the usual rules.
    assert!(out.status.success());
    assert_eq!(reap["how"], "wait");
    assert_eq!(reap["reaper"], scenario_pid);
    assert_eq!(reap["proc_id"], zombie["proc_id"]);
    assert!(
        reap["zombie_ns"].as_u64().expect("zombie_ns") >= zombie["zombie_ns"].as_u64().unwrap_or(0)
    );
    assert!(
        of(&records, "exit", u64::from(child)).is_empty(),
        "its exit was before the trace"
    );
}

fn tiny_ring_buffer_loses_then_heals(mode: &str) {
    let mut t = Tracer::start(&[
        "--hooks",
        mode,
        "--ring-buffer-size",
        "4K",
        "--proc-check-interval",
        "1s",
    ]);
    // 500 children, not 1500: a 4 KiB ring buffer holds about one exec record of this storm,
    // so it overflows at every burst, from the first second on, and losses came all through
    // a storm of 1500 in the emulated 6.12 guest. The rest only made the storm and every
    // check's /proc read (1500 live processes) long: 19 s there, 34 s in the 7.3 guest.
    let out = Command::new(scenario_bin())
        .args(["storm", "500", "3"])
        .output()
        .expect("storm");
    assert!(out.status.success());
    // Wait until three checks have passed since the last loss: one that may have begun before
    // it (see below), the healing one, and a clean one.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last_lost = t
            .records
            .iter()
            .rposition(|r| r["type"] == "lost")
            .unwrap_or(0);
        if proc_checks(&t.records[last_lost..]).len() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no quiet period after the storm");
        t.wait_for(Duration::from_millis(500), |_| false);
    }
    let records = t.stop();
    let lost: u64 = records
        .iter()
        .filter(|r| r["type"] == "lost")
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        lost > 0,
        "a 4 KiB ring buffer must overflow in a storm of large exec records"
    );
    let last_lost = records
        .iter()
        .rposition(|r| r["type"] == "lost")
        .expect("lost");
    let all = proc_checks(&records);
    assert!(
        all.iter().any(|(r, _)| r["reason"] == "lost"),
        "a check right after the loss"
    );
    assert!(
        all.iter().any(|(_, n)| *n > 0),
        "the loss must show as discrepancies: {all:?}"
    );
    // After the last loss the checks heal what was lost (possibly over more than one check,
    // when losses queued checks back to back), then report 0 and stay at 0. Checks run one
    // at a time, and the first record after the loss may finish a check that began (read
    // /proc) before it, while it waited out its settle time: that one can be clean without
    // having seen the loss. Every later check began after the loss.
    let after: Vec<_> = proc_checks(&records[last_lost..]);
    let first_clean = after
        .iter()
        .skip(1)
        .position(|(_, n)| *n == 0)
        .map(|i| i + 1)
        .expect("a clean check after the last loss");
    assert!(
        after[first_clean..].iter().all(|(_, n)| *n == 0),
        "after healing, checks report 0: {after:?}"
    );
}

/// Long churn with zombies; every check must agree with /proc. PROCTRACE_CHURN_SECS shortens it
/// (default 300 s, the acceptance length).
#[test]
fn continuous_churn_has_no_discrepancies() {
    let secs: u64 = std::env::var("PROCTRACE_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut t = Tracer::start(&["--proc-check-interval", "1s", "--zombie-threshold", "500ms"]);
    let mut churn = Command::new(scenario_bin())
        .args(["churn", &secs.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("churn");
    let deadline = Instant::now() + Duration::from_secs(secs + 60);
    while churn.try_wait().expect("churn").is_none() {
        assert!(Instant::now() < deadline, "churn did not finish");
        t.wait_for(Duration::from_millis(500), |_| false);
    }
    let out = churn.wait_with_output().expect("churn");
    assert!(out.status.success());
    let result: Value = serde_json::from_slice(&out.stdout).expect("churn output");
    // Two more checks after the churn.
    t.wait_for(Duration::from_millis(2500), |_| false);
    let records = t.stop();
    let all = proc_checks(&records);
    // One per second, each taking up to 1 s more when it had candidates to confirm.
    assert!(
        all.len() as u64 >= secs / 3,
        "{} checks in {secs} s",
        all.len()
    );
    // proctrace itself must lose nothing (ring buffer, decoding). The kernel may skip a
    // program that would nest in itself on one CPU: on 7.x a BTF-tracepoint program runs
    // with preemption enabled (migration disabled), and another task forking on that CPU
    // meanwhile is not traced. proctrace counts those (`causes.recursion`), and the checks
    // below must still agree with /proc.
    let own_losses: Vec<String> = records
        .iter()
        .filter(|r| {
            r["type"] == "lost"
                && (r["causes"]["ring_buffer_full"] != 0 || r["causes"]["undecodable"] != 0)
        })
        .map(Value::to_string)
        .collect();
    assert!(
        own_losses.is_empty(),
        "events lost during churn: {own_losses:?}"
    );
    let zombies = records
        .iter()
        .filter(|r| r["type"] == "zombie" && r["source"] == "trace")
        .count();
    let long = records
        .iter()
        .filter(|r| r["type"] == "reap" && r["zombie_class"] == "long_lived")
        .count();
    assert!(
        zombies > 0 && long > 0,
        "the churn makes long-lived zombies"
    );
    let bad: Vec<_> = all
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, _)| *r)
        .collect();
    assert!(
        bad.is_empty(),
        "proc_check discrepancies during churn ({} spawned):\n{}",
        result["spawned"],
        explain(&bad, &records)
    );
}

/// What the trace said about the pids a check reported, to tell a hook gap from a race: for
/// each bad check, its counts, then for its first pids every record naming them in the 10 s
/// before it (earlier lifetimes of a reused pid are noise). With PROCTRACE_TEST_DUMP set, the
/// whole trace is written to that file as well.
fn explain(bad: &[&Value], records: &[Value]) -> String {
    const WINDOW_NS: u64 = 10_000_000_000;
    let mut out = String::new();
    if let Ok(path) = std::env::var("PROCTRACE_TEST_DUMP") {
        let lines: Vec<String> = records.iter().map(Value::to_string).collect();
        match std::fs::write(&path, lines.join("\n")) {
            Ok(()) => out.push_str(&format!("full trace written to {path}\n")),
            Err(e) => out.push_str(&format!("cannot write {path}: {e}\n")),
        }
    }
    if let Some(summary) = records.last() {
        out.push_str(&format!("summary: {summary}\n"));
    }
    for check in bad {
        let at = check["ktime_ns"].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "check at {at}: missing {} unknown {} mismatched {} (scan {} ns)\n",
            check["missing"], check["unknown"], check["mismatched"], check["scan_ns"]
        ));
        let pids: Vec<u64> = ["missing", "unknown", "mismatched"]
            .iter()
            .filter_map(|k| check[*k]["pids"].as_array())
            .flatten()
            .filter_map(Value::as_u64)
            .take(6)
            .collect();
        for pid in pids {
            out.push_str(&format!("  pid {pid}:\n"));
            for r in records.iter().filter(|r| {
                let t = r["ktime_ns"].as_u64().unwrap_or(0);
                t + WINDOW_NS >= at
                    && t <= at
                    && ["pid", "ppid", "reaper"]
                        .iter()
                        .any(|k| r[*k].as_u64() == Some(pid))
            }) {
                out.push_str(&format!("    {r}\n"));
            }
        }
    }
    out
}
