//! `--output FILE`: records appended to a file (mode 0640 when created), reopened on SIGHUP
//! for log rotation with no record lost or written twice, and a full filesystem reported
//! with the summary on stderr.
use std::{
    collections::HashMap,
    ffi::CString,
    io::Read,
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{exit_within, proctrace_bin, tree};

/// A fresh directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("proctrace-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// proctrace writing to a file, its stdout and stderr read as they come.
struct FileTracer {
    child: Child,
    stdout: Output,
    stderr: Output,
}

/// What a pipe of the child said so far, read by a thread of its own.
struct Output {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Output {
    fn read(pipe: Option<impl Read + Send + 'static>) -> Output {
        let text = Arc::new(Mutex::new(String::new()));
        let theirs = Arc::clone(&text);
        let reader = pipe.map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    let mut text = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        });
        Output { text, reader }
    }

    fn now(&self) -> String {
        self.text
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything, once the pipe is closed (the child exited).
    fn all(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.now()
    }
}

impl FileTracer {
    /// Starts proctrace with `args` under `umask`.
    fn start(args: &[&str], umask: libc::mode_t) -> FileTracer {
        let mut cmd = Command::new(proctrace_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: umask only, in the forked child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(umask);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn proctrace");
        let stdout = Output::read(child.stdout.take());
        let stderr = Output::read(child.stderr.take());
        FileTracer {
            child,
            stdout,
            stderr,
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the exit (at most `within`); returns the exit code, stdout and stderr.
    fn wait(mut self, within: Duration) -> (Option<i32>, String, String) {
        let status = exit_within(&mut self.child, within);
        (status.code(), self.stdout.all(), self.stderr.all())
    }
}

impl Drop for FileTracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line of `path` as JSON; the file must end with a whole line.
fn records_in(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{path:?} ends inside a line"
    );
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: not JSON ({e}): {l:?}"))
        })
        .collect()
}

fn types(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default())
        .collect()
}

/// Polls `cond` every 10 ms for up to `within`.
fn wait_until(within: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

fn has_start(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("\"type\":\"start\""))
}

fn has_reap(path: &Path, pid: u64) -> bool {
    let pid = format!("\"pid\":{pid},");
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines()
            .any(|l| l.contains("\"type\":\"reap\"") && l.contains(&pid))
    })
}

/// The permission bits in octal, as ls and chmod spell them.
fn mode(path: &Path) -> String {
    format!(
        "{:o}",
        std::fs::metadata(path).expect("stat").mode() & 0o7777
    )
}

fn run_traced(args: &[&str], umask: libc::mode_t) {
    let (code, stdout, stderr) = FileTracer::start(args, umask).wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    assert_eq!(stdout, "", "{args:?}: the records go to the file only");
}

#[test]
fn an_existing_file_is_appended_to_and_a_new_one_is_0640() {
    let dir = TempDir::new("append");
    let existing = dir.0.join("existing.jsonl");
    std::fs::write(&existing, "{\"type\":\"before\"}\n").expect("write");
    std::fs::set_permissions(
        &existing,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let path = existing.to_str().expect("path");
    run_traced(&["--output", path, "--duration", "300ms"], 0);
    let records = records_in(&existing);
    let kinds = types(&records);
    assert_eq!(kinds[..2], ["before", "start"], "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"summary"), "{kinds:?}");
    assert_eq!(mode(&existing), "600", "an existing file keeps its mode");

    // Under umask 077 open(2) alone would give 0600: 0640 needs the fchmod.
    let new = dir.0.join("new.jsonl");
    run_traced(
        &[
            "--output",
            new.to_str().expect("path"),
            "--duration",
            "300ms",
        ],
        0o077,
    );
    assert_eq!(mode(&new), "640");
    let types = types(&records_in(&new)).join(",");
    assert!(
        types.starts_with("start,") && types.ends_with(",summary"),
        "{types}"
    );
}

/// `sh` running /bin/true until `stop` exists: a stream of processes across a switch.
fn burst_until(stop: &Path) -> Child {
    let script = format!(
        "while [ ! -e '{}' ]; do /bin/true; done",
        stop.to_str().expect("path")
    );
    Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("spawn the burst")
}

/// Records of the pids in `pids`, keyed by (type, pid, ktime_ns): how often each is there.
fn counted(records: &[&Value], pids: &std::collections::HashSet<u64>) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in records {
        if pids.contains(&r["pid"].as_u64().unwrap_or(0)) {
            let key = format!("{} {} {}", r["type"], r["pid"], r["ktime_ns"]);
            *seen.entry(key).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn sighup_reopens_the_file_and_loses_nothing() {
    let dir = TempDir::new("rotate");
    let (path, rotated, stop) = (
        dir.0.join("p.jsonl"),
        dir.0.join("p.jsonl.1"),
        dir.0.join("stop"),
    );
    let t = FileTracer::start(&["--output", path.to_str().expect("path")], 0o022);
    assert!(
        wait_until(Duration::from_secs(60), || has_start(&path)),
        "no start record"
    );
    // Killed on drop: a failed assertion must not leave it running.
    let mut burst = Burst(burst_until(&stop));
    let root = burst.0.id();
    std::thread::sleep(Duration::from_millis(300));
    // logrotate without copytruncate: rename, then HUP.
    std::fs::rename(&path, &rotated).expect("rotate");
    t.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || path.exists()),
        "not reopened"
    );
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&stop, "").expect("stop the burst");
    assert!(burst.0.wait().expect("wait").success());
    // Made after the reopen: only the new file may have it.
    let mut after = Command::new("/bin/true").spawn().expect("spawn");
    let after_pid = u64::from(after.id());
    assert!(after.wait().expect("wait").success());
    assert!(
        wait_until(Duration::from_secs(10), || has_reap(&path, after_pid)),
        "no reap after the HUP"
    );
    t.signal(libc::SIGINT);
    let (code, stdout, stderr) = t.wait(Duration::from_secs(2));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "");

    let (old, new) = (records_in(&rotated), records_in(&path));
    let (old_types, new_types) = (types(&old), types(&new));
    assert_eq!(old_types.first(), Some(&"start"), "{old_types:?}");
    assert!(
        !old_types.contains(&"summary"),
        "no summary at the HUP: {old_types:?}"
    );
    assert!(!new_types.contains(&"start"), "{new_types:?}");
    assert_eq!(new_types.iter().filter(|&&t| t == "summary").count(), 1);
    assert_eq!(new_types.last(), Some(&"summary"), "{new_types:?}");
    assert_eq!(
        of_pid(&old, after_pid),
        0,
        "a record made after the HUP went to the old file"
    );
    assert!(of_pid(&new, after_pid) >= 2, "{new_types:?}");

    let all: Vec<&Value> = old.iter().chain(&new).collect();
    let owned: Vec<Value> = all.iter().map(|&r| r.clone()).collect();
    let pids = tree(&owned, root);
    let seen = counted(&all, &pids);
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "written twice: {twice:?}");
    for pid in &pids {
        for ty in ["exit", "reap"] {
            let n = all
                .iter()
                .filter(|r| r["type"] == ty && r["pid"].as_u64() == Some(*pid))
                .count();
            assert_eq!(n, 1, "{ty} of {pid}: {n} records");
        }
    }
    let in_old = counted(&old.iter().collect::<Vec<_>>(), &pids).len();
    let in_new = counted(&new.iter().collect::<Vec<_>>(), &pids).len();
    assert!(
        in_old > 0 && in_new > 0,
        "the burst spans the switch: {in_old} before, {in_new} after"
    );
    assert!(pids.len() > 10, "{} processes", pids.len());
    eprintln!(
        "{} processes across the switch: {in_old} of their records in the old file, {in_new} \
         in the new one",
        pids.len()
    );
}

fn of_pid(records: &[Value], pid: u64) -> usize {
    records
        .iter()
        .filter(|r| r["pid"].as_u64() == Some(pid))
        .count()
}

/// A small tmpfs on a directory, unmounted (and the directory removed) on drop, also when
/// the test fails.
struct SmallTmpfs {
    dir: TempDir,
}

impl SmallTmpfs {
    fn mount(size: &str) -> SmallTmpfs {
        let dir = TempDir::new("full");
        let target = CString::new(dir.0.to_str().expect("path")).expect("path");
        let options = CString::new(format!("size={size},mode=0755")).expect("options");
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount a tmpfs: {}", std::io::Error::last_os_error());
        SmallTmpfs { dir }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.dir.0.to_str().unwrap_or_default()).unwrap_or_default();
        // SAFETY: a valid NUL-terminated path. MNT_DETACH: a proctrace still holding the file
        // (a failed test) cannot keep the mount.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Kills the burst on drop, also when the test fails.
struct Burst(Child);

impl Drop for Burst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_full_filesystem_stops_with_the_error_and_the_summary_on_stderr() {
    let fs = SmallTmpfs::mount("64k");
    let path = fs.dir.0.join("p.jsonl");
    let t = FileTracer::start(&["--output", path.to_str().expect("path")], 0o022);
    assert!(
        wait_until(Duration::from_secs(60), || has_start(&path)),
        "no start record"
    );
    let began = Instant::now();
    let _burst = Burst(
        Command::new("sh")
            .args(["-c", "while :; do /bin/true; done"])
            .spawn()
            .expect("spawn the burst"),
    );
    let (code, stdout, stderr) = t.wait(Duration::from_secs(10));
    let took = began.elapsed();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stdout, "");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some(
            format!(
                "proctrace: writing to {}: No space left on device (os error 28)",
                path.display()
            )
            .as_str()
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("No space left on device").count(),
        1,
        "{stderr}"
    );
    let summary: Value = lines
        .iter()
        .find_map(|l| l.strip_prefix("proctrace: {"))
        .map(|json| serde_json::from_str(&format!("{{{json}")).expect("the summary as JSON"))
        .unwrap_or_else(|| panic!("no summary on stderr: {stderr}"));
    assert_eq!(summary["type"], "summary");
    // What did fit is whole lines: the piece the disk refused was cut off again.
    let types = types(&records_in(&path)).join(",");
    assert!(types.starts_with("start,"), "{types}");
    eprintln!("the full tmpfs stopped proctrace {took:?} after the burst began");
}

/// Runs /bin/true and waits until its reap is in `path`; returns its pid.
fn traced_true_lands_in(path: &Path) -> u64 {
    let mut child = Command::new("/bin/true").spawn().expect("spawn");
    let pid = u64::from(child.id());
    assert!(child.wait().expect("wait").success());
    assert!(
        wait_until(Duration::from_secs(10), || has_reap(path, pid)),
        "the reap of {pid} is not in {path:?}"
    );
    pid
}

#[test]
fn a_failed_reopen_keeps_the_old_file_and_the_next_sighup_retries() {
    let dir = TempDir::new("reopen");
    let logs = dir.0.join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (path, kept) = (logs.join("p.jsonl"), dir.0.join("kept.jsonl"));
    let t = FileTracer::start(&["--output", path.to_str().expect("path")], 0o022);
    assert!(
        wait_until(Duration::from_secs(60), || has_start(&path)),
        "no start record"
    );
    // The directory goes away: the reopen cannot create the file.
    std::fs::rename(&path, &kept).expect("move the file out");
    std::fs::remove_dir(&logs).expect("rmdir");
    t.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || t.stderr.now().contains("SIGHUP")),
        "the failed reopen is not reported"
    );
    let before = traced_true_lands_in(&kept);
    std::fs::create_dir(&logs).expect("mkdir again");
    t.signal(libc::SIGHUP);
    // Records made once the file is back are in it, and only there.
    assert!(
        wait_until(Duration::from_secs(5), || path.exists()),
        "not reopened"
    );
    let after = traced_true_lands_in(&path);
    t.signal(libc::SIGINT);
    let (code, _, stderr) = t.wait(Duration::from_secs(2));
    assert_eq!(code, Some(0), "{stderr}");
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains("SIGHUP")).collect();
    assert_eq!(
        failed.len(),
        1,
        "one line for the one failed reopen: {stderr}"
    );
    assert!(
        failed[0].starts_with(&format!(
            "proctrace: SIGHUP: cannot reopen {}: No such file or directory (os error 2); the \
             records still go to the file opened before",
            path.display()
        )),
        "{stderr}"
    );
    let (old, new) = (records_in(&kept), records_in(&path));
    assert_eq!(of_pid(&new, before), 0);
    assert_eq!(of_pid(&old, after), 0);
    assert_eq!(types(&new).last(), Some(&"summary"));
}
