//! The record filters (README "Filters"): for each flag, a process the test makes that
//! matches is in and one that does not is out; flags combined; and a filtered run reconciles
//! with /proc exactly like an unfiltered one, with `start`, `lost`, `proc_check` and `summary`
//! always written. Other processes on the host may pass a filter too: the tests assert that
//! every record written matches it, and look at their own processes by pid.
use std::{
    collections::HashSet,
    io::Read as _,
    os::unix::process::CommandExt as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{
    cgroup_mount, exit_within, proc_checks, random_hex64, scenario_bin, wait_record, TestCgroup,
    Tracer,
};

const PROCESS_TYPES: [&str; 5] = ["fork", "exec", "exit", "zombie", "reap"];

/// The records about a process (`fork` … `reap`), in order.
fn process_records(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| PROCESS_TYPES.iter().any(|t| r["type"] == *t))
        .collect()
}

/// The types of `pid`'s records, in order.
fn types_of(records: &[Value], pid: u32) -> Vec<String> {
    process_records(records)
        .into_iter()
        .filter(|r| r["pid"] == pid)
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_none_of(records: &[Value], pid: u32, what: &str) {
    let leaked: Vec<_> = process_records(records)
        .into_iter()
        .filter(|r| r["pid"] == pid || (r["type"] == "fork" && r["ppid"] == pid))
        .collect();
    assert!(
        leaked.is_empty(),
        "{what} ({pid}) passed the filter: {leaked:?}"
    );
}

/// A process that waits for its stdin to close before it goes on; killed if the test fails.
struct Held {
    child: Child,
}

impl Held {
    fn spawn(cmd: &mut Command) -> Held {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn a held process");
        Held { child }
    }

    fn sh(script: &str) -> Held {
        Held::spawn(Command::new("sh").args(["-c", script]))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its stdin and reaps it; it must exit 0 within 10 s.
    fn release(mut self) -> u32 {
        drop(self.child.stdin.take());
        let status = exit_within(&mut self.child, Duration::from_secs(10));
        assert!(status.success(), "held process {}: {status}", self.pid());
        self.pid()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to its end (exit 0) and returns its pid.
fn run(cmd: &mut Command) -> u32 {
    let mut child = cmd.stdout(Stdio::null()).spawn().expect("spawn");
    let pid = child.id();
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{cmd:?}: {status}");
    pid
}

/// A copy of the scenario program named `<prefix><our pid>`: the comm of a process that execs
/// it is that name (the exec'd file's base name, at most 15 bytes), its `filename` the copy's
/// path. Next to the scenario program (a directory programs run from); removed on drop.
struct Program {
    path: PathBuf,
}

impl Program {
    fn copy(prefix: &str) -> Program {
        let name = format!("{prefix}{}", std::process::id());
        assert!(name.len() <= 15, "{name}: a comm keeps 15 bytes");
        let scenario = PathBuf::from(scenario_bin());
        let path = scenario.with_file_name(name);
        std::fs::copy(&scenario, &path)
            .unwrap_or_else(|e| panic!("copy {scenario:?} to {path:?}: {e}"));
        Program { path }
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The program as a command, `threads 0`: a process that exits at once.
    fn quick(&self) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(["threads", "0"]);
        cmd
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits (up to 5 s) for `pid` to have a child, from /proc; returns its pid. Scans every
/// /proc/<pid>/stat (its 4th field is the parent), as `task/<tid>/children` needs
/// CONFIG_PROC_CHILDREN.
fn wait_child_of(pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(child) = child_of(pid) {
            return child;
        }
        assert!(Instant::now() < deadline, "{pid} has no child after 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let candidate: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // After the comm's closing parenthesis: state, then ppid.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid.parse() == Ok(pid)).then_some(candidate)
        })
}

/// Traces a run with `args`, until `pid`'s reap has been written.
fn stop_after_reap(mut t: Tracer, pid: u32) -> Vec<Value> {
    wait_record(&mut t, "reap", pid);
    t.stop()
}

#[test]
fn pid_keeps_only_the_named_processes() {
    let (named, other) = (Held::sh("read x; :"), Held::sh("read x; :"));
    let named_pid = named.pid().to_string();
    let t = Tracer::start(&["--pid", &named_pid]);
    let other = other.release();
    let named = named.release();
    let records = stop_after_reap(t, named);
    let types = types_of(&records, named);
    assert!(
        types.ends_with(&["exit".to_owned(), "reap".to_owned()]),
        "{types:?}"
    );
    assert_none_of(&records, other, "the other process");
    for r in process_records(&records) {
        assert_eq!(r["pid"], named, "{r}");
    }
}

/// The root runs before proctrace with a child blocked in `read`: that child is found from
/// /proc; once released it forks a grandchild, which forks or execs true. All of them are
/// in; a shell the test runs meanwhile is out.
#[test]
fn tree_follows_descendants_alive_at_start_and_forked_later() {
    let root = Held::sh("sh -c 'read x; sh -c \"/bin/true; :\"; :'; :");
    let child = wait_child_of(root.pid());
    let root_pid = root.pid().to_string();
    let t = Tracer::start(&["--tree", &root_pid]);
    let outside = run(Command::new("sh").args(["-c", "/bin/true; :"]));
    let root = root.release();
    let records = stop_after_reap(t, root);

    assert_none_of(&records, outside, "a shell outside the tree");
    let mut members: HashSet<u64> = HashSet::from([u64::from(root), u64::from(child)]);
    for r in process_records(&records) {
        if r["type"] == "fork" && members.contains(&r["ppid"].as_u64().unwrap_or(0)) {
            members.insert(r["pid"].as_u64().unwrap_or(0));
        }
        assert!(
            members.contains(&r["pid"].as_u64().unwrap_or(0)),
            "outside the tree of {root}: {r}"
        );
    }
    let child_types = types_of(&records, child);
    assert!(
        child_types.contains(&"exit".to_owned()) && child_types.contains(&"reap".to_owned()),
        "the child alive at start: {child_types:?}"
    );
    let grandchild = records
        .iter()
        .find(|r| r["type"] == "fork" && r["ppid"] == child)
        .expect("the fork of the grandchild, after start");
    let grandchild = grandchild["pid"].as_u64().expect("pid");
    assert!(
        records.iter().any(|r| r["type"] == "exec"
            && r["comm"] == "true"
            && members.contains(&r["pid"].as_u64().unwrap_or(0))),
        "the exec of true below the grandchild {grandchild}"
    );
}

#[test]
fn comm_keeps_processes_by_command_name() {
    let (yes, no) = (Program::copy("ptc-y-"), Program::copy("ptc-n-"));
    let glob = format!("{}*", &yes.name()[..6]);
    let t = Tracer::start(&["--comm", &glob]);
    let no = run(&mut no.quick());
    let yes_pid = run(&mut yes.quick());
    let records = stop_after_reap(t, yes_pid);
    // Its fork came before the exec: then it still had the test's comm.
    assert_eq!(types_of(&records, yes_pid), ["exec", "exit", "reap"]);
    assert_none_of(&records, no, "a process named otherwise");
    for r in process_records(&records) {
        let comm = r["comm"].as_str().unwrap_or_default();
        assert!(comm.starts_with("ptc-y-"), "{r}");
    }
}

/// A copy running before proctrace is matched through /proc/<pid>/exe; one exec'd after,
/// by its exec; its child, forked without an exec, runs the same program; another copy is
/// out.
#[test]
fn exe_follows_a_program_from_its_exec_and_from_proc() {
    let (yes, no) = (Program::copy("pte-y-"), Program::copy("pte-n-"));
    let held = Held::spawn(Command::new(&yes.path).args(["parent-kind", "default", "0"]));
    let glob = format!("*/pte-y-{}", std::process::id());
    let t = Tracer::start(&["--exe", &glob]);
    let no = run(&mut no.quick());
    let fresh = run(Command::new(&yes.path).args(["spawn", "1"]));
    let held = held.release();
    let records = stop_after_reap(t, held);

    assert_none_of(&records, no, "another program");
    assert_eq!(types_of(&records, fresh), ["exec", "exit", "reap"]);
    let child = records
        .iter()
        .find(|r| r["type"] == "fork" && r["ppid"] == fresh)
        .expect("the fork of its child, running the same program");
    let child = u32::try_from(child["pid"].as_u64().expect("pid")).expect("a pid");
    assert_eq!(types_of(&records, child), ["fork", "exit", "reap"]);
    assert_eq!(
        types_of(&records, held),
        ["exit", "reap"],
        "the process from before start, from /proc/<pid>/exe"
    );
    let ours: HashSet<u32> = HashSet::from([fresh, child, held]);
    for r in process_records(&records) {
        let pid = u32::try_from(r["pid"].as_u64().unwrap_or(0)).unwrap_or(0);
        assert!(ours.contains(&pid), "not {glob}: {r}");
    }
}

/// A child that setuid()s to nobody before its exec is in from the exec on (its fork was
/// root's); one that stays root is out.
#[test]
fn uid_keeps_a_processes_records_from_its_setuid_on() {
    let t = Tracer::start(&["--uid", "65534"]);
    let root = run(Command::new("sh").args(["-c", ":"]));
    let mut cmd = Command::new("sh");
    cmd.args(["-c", ":"]);
    // SAFETY: setgid/setuid in the child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let nobody = run(&mut cmd);
    let records = stop_after_reap(t, nobody);
    assert_eq!(types_of(&records, nobody), ["exec", "exit", "reap"]);
    assert_none_of(&records, root, "a root process");
    for r in process_records(&records) {
        if r.get("uid").is_some() {
            assert_eq!(r["uid"], 65534, "{r}");
        }
    }
}

/// `sh -c 'echo $$ > <cgroup.procs> && exec …'`: the records from the move on are in.
fn move_and_exec(procs: &std::path::Path, program: &str) -> Command {
    let script = format!("echo $$ > {} && exec {program}", procs.display());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    cmd
}

#[test]
fn cgroup_keeps_processes_in_and_below_a_cgroup() {
    let prefix = format!("/proctrace-test-{}", std::process::id());
    let mut t = Tracer::start(&["--cgroup", &prefix]);
    let cg = TestCgroup::create(&cgroup_mount(&t), "in");
    let outside = run(Command::new("sh").args(["-c", "/bin/true; :"]));
    let inside = run(&mut move_and_exec(&cg.procs(), "/bin/true"));
    wait_record(&mut t, "reap", inside);
    let records = t.stop();
    drop(cg);
    // The fork and the shell's exec came before the move.
    assert_eq!(types_of(&records, inside), ["exec", "exit", "reap"]);
    assert_none_of(&records, outside, "a shell outside the cgroup");
    for r in process_records(&records) {
        let path = r["cgroup"].as_str().unwrap_or_default();
        assert!(
            path == prefix || path.starts_with(&format!("{prefix}/")),
            "{r}"
        );
    }
}

#[test]
fn container_keeps_the_containers_with_that_id_prefix() {
    let (id, other_id) = (random_hex64(), random_hex64());
    let prefix = &id[..12];
    let mut t = Tracer::start(&["--container", prefix]);
    let mount = cgroup_mount(&t);
    let cg = TestCgroup::create(&mount, &format!("docker-{id}.scope"));
    let other_cg = TestCgroup::create(&mount, &format!("docker-{other_id}.scope"));
    let other = run(&mut move_and_exec(&other_cg.procs(), "/bin/true"));
    let inside = run(&mut move_and_exec(&cg.procs(), "/bin/true"));
    wait_record(&mut t, "reap", inside);
    let records = t.stop();
    drop((cg, other_cg));
    assert_eq!(types_of(&records, inside), ["exec", "exit", "reap"]);
    assert_none_of(&records, other, "another container");
    for r in process_records(&records) {
        let container = r["container_id"].as_str().unwrap_or_default();
        assert!(container.starts_with(prefix), "{r}");
    }
}

#[test]
fn type_keeps_those_record_types() {
    let t = Tracer::start(&["--type", "fork,reap"]);
    let sh = run(Command::new("sh").args(["-c", "/bin/true; :"]));
    let records = stop_after_reap(t, sh);
    assert_eq!(types_of(&records, sh), ["fork", "reap"]);
    let truth = records
        .iter()
        .find(|r| r["type"] == "fork" && r["ppid"] == sh)
        .expect("the fork of true");
    let truth = u32::try_from(truth["pid"].as_u64().expect("pid")).expect("a pid");
    assert_eq!(types_of(&records, truth), ["fork", "reap"]);
    for r in process_records(&records) {
        assert!(r["type"] == "fork" || r["type"] == "reap", "{r}");
    }
}

/// `--comm`, `--cgroup` and `--type` together: only the exec and exit of the process that
/// matches all three; those matching two of them are out.
#[test]
fn different_flags_must_all_match() {
    let program = Program::copy("ptk-");
    let glob = format!("{}*", program.name());
    let prefix = format!("/proctrace-test-{}", std::process::id());
    let mut t = Tracer::start(&["--comm", &glob, "--cgroup", &prefix, "--type", "exec,exit"]);
    let cg = TestCgroup::create(&cgroup_mount(&t), "in");
    let path = program.path.display().to_string();
    let comm_only = run(&mut program.quick());
    let cgroup_only = run(&mut move_and_exec(&cg.procs(), "/bin/true"));
    let all = run(&mut move_and_exec(
        &cg.procs(),
        &format!("{path} threads 0"),
    ));
    wait_record(&mut t, "exit", all);
    let records = t.stop();
    drop(cg);
    assert_eq!(types_of(&records, all), ["exec", "exit"]);
    assert_none_of(&records, comm_only, "the right comm outside the cgroup");
    assert_none_of(&records, cgroup_only, "the cgroup with another comm");
    for r in process_records(&records) {
        assert!(r["type"] == "exec" || r["type"] == "exit", "{r}");
        assert!(
            r["comm"].as_str().unwrap_or_default().starts_with("ptk-"),
            "{r}"
        );
    }
}

/// A filter that matches nothing, while processes churn outside it (forks, execs, orphans,
/// zombies): the engine still sees them all, so every check is clean.
#[test]
fn a_filtered_run_reconciles_like_an_unfiltered_one() {
    let nothing = format!("pt-none-{}", std::process::id());
    let mut t = Tracer::start(&["--comm", &nothing, "--proc-check-interval", "1s"]);
    let churn = run(Command::new(scenario_bin()).args(["churn", "2"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_checks(&t.records).len() < 3 {
        assert!(Instant::now() < deadline, "fewer than 3 checks in 10 s");
        t.wait_for(Duration::from_millis(200), |_| false);
    }
    let records = t.stop();
    assert!(
        process_records(&records).is_empty(),
        "nothing is named {nothing}: {:?}",
        process_records(&records)
    );
    assert!(
        !records.iter().any(|r| r["type"] == "lost"),
        "nothing may be lost for this test to hold"
    );
    for (check, n) in proc_checks(&records) {
        assert_eq!(
            n, 0,
            "a discrepancy while the churn {churn} ran outside the filter: {check}"
        );
    }
    let summary = records.last().expect("the summary");
    assert!(
        summary["counts"]["fork"].as_u64().unwrap_or(0) > 0,
        "the summary counts the whole host's records: {summary}"
    );
}

#[test]
fn start_lost_proc_check_and_summary_pass_a_filter_that_matches_nothing() {
    let nothing = format!("pt-none-{}", std::process::id());
    let mut t = Tracer::start(&[
        "--comm",
        &nothing,
        "--ring-buffer-size",
        "4K",
        "--proc-check-interval",
        "1s",
    ]);
    let out = Command::new(scenario_bin())
        .args(["storm", "1500", "1"])
        .output()
        .expect("storm");
    assert!(out.status.success());
    t.wait_for(Duration::from_secs(5), |r| r["type"] == "lost")
        .expect("a 4 KiB ring buffer overflows in a storm: a lost record");
    t.wait_for(Duration::from_secs(5), |r| r["type"] == "proc_check")
        .expect("a proc_check record");
    let records = t.stop();
    let types: HashSet<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        HashSet::from(["start", "lost", "proc_check", "summary"]),
        "nothing else matches"
    );
}

/// The real binary refuses bad filter values before loading anything: exit 2, one line
/// saying what to give instead, nothing on stdout.
#[test]
fn bad_filter_values_are_usage_errors() {
    for (args, says) in [
        (
            &["--type", "forks"][..],
            "--type takes fork, exec, exit, zombie and reap",
        ),
        (&["--comm", ""], "give a glob such as"),
        (&["--container", "abc"], "give 4 to 64 hex digits"),
        (&["--cgroup", "system.slice"], "starting with '/'"),
        (&["--tree", "4194304"], "give the pid of a running process"),
        (&["--uid", "no-such-user-proctrace"], "give a numeric uid"),
    ] {
        // A value wrongly accepted starts tracing: killed after 5 s, and the test fails.
        let mut child = Command::new(crate::common::proctrace_bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run proctrace");
        let status = exit_within(&mut child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(2), "{args:?}");
        let mut stderr = String::new();
        let mut stdout = Vec::new();
        let _ = child
            .stderr
            .take()
            .map(|mut e| e.read_to_string(&mut stderr));
        let _ = child.stdout.take().map(|mut o| o.read_to_end(&mut stdout));
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: invalid value") && first.contains(says),
            "{args:?}: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?}");
    }
}
