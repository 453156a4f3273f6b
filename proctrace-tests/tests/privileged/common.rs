//! Harness for privileged tests: runs the real `proctrace` binary (real kernel programs, no
//! mocks), waits for its `start` record, and collects records for the test's own process tree.
//! Anything that keeps proctrace from loading fails the test: nothing here skips.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The binaries under test. proctrace is another package's binary: `cargo xtask test` and
/// `cargo xtask kernel-matrix` name it in PROCTRACE_BIN. PROCTRACE_SCENARIO_BIN overrides the
/// build path of the scenario (the kernel-matrix guests run it from another location).
pub fn proctrace_bin() -> String {
    std::env::var("PROCTRACE_BIN").unwrap_or_else(|_| {
        panic!("PROCTRACE_BIN is not set: run the privileged suite with `cargo xtask test`")
    })
}

pub fn scenario_bin() -> String {
    std::env::var("PROCTRACE_SCENARIO_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_proctrace-scenario").to_owned())
}

/// proctrace running with `args`, its stdout lines parsed on a thread of their own and sent
/// to `rx`, its stderr collected until it exits.
pub struct Spawned<T> {
    pub child: Child,
    pub rx: Receiver<T>,
    pub stderr: std::thread::JoinHandle<String>,
}

/// Starts proctrace (as root: it loads BPF programs) with `args`; each line of its stdout,
/// without the newline, goes through `parse`.
pub fn spawn_lines<T: Send + 'static>(args: &[&str], parse: fn(Vec<u8>) -> T) -> Spawned<T> {
    assert!(
        // SAFETY: no arguments, cannot fail.
        unsafe { libc::geteuid() } == 0,
        "privileged tests must run as root (they load BPF programs); run `cargo xtask test` as root"
    );
    let mut child = Command::new(proctrace_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn proctrace");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if tx.send(parse(line)).is_err() {
                break;
            }
        }
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    Spawned { child, rx, stderr }
}

pub struct Tracer {
    child: Child,
    rx: Receiver<Value>,
    pub records: Vec<Value>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Tracer {
    /// Start proctrace with `args` and wait (up to 60 s) for its `start` record.
    pub fn start(args: &[&str]) -> Tracer {
        let Spawned { child, rx, stderr } = spawn_lines(args, |line| {
            let text = String::from_utf8(line).expect("proctrace printed a line that is not UTF-8");
            serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("proctrace printed a line that is not JSON ({e}): {text:?}")
            })
        });
        let mut tracer = Tracer {
            child,
            rx,
            records: Vec::new(),
            stderr: Some(stderr),
        };
        let start = tracer.wait_for(Duration::from_secs(60), |r| r["type"] == "start");
        if start.is_none() {
            let _ = tracer.child.kill();
            let _ = tracer.child.wait();
            panic!(
                "proctrace did not print a start record; stderr:\n{}",
                tracer.take_stderr()
            );
        }
        tracer
    }

    /// Collect records until one matches `pred` or `timeout` passes.
    pub fn wait_for(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(r) = self.records.iter().find(|r| pred(r)) {
            return Some(r.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => {
                    let hit = pred(&r);
                    self.records.push(r.clone());
                    if hit {
                        return Some(r);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGINT, wait for exit (must be 0 within 2 s), return every record.
    pub fn stop(self) -> Vec<Value> {
        self.stop_signalled(libc::SIGINT)
    }

    /// Send `sig`, wait for exit (must be 0 within 2 s), return every record.
    pub fn stop_signalled(mut self, sig: i32) -> Vec<Value> {
        self.signal(sig);
        let status = exit_within(&mut self.child, Duration::from_secs(2));
        while let Ok(r) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.records.push(r);
        }
        let stderr = self.take_stderr();
        assert!(
            status.success(),
            "proctrace exited with {status}; stderr:\n{stderr}"
        );
        let last = self.records.last().expect("records");
        assert_eq!(last["type"], "summary", "summary must be the last line");
        std::mem::take(&mut self.records)
    }

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pids of `root` and its descendants, from `fork` records.
pub fn tree(records: &[Value], root: u32) -> HashSet<u64> {
    let mut set = HashSet::from([u64::from(root)]);
    for r in records {
        if r["type"] == "fork" && set.contains(&r["ppid"].as_u64().unwrap_or(0)) {
            set.insert(r["pid"].as_u64().unwrap_or(0));
        }
    }
    set
}

/// Records of type `ty` for process `pid`.
pub fn of<'a>(records: &'a [Value], ty: &str, pid: u64) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == ty && r["pid"].as_u64() == Some(pid))
        .collect()
}

/// Run a scenario (or any command) as our child and parse the JSON lines it prints.
pub fn run(cmd: &str, args: &[&str]) -> (u32, std::process::ExitStatus, Vec<Value>) {
    let child = Command::new(cmd)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (pid, out.status, lines)
}

/// Expand to one test per hook mode: `auto` (what proctrace probes) and `classic` (the
/// tracepoint fallback forced), so both paths stay correct.
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod auto { $( #[test] fn $name() { super::$name("auto") } )* }
        mod classic { $( #[test] fn $name() { super::$name("classic") } )* }
    };
}

/// `both_modes!` and one more test per name with `--hooks tracepoints`: no function hook on
/// release_task(), so the reap comes from `sched_process_free` with bounded timing, the path
/// of kernels that refuse fentry and have no kprobes (as the CI host), exercised on every
/// kernel of the matrix too (they all accept fentry, so `auto` never takes it there).
#[macro_export]
macro_rules! three_modes {
    ($($name:ident),* $(,)?) => {
        $crate::both_modes!($($name),*);
        mod tracepoints { $( #[test] fn $name() { super::$name("tracepoints") } )* }
    };
}

/// proctrace with `--hooks mode`; in `tracepoints` mode the start record must show the
/// bounded reap path, or the test would not test what it says.
pub fn tracer(mode: &str) -> Tracer {
    let t = Tracer::start(&["--hooks", mode]);
    if mode == "tracepoints" {
        assert_bounded_path(&t.records[0]);
    }
    t
}

/// No function hook, and the reap from `tp_btf/sched_process_free` with bounded timing.
pub fn assert_bounded_path(start: &Value) {
    let hooks = start["hooks"].as_object().expect("start.hooks");
    for (job, hook) in hooks {
        let hook = hook.as_str().unwrap_or_default();
        assert!(
            !hook.contains("fentry/") && !hook.contains("kprobe/"),
            "{job} uses a function hook: {start}"
        );
    }
    assert_eq!(
        start["hooks"]["reap"], "tp_btf/sched_process_free",
        "{start}"
    );
    assert_eq!(start["reap_timing"], "bounded", "{start}");
}

/// Wait until `ty` for `pid` is seen (events of a finished child may still be in flight).
pub fn wait_record(t: &mut Tracer, ty: &str, pid: u32) -> Value {
    t.wait_for(Duration::from_secs(10), |r| {
        r["type"] == ty && r["pid"] == pid
    })
    .unwrap_or_else(|| panic!("no {ty} record for {pid}"))
}

pub fn wait_exit(t: &mut Tracer, pid: u32) -> Value {
    wait_record(t, "exit", pid)
}

pub use proctrace_tests::boottime_ns;

/// A traced second ends with `start` first and `summary` last, and exit 0.
pub fn assert_traced_normally(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what}: exit {}: {stderr}",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let types: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["type"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("start"), "{what}");
    assert_eq!(types.last().map(String::as_str), Some("summary"), "{what}");
}

/// Waits for `child` to exit; one still running after `within` is killed and fails the test
/// (never hangs it).
pub fn exit_within(child: &mut Child, within: Duration) -> ExitStatus {
    let begin = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if begin.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("proctrace still running after {within:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// (major, minor) of the running kernel, from /proc/sys/kernel/osrelease (`5.10.0-46-…`).
pub fn kernel_release() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().expect("a kernel version number"));
    let major = parts.next().expect("major");
    (major, parts.next().expect("minor"))
}

/// Where the cgroup hierarchy the records' `cgroup` paths are in is mounted
/// (`start.cgroup_hierarchy.mount`): v1 `pids` on a hybrid host, the unified one on a v2 host.
pub fn cgroup_mount(t: &Tracer) -> String {
    let start = t
        .records
        .iter()
        .find(|r| r["type"] == "start")
        .expect("the start record");
    start["cgroup_hierarchy"]["mount"]
        .as_str()
        .unwrap_or_else(|| panic!("no cgroup hierarchy in {start}"))
        .to_owned()
}

/// A cgroup `<mount>/proctrace-test-<our pid>/<leaf>`, removed on drop (and its parent).
pub struct TestCgroup {
    pub dir: PathBuf,
}

impl TestCgroup {
    pub fn create(mount: &str, leaf: &str) -> TestCgroup {
        let parent = format!("proctrace-test-{}", std::process::id());
        let cg = TestCgroup {
            dir: Path::new(mount).join(parent).join(leaf),
        };
        std::fs::create_dir_all(&cg.dir)
            .unwrap_or_else(|e| panic!("create the test cgroup {:?}: {e}", cg.dir));
        cg
    }

    /// Its `cgroup.procs`: a pid written there moves that process in.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// `/proctrace-test-<pid>/<leaf>`: how the records' `cgroup` paths of its members end.
    pub fn suffix(&self) -> String {
        let mut parts = self.dir.iter().rev().take(2).collect::<Vec<_>>();
        parts.reverse();
        parts.iter().fold(String::new(), |mut s, p| {
            s.push('/');
            s.push_str(&p.to_string_lossy());
            s
        })
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// 64 random lowercase hex digits: a container id.
pub fn random_hex64() -> String {
    let mut bytes = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").expect("open /dev/urandom");
    std::io::Read::read_exact(&mut f, &mut bytes).expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// proc_check records with their three discrepancy counts.
pub fn proc_checks(records: &[Value]) -> Vec<(&Value, u64)> {
    records
        .iter()
        .filter(|r| r["type"] == "proc_check")
        .map(|r| {
            let n = ["missing", "unknown", "mismatched"]
                .iter()
                .map(|k| r[*k]["count"].as_u64().expect("count"))
                .sum();
            (r, n)
        })
        .collect()
}
