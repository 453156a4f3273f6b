//! Why a zombie is not reaped: the `diagnosis` of `zombie` records and of the summary's
//! `unreaped` entries, and the summary's `zombies_by_parent` and `zombies_by_container`, for
//! parents that behave in each way the verdicts name (proctrace-scenario `parent-kind`: a
//! parent whose children exit at once and which reaps them only when its stdin closes).
//! Every zombie is reaped in the end, by its own parent.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{
    cgroup_mount, kernel_release, random_hex64, scenario_bin, tree, wait_record, TestCgroup, Tracer,
};

crate::both_modes!(
    a_parent_blocking_sigchld_is_named,
    a_parent_ignoring_sigchld_leaves_no_zombie,
    a_handler_that_does_not_wait_is_named,
    a_parent_that_never_waits_is_named,
    a_stopped_parent_is_named,
    a_parent_waiting_for_another_child_is_named,
    a_busy_parent_is_named,
    a_parent_that_waited_before_is_not_waiting,
    a_parent_ignoring_sigchld_too_late_is_named,
    a_subreapers_orphans_name_it,
    the_summary_diagnoses_and_groups_unreaped_zombies,
    a_containers_zombie_is_grouped_under_its_id,
);

/// Children per parent.
const N: usize = 3;
const THRESHOLD: &str = "200ms";
const THRESHOLD_NS: u64 = 200_000_000;
/// The kernel's comm of the scenario (15 bytes of `proctrace-scenario`).
const SCENARIO_COMM: &str = "proctrace-scena";

/// proctrace in `mode` with the short threshold, and `--top 1000` so that other zombies on the
/// host cannot push ours out of the summary's groupings.
fn tracer(mode: &str) -> Tracer {
    Tracer::start(&[
        "--hooks",
        mode,
        "--zombie-threshold",
        THRESHOLD,
        "--top",
        "1000",
    ])
}

/// A running `parent-kind` scenario, its children all zombies (or, ignored, gone).
struct Parent {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pid: u32,
    children: Vec<u32>,
    /// The long sleeper of `waits-other` (0 otherwise).
    sleeper: u32,
}

impl Parent {
    fn spawn(kind: &str, n: usize, procs: Option<&Path>) -> Parent {
        let mut cmd = Command::new(scenario_bin());
        cmd.args(["parent-kind", kind, &n.to_string()]);
        if let Some(procs) = procs {
            cmd.arg(procs);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the scenario");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let pid = child.id();
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the scenario");
        let mut parent = Parent {
            child,
            stdin,
            stdout,
            pid,
            children: Vec::new(),
            sleeper: 0,
        };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            let status = parent.release();
            panic!("parent-kind {kind} {n} printed {line:?} and ended with {status:?}");
        };
        parent.children = v["children"]
            .as_array()
            .expect("children")
            .iter()
            .map(|c| c.as_u64().expect("a child's pid") as u32)
            .collect();
        parent.sleeper = v["sleeper"].as_u64().unwrap_or(0) as u32;
        assert_eq!(parent.children.len(), n, "{v}");
        parent
    }

    /// SIGCONT (for a stopped parent), then end of file on its stdin: it reaps its children
    /// and exits. Its exit status and last line; one still running after 10 s is killed and
    /// fails the test.
    fn release(&mut self) -> (std::process::ExitStatus, Value) {
        let status = self
            .end(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("parent-kind {} did not end within 10 s", self.pid));
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        (status, serde_json::from_str(&line).unwrap_or(Value::Null))
    }

    /// `release` without the checks (never panics): `None` when it had to be killed.
    fn end(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid as i32, libc::SIGCONT) };
        drop(self.stdin.take());
        let begin = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if begin.elapsed() < within => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }

    /// Releases it, which must reap its N children; then each child's reap is the parent's
    /// wait, `long_lived` (it must have had its alert).
    fn release_and_check_reaps(&mut self, t: &mut Tracer) {
        let (status, last) = self.release();
        assert!(status.success(), "parent-kind {}: {status:?}", self.pid);
        assert_eq!(last["reaped"], self.children.len(), "{last}");
        for &child in &self.children {
            let reap = wait_record(t, "reap", child);
            assert_eq!(reap["how"], "wait", "{reap}");
            assert_eq!(reap["reaper"], self.pid, "{reap}");
            assert_eq!(reap["zombie_class"], "long_lived", "{reap}");
        }
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.end(Duration::from_secs(10));
        }
    }
}

/// The `zombie` records of `parent`'s children, in the order they came; each child has one.
fn zombies(t: &mut Tracer, parent: &Parent) -> Vec<Value> {
    for &child in &parent.children {
        wait_record(t, "zombie", child);
    }
    let zombies: Vec<Value> = t
        .records
        .iter()
        .filter(|r| {
            r["type"] == "zombie"
                && parent
                    .children
                    .iter()
                    .any(|&c| r["pid"].as_u64() == Some(u64::from(c)))
        })
        .cloned()
        .collect();
    assert_eq!(zombies.len(), parent.children.len(), "{zombies:?}");
    // Our own process tree: forked by the scenario, which we forked.
    let pids = tree(&t.records, std::process::id());
    for z in &zombies {
        assert!(
            pids.contains(&z["pid"].as_u64().unwrap_or(0)),
            "{z} is not in our process tree"
        );
    }
    zombies
}

/// The keys of `diagnosis`, exactly.
const DIAGNOSIS_KEYS: [&str; 7] = [
    "verdict",
    "parent_state",
    "parent_wchan",
    "sigchld",
    "sigchld_blocked",
    "parent_last_wait_ns",
    "parent_role",
];

/// When the parent last called a wait-family function, as `parent_last_wait_ns` says.
#[derive(Clone, Copy, Debug)]
enum LastWait {
    /// None since proctrace started: `null`.
    Never,
    /// Before the zombie's exit: a number larger than its `zombie_ns`.
    BeforeExit,
    /// After its exit: a number smaller than its `zombie_ns`.
    AfterExit,
}

/// What the diagnosis of a zombie of the parent `kind` must say.
struct Expect {
    verdict: &'static str,
    state: &'static str,
    sigchld: &'static str,
    blocked: bool,
    last_wait: LastWait,
    /// `parent_role`: `parent`, or `subreaper` for reparented orphans.
    role: &'static str,
    /// `Some`: exactly this wchan (`None` means null); `None`: any string.
    wchan: Option<Option<&'static str>>,
}

/// Whether the kernel names where a sleeping task waits: from 5.16 on, get_wchan() uses the
/// kernel's unwinder (stack_trace_save_tsk()), whatever it is.
fn wchan_readable() -> bool {
    kernel_release() >= (5, 16)
}

/// A parent that never waits, with the default disposition, asleep in read(2).
const NEVER_WAITS: Expect = Expect {
    verdict: "parent_never_waits",
    state: "S",
    sigchld: "default",
    blocked: false,
    last_wait: LastWait::Never,
    role: "parent",
    wchan: None,
};

/// Checks one diagnosis (of a `zombie` record or a summary's `unreaped` entry, `r`).
fn check_diagnosis(r: &Value, want: &Expect) {
    let d = &r["diagnosis"];
    let keys: Vec<&str> = d
        .as_object()
        .unwrap_or_else(|| panic!("no diagnosis object: {r}"))
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = DIAGNOSIS_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{r}");
    assert_eq!(d["verdict"], want.verdict, "{r}");
    assert_eq!(d["parent_state"], want.state, "{r}");
    assert_eq!(d["sigchld"], want.sigchld, "{r}");
    assert_eq!(d["sigchld_blocked"], want.blocked, "{r}");
    assert_eq!(d["parent_role"], want.role, "{r}");
    match want.wchan {
        // Before 5.16 x86's get_wchan() walked frame pointers, which kernels built with the
        // ORC unwinder (Debian's) do not keep: /proc/PID/wchan says "0" there (null).
        _ if !wchan_readable() => assert_eq!(d["parent_wchan"], Value::Null, "{r}"),
        Some(Some(wchan)) => assert_eq!(d["parent_wchan"], wchan, "{r}"),
        Some(None) => assert_eq!(d["parent_wchan"], Value::Null, "{r}"),
        None => assert!(d["parent_wchan"].is_string(), "{r}"),
    }
    let zombie_ns = r["zombie_ns"].as_u64().expect("zombie_ns");
    let last = &d["parent_last_wait_ns"];
    match want.last_wait {
        LastWait::Never => assert_eq!(*last, Value::Null, "{r}"),
        LastWait::BeforeExit => {
            let last = last.as_u64().unwrap_or_else(|| panic!("no last wait: {r}"));
            assert!(last > zombie_ns, "the wait was before the exit: {r}");
        }
        LastWait::AfterExit => {
            let last = last.as_u64().unwrap_or_else(|| panic!("no last wait: {r}"));
            assert!(last < zombie_ns, "the wait was after the exit: {r}");
        }
    }
}

/// A parent of `kind` with N zombie children: each gets one `zombie` record, traced, past the
/// threshold, naming the parent, its N-1 zombie siblings and the diagnosis `want`; released,
/// the parent reaps them all. Returns every record, through the summary.
fn diagnosed(mode: &str, kind: &str, want: &Expect) -> (Parent, Vec<Value>) {
    let mut t = tracer(mode);
    let mut parent = Parent::spawn(kind, N, None);
    let zombies = zombies(&mut t, &parent);
    for z in &zombies {
        assert_eq!(z["ppid"], parent.pid, "{z}");
        assert_eq!(z["parent_comm"], SCENARIO_COMM, "{z}");
        assert_eq!(z["source"], "trace", "{z}");
        assert_eq!(z["reparented"], want.role == "subreaper", "{z}");
        assert_eq!(z["container_id"], Value::Null, "{z}");
        assert!(
            z["zombie_ns"].as_u64().expect("zombie_ns") >= THRESHOLD_NS,
            "{z}"
        );
        // The children exit 30 ms apart: an alert counts those already dead at its time,
        // at most the N-1 others.
        assert!(z["siblings_unreaped"].as_u64() < Some(N as u64), "{z}");
        check_diagnosis(z, want);
    }
    // The last alert comes after every exit: it counts all N-1 others.
    let counts: Vec<u64> = zombies
        .iter()
        .map(|z| z["siblings_unreaped"].as_u64().unwrap_or(0))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(counts.last().copied(), Some(N as u64 - 1), "{counts:?}");
    parent.release_and_check_reaps(&mut t);
    (parent, t.stop())
}

/// The summary (the last record).
fn summary(records: &[Value]) -> &Value {
    let s = records.last().expect("records");
    assert_eq!(s["type"], "summary");
    s
}

/// The summary's `zombies_by_parent` entry of `ppid`.
fn by_parent(summary: &Value, ppid: u32) -> &Value {
    summary["zombies_by_parent"]
        .as_array()
        .expect("zombies_by_parent")
        .iter()
        .find(|e| e["ppid"] == ppid)
        .unwrap_or_else(|| panic!("no zombies_by_parent entry for {ppid}: {summary}"))
}

/// The summary's `zombies_by_container` entry of `id` (`Value::Null`: the host).
fn by_container<'a>(summary: &'a Value, id: &Value) -> &'a Value {
    summary["zombies_by_container"]
        .as_array()
        .expect("zombies_by_container")
        .iter()
        .find(|e| e["container_id"] == *id)
        .unwrap_or_else(|| panic!("no zombies_by_container entry for {id}: {summary}"))
}

/// SIGCHLD blocked and no wait: its handler would never run. Released, the parent reaps them;
/// the summary counts them under the parent as reaped `long_lived`, none unreaped.
fn a_parent_blocking_sigchld_is_named(mode: &str) {
    let (parent, records) = diagnosed(
        mode,
        "block",
        &Expect {
            verdict: "parent_blocks_sigchld",
            state: "S",
            sigchld: "default",
            blocked: true,
            last_wait: LastWait::Never,
            role: "parent",
            wchan: None,
        },
    );
    let entry = by_parent(summary(&records), parent.pid);
    assert_eq!(entry["unreaped"], 0, "{entry}");
    assert_eq!(entry["long_lived_reaped"], N, "{entry}");
    assert_eq!(entry["parent_comm"], SCENARIO_COMM, "{entry}");
    let reaps: Vec<u64> = records
        .iter()
        .filter(|r| r["type"] == "reap" && r["reaper"] == parent.pid)
        .map(|r| r["zombie_ns"].as_u64().expect("zombie_ns"))
        .collect();
    assert_eq!(entry["max_zombie_ns"], reaps.into_iter().max().unwrap_or(0));
}

/// SIGCHLD ignored: the kernel autoreaps every child, and none is ever a zombie.
fn a_parent_ignoring_sigchld_leaves_no_zombie(mode: &str) {
    let mut t = tracer(mode);
    let mut parent = Parent::spawn("ignore", N, None);
    let children = parent.children.clone();
    let ours = |r: &&Value| {
        children
            .iter()
            .any(|&c| r["pid"].as_u64() == Some(u64::from(c)))
    };
    // Past the threshold and the alert's 100 ms: no alert can be pending any more.
    t.wait_for(
        Duration::from_nanos(THRESHOLD_NS) + Duration::from_millis(300),
        |_| false,
    );
    let alerts: Vec<&Value> = t
        .records
        .iter()
        .filter(|r| r["type"] == "zombie")
        .filter(ours)
        .collect();
    assert!(alerts.is_empty(), "zombie records: {alerts:?}");
    for &child in &children {
        let reap = wait_record(&mut t, "reap", child);
        assert_eq!(reap["how"], "autoreap", "{reap}");
        assert_eq!(reap["zombie_ns"], 0, "{reap}");
        assert_eq!(reap["ppid"], parent.pid, "{reap}");
    }
    let (status, _) = parent.release();
    assert!(status.success(), "{status:?}");
    wait_record(&mut t, "exit", parent.pid);
    let records = t.stop();
    let s = summary(&records);
    assert!(
        !records
            .iter()
            .filter(|r| r["type"] == "zombie")
            .any(|r| ours(&r)),
        "zombie records after the release"
    );
    let unreaped: Vec<&Value> = s["unreaped"]
        .as_array()
        .expect("unreaped")
        .iter()
        .filter(ours)
        .collect();
    assert!(unreaped.is_empty(), "{unreaped:?}");
    assert!(
        s["zombies_by_parent"]
            .as_array()
            .expect("zombies_by_parent")
            .iter()
            .all(|e| e["ppid"] != parent.pid),
        "{s}"
    );
}

/// A SIGCHLD handler that does not wait.
fn a_handler_that_does_not_wait_is_named(mode: &str) {
    diagnosed(
        mode,
        "handle",
        &Expect {
            verdict: "parent_handler_does_not_wait",
            state: "S",
            sigchld: "handled",
            blocked: false,
            last_wait: LastWait::Never,
            role: "parent",
            wchan: None,
        },
    );
}

/// The default disposition and no wait at all.
fn a_parent_that_never_waits_is_named(mode: &str) {
    diagnosed(mode, "default", &NEVER_WAITS);
}

/// Stopped by SIGSTOP: it cannot run its wait. SIGCONT, and it reaps.
fn a_stopped_parent_is_named(mode: &str) {
    diagnosed(
        mode,
        "stopped",
        &Expect {
            verdict: "parent_stopped",
            state: "T",
            sigchld: "default",
            blocked: false,
            last_wait: LastWait::Never,
            role: "parent",
            wchan: None,
        },
    );
}

/// Blocked in waitpid(another child) since after the exits: `do_wait`, a wait younger than the
/// zombie. The hook noting the waits is named in `start.hooks.wait`.
fn a_parent_waiting_for_another_child_is_named(mode: &str) {
    let (parent, records) = diagnosed(
        mode,
        "waits-other",
        &Expect {
            verdict: "parent_waits_for_others",
            state: "S",
            sigchld: "default",
            blocked: false,
            last_wait: LastWait::AfterExit,
            role: "parent",
            wchan: Some(Some("do_wait")),
        },
    );
    assert_ne!(parent.sleeper, 0);
    let wait_hook = &records[0]["hooks"]["wait"];
    let classic = "tracepoint/sched/sched_process_wait";
    if mode == "classic" {
        assert_eq!(*wait_hook, classic, "{}", records[0]);
    } else {
        assert!(
            *wait_hook == "tp_btf/sched_process_wait" || *wait_hook == classic,
            "{}",
            records[0]
        );
    }
}

/// It waited (for an earlier child) before the exits, not since, and runs on CPU.
fn a_busy_parent_is_named(mode: &str) {
    diagnosed(
        mode,
        "busy",
        &Expect {
            verdict: "parent_busy",
            state: "R",
            sigchld: "default",
            blocked: false,
            last_wait: LastWait::BeforeExit,
            role: "parent",
            wchan: Some(None),
        },
    );
}

/// proctrace stopped while a parent that never waits holds N zombies: each is in `unreaped`
/// with its diagnosis (made at the summary), `container_id` (the host's null) and siblings;
/// `zombies_by_parent` counts N unreaped for the parent, `zombies_by_container` at least N
/// for the host, and both are in the contract's order.
fn the_summary_diagnoses_and_groups_unreaped_zombies(mode: &str) {
    let mut t = tracer(mode);
    let mut parent = Parent::spawn("default", N, None);
    zombies(&mut t, &parent);
    let records = t.stop();
    parent.release();
    let s = summary(&records);
    let unreaped: Vec<&Value> = s["unreaped"]
        .as_array()
        .expect("unreaped")
        .iter()
        .filter(|u| u["ppid"] == parent.pid)
        .collect();
    let mut pids: Vec<u64> = unreaped
        .iter()
        .map(|u| u["pid"].as_u64().expect("pid"))
        .collect();
    pids.sort_unstable();
    let mut want: Vec<u64> = parent.children.iter().map(|&c| u64::from(c)).collect();
    want.sort_unstable();
    assert_eq!(pids, want, "{s}");
    for u in &unreaped {
        assert_eq!(u["container_id"], Value::Null, "{u}");
        assert_eq!(u["siblings_unreaped"], N - 1, "{u}");
        assert_eq!(u["reparented"], false, "{u}");
        assert_eq!(u["parent_comm"], SCENARIO_COMM, "{u}");
        assert!(
            u["zombie_ns"].as_u64().expect("zombie_ns") >= THRESHOLD_NS,
            "{u}"
        );
        check_diagnosis(u, &NEVER_WAITS);
    }
    let oldest = unreaped
        .iter()
        .map(|u| u["zombie_ns"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);

    let entry = by_parent(s, parent.pid);
    assert_eq!(entry["unreaped"], N, "{entry}");
    assert_eq!(entry["long_lived_reaped"], 0, "{entry}");
    assert_eq!(entry["parent_comm"], SCENARIO_COMM, "{entry}");
    let fork = records
        .iter()
        .find(|r| r["type"] == "fork" && r["pid"] == parent.pid)
        .expect("the scenario's fork");
    assert_eq!(entry["parent_proc_id"], fork["proc_id"], "{entry}");
    let max = entry["max_zombie_ns"].as_u64().expect("max_zombie_ns");
    assert!(
        max >= oldest && max - oldest < 50_000_000,
        "{entry} vs {oldest}"
    );

    let order = |list: &Value, key: &str| -> Vec<(u64, u64, String)> {
        list.as_array()
            .unwrap_or_else(|| panic!("no {key}"))
            .iter()
            .map(|e| {
                (
                    e["unreaped"].as_u64().expect("unreaped"),
                    e["long_lived_reaped"].as_u64().expect("long_lived_reaped"),
                    e[key].to_string(),
                )
            })
            .collect()
    };
    let parents = order(&s["zombies_by_parent"], "ppid");
    assert!(
        parents.windows(2).all(|w| {
            (w[0].0, w[0].1) > (w[1].0, w[1].1)
                || ((w[0].0, w[0].1) == (w[1].0, w[1].1)
                    && w[0].2.parse::<u64>().ok() < w[1].2.parse::<u64>().ok())
        }),
        "zombies_by_parent order: {parents:?}"
    );

    let host = by_container(s, &Value::Null);
    assert!(
        host["unreaped"].as_u64().expect("unreaped") >= N as u64,
        "{host}"
    );
    assert!(
        host["max_zombie_ns"].as_u64().expect("max") >= oldest,
        "{host}"
    );
    for e in s["zombies_by_container"].as_array().expect("by container") {
        let keys: Vec<&str> = e
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "container_id",
                "long_lived_reaped",
                "max_zombie_ns",
                "unreaped"
            ],
            "{e}"
        );
    }
}

/// A child moved into `<hierarchy>/proctrace-test-<pid>/cri-containerd-<64 hex>.scope` (the
/// layout of containerd's CRI plugin with the systemd driver) before it exits, a zombie of a
/// parent that never waits: its `zombie` record names the container, and the summary, made
/// while it is unreaped, groups it under that id.
fn a_containers_zombie_is_grouped_under_its_id(mode: &str) {
    let mut t = tracer(mode);
    let id = random_hex64();
    let cg = TestCgroup::create(&cgroup_mount(&t), &format!("cri-containerd-{id}.scope"));
    let mut parent = Parent::spawn("default", 1, Some(&cg.procs()));
    let zombie = zombies(&mut t, &parent).remove(0);
    assert_eq!(zombie["container_id"], id.as_str(), "{zombie}");
    let path = zombie["cgroup"]
        .as_str()
        .unwrap_or_else(|| panic!("no cgroup: {zombie}"));
    assert!(path.ends_with(&cg.suffix()), "{path}: {zombie}");
    assert_eq!(
        zombie["diagnosis"]["verdict"], "parent_never_waits",
        "{zombie}"
    );
    assert_eq!(zombie["siblings_unreaped"], 0, "{zombie}");
    let records = t.stop();
    let (status, _) = parent.release();
    assert!(status.success(), "{status:?}");
    drop(cg);

    let s = summary(&records);
    let child = parent.children[0];
    let unreaped = s["unreaped"]
        .as_array()
        .expect("unreaped")
        .iter()
        .find(|u| u["pid"] == child)
        .unwrap_or_else(|| panic!("{child} not unreaped: {s}"));
    assert_eq!(unreaped["container_id"], id.as_str(), "{unreaped}");
    let entry = by_container(s, &Value::from(id.as_str()));
    assert_eq!(entry["unreaped"], 1, "{entry}");
    assert_eq!(entry["long_lived_reaped"], 0, "{entry}");
    let age = unreaped["zombie_ns"].as_u64().expect("zombie_ns");
    let max = entry["max_zombie_ns"].as_u64().expect("max_zombie_ns");
    assert!(
        max >= age && max - age < 50_000_000,
        "{entry} vs {unreaped}"
    );
    // The parent is on the host: not counted under the container.
    assert_eq!(zombie["ppid"], parent.pid);
    let fork = records
        .iter()
        .find(|r| r["type"] == "fork" && r["pid"] == parent.pid)
        .expect("the scenario's fork");
    assert_eq!(fork["container_id"], Value::Null, "{fork}");
}

/// It waited (for another child) before these exited, and sleeps elsewhere since.
fn a_parent_that_waited_before_is_not_waiting(mode: &str) {
    diagnosed(
        mode,
        "waited-before",
        &Expect {
            verdict: "parent_not_waiting",
            state: "S",
            sigchld: "default",
            blocked: false,
            last_wait: LastWait::BeforeExit,
            role: "parent",
            wchan: None,
        },
    );
}

/// SIGCHLD set to SIG_IGN after the children died: the kernel autoreaps only children that
/// exit afterwards (do_notify_parent()), these stay zombies of a parent that never waits.
fn a_parent_ignoring_sigchld_too_late_is_named(mode: &str) {
    diagnosed(
        mode,
        "ignore-late",
        &Expect {
            verdict: "parent_never_waits",
            state: "S",
            sigchld: "ignored",
            blocked: false,
            last_wait: LastWait::Never,
            role: "parent",
            wchan: None,
        },
    );
}

/// A subreaper's orphans (their parent exited and was reaped by it, before they died):
/// reparented to it, they name it `subreaper`; it waited, before their exits.
fn a_subreapers_orphans_name_it(mode: &str) {
    diagnosed(
        mode,
        "subreaper",
        &Expect {
            verdict: "parent_not_waiting",
            state: "S",
            sigchld: "default",
            blocked: false,
            last_wait: LastWait::BeforeExit,
            role: "subreaper",
            wchan: None,
        },
    );
}
