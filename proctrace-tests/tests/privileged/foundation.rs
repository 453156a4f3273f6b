//! Foundation: fork, exec, exit records for the test's own children.
use std::time::Duration;

use serde_json::Value;

use crate::common::{kernel_release, of, run, scenario_bin, tracer, tree, wait_exit};

crate::both_modes!(
    start_record_names_hooks,
    sh_exit_7,
    sigkill_gives_signal_9,
    five_threads_are_one_process,
    exec_from_non_leader_thread,
    exit_group_from_thread,
    hostile_argv_survives,
    exec_twice_one_exit,
    execveat_is_an_exec,
    long_argv_is_truncated,
    long_exec_path_is_flagged_truncated,
);

fn start_record_names_hooks(mode: &str) {
    let t = tracer(mode);
    let start = t.records[0].clone();
    let records = t.stop();
    assert_eq!(start["type"], "start");
    for job in ["fork", "exec", "exit", "reap"] {
        let hook = start["hooks"][job]
            .as_str()
            .unwrap_or_else(|| panic!("hooks.{job} missing: {start}"));
        if mode == "classic" {
            assert!(hook.starts_with("tracepoint/"), "{job}: {hook}");
        }
    }
    if mode == "auto" {
        // This machine offers tp_btf (see DEVELOPERS facts); probing must pick it.
        assert_eq!(start["hooks"]["fork"], "tp_btf/sched_process_fork");
    }
    // The wait notes of the zombie diagnosis, on the same kind of hook as the others.
    let wait = if mode == "classic" {
        "tracepoint/sched/sched_process_wait"
    } else {
        "tp_btf/sched_process_wait"
    };
    assert_eq!(start["hooks"]["wait"], wait, "{start}");
    // The kernel's per-program recursion_misses arrived in Linux 5.12: before it proctrace
    // must say that it cannot count skipped runs, and from it on it must count them. The
    // version is this test's oracle only; proctrace asks the kernel.
    let unsupported: Vec<&str> = start["unsupported"]
        .as_array()
        .unwrap_or_else(|| panic!("unsupported missing: {start}"))
        .iter()
        .map(|v| v.as_str().expect("unsupported holds strings"))
        .collect();
    let expected: &[&str] = if kernel_release() < (5, 12) {
        &["lost.causes.recursion"]
    } else {
        &[]
    };
    assert_eq!(unsupported, expected, "{start}");
    assert!(start["ring_buffer_bytes"].as_u64().unwrap_or(0) >= 4096);
    assert!(start["version"].is_string());
    assert_eq!(
        records.last().map(|r| r["type"].clone()),
        Some("summary".into())
    );
}

fn sh_exit_7(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, _) = run("/bin/sh", &["-c", "exit 7"]);
    assert_eq!(status.code(), Some(7));
    wait_exit(&mut t, pid);
    let records = t.stop();
    let pid = u64::from(pid);
    let forks = of(&records, "fork", pid);
    let execs = of(&records, "exec", pid);
    let exits = of(&records, "exit", pid);
    assert_eq!(
        (forks.len(), execs.len(), exits.len()),
        (1, 1, 1),
        "{records:#?}"
    );
    assert_eq!(forks[0]["ppid"], std::process::id());
    assert_eq!(execs[0]["filename"], "/bin/sh");
    assert_eq!(
        execs[0]["argv"],
        serde_json::json!(["/bin/sh", "-c", "exit 7"])
    );
    assert_eq!(execs[0]["argv_truncated"], false);
    assert_eq!(execs[0]["old_pid"], pid);
    assert_eq!(exits[0]["exit_code"], 7);
    assert_eq!(exits[0]["signal"], Value::Null);
    assert_eq!(exits[0]["core_dumped"], false);
    // The same proc_id in every record of the process.
    assert_eq!(forks[0]["proc_id"], execs[0]["proc_id"]);
    assert_eq!(forks[0]["proc_id"], exits[0]["proc_id"]);
    assert!(forks[0]["parent_proc_id"].is_string());
}

fn sigkill_gives_signal_9(mode: &str) {
    let mut t = tracer(mode);
    let mut child = std::process::Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .expect("spawn");
    let pid = child.id();
    t.wait_for(Duration::from_secs(10), |r| {
        r["type"] == "exec" && r["pid"] == pid
    })
    .expect("exec");
    child.kill().expect("kill");
    let _ = child.wait();
    let exit = wait_exit(&mut t, pid);
    t.stop();
    assert_eq!(exit["signal"], 9);
    assert_eq!(exit["exit_code"], Value::Null);
    assert_eq!(exit["core_dumped"], false);
}

fn five_threads_are_one_process(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, _) = run(&scenario_bin(), &["threads", "5"]);
    assert!(status.success());
    wait_exit(&mut t, pid);
    let records = t.stop();
    let mine = tree(&records, pid);
    assert_eq!(
        mine.len(),
        1,
        "threads must not appear as processes: {mine:?}"
    );
    let pid = u64::from(pid);
    assert_eq!(of(&records, "fork", pid).len(), 1);
    assert_eq!(of(&records, "exit", pid).len(), 1);
    let non_process = records
        .iter()
        .filter(|r| r["type"] == "fork" && r["ppid"] == pid)
        .count();
    assert_eq!(non_process, 0, "thread creation produced fork records");
}

fn exec_from_non_leader_thread(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, lines) = run(&scenario_bin(), &["thread-exec", "/bin/sh", "-c", "exit 5"]);
    assert_eq!(status.code(), Some(5));
    let tid = lines
        .first()
        .and_then(|l| l["tid"].as_u64())
        .expect("scenario printed its tid");
    assert_ne!(
        tid,
        u64::from(pid),
        "the exec must come from a non-leader thread"
    );
    wait_exit(&mut t, pid);
    let records = t.stop();
    let pid = u64::from(pid);
    let execs = of(&records, "exec", pid);
    let sh = execs
        .iter()
        .find(|e| e["filename"] == "/bin/sh")
        .expect("exec of /bin/sh");
    assert_eq!(sh["pid"], pid, "exec.pid must be the tgid");
    assert_eq!(
        sh["old_pid"], tid,
        "exec.old_pid must be the exec'ing thread"
    );
    let exits = of(&records, "exit", pid);
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0]["exit_code"], 5);
    assert_eq!(of(&records, "exit", tid).len(), 0);
}

fn exit_group_from_thread(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, _) = run(&scenario_bin(), &["thread-exit-group", "9"]);
    assert_eq!(status.code(), Some(9));
    wait_exit(&mut t, pid);
    let records = t.stop();
    let exits = of(&records, "exit", u64::from(pid));
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0]["exit_code"], 9);
    assert_eq!(exits[0]["signal"], Value::Null);
}

fn hostile_argv_survives(mode: &str) {
    use std::os::unix::ffi::OsStrExt;
    let t = tracer(mode);
    let weird = std::ffi::OsStr::from_bytes(b"bad\xff\xfeutf8");
    let args = ["line\nbreak", "quote\"d", "back\\slash", "tab\there"].map(std::ffi::OsStr::new);
    let (pid, records) = run_true(t, args.into_iter().chain([weird]));
    let execs = of(&records, "exec", u64::from(pid));
    assert_eq!(execs.len(), 1);
    assert_eq!(
        execs[0]["argv"],
        serde_json::json!([
            "/bin/true",
            "line\nbreak",
            "quote\"d",
            "back\\slash",
            "tab\there",
            "bad\u{fffd}\u{fffd}utf8"
        ])
    );
}

fn exec_twice_one_exit(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, _) = run("/bin/sh", &["-c", "exec /bin/sleep 0.3"]);
    assert!(status.success());
    let exit = wait_exit(&mut t, pid);
    let records = t.stop();
    let pid = u64::from(pid);
    let execs = of(&records, "exec", pid);
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert_eq!(execs[0]["filename"], "/bin/sh");
    assert_eq!(execs[1]["filename"], "/bin/sleep");
    assert_eq!(execs[1]["argv"], serde_json::json!(["/bin/sleep", "0.3"]));
    assert_eq!(of(&records, "exit", pid).len(), 1);
    let fork = of(&records, "fork", pid)[0];
    let lifetime = exit["lifetime_ns"].as_u64().expect("lifetime_ns");
    let span = exit["ktime_ns"].as_u64().unwrap_or(0) - fork["ktime_ns"].as_u64().unwrap_or(0);
    assert!(lifetime >= 300_000_000, "lifetime {lifetime} < sleep time");
    assert!(
        lifetime.abs_diff(span) < 5_000_000,
        "lifetime {lifetime} vs fork→exit {span}"
    );
}

fn execveat_is_an_exec(mode: &str) {
    let mut t = tracer(mode);
    let (pid, status, _) = run(&scenario_bin(), &["execveat", "/bin/sh", "-c", "exit 4"]);
    assert_eq!(status.code(), Some(4));
    wait_exit(&mut t, pid);
    let records = t.stop();
    let execs = of(&records, "exec", u64::from(pid));
    let sh = execs
        .iter()
        .find(|e| e["filename"] == "/bin/sh")
        .expect("exec record for execveat");
    assert_eq!(sh["argv"], serde_json::json!(["/bin/sh", "-c", "exit 4"]));
    assert_eq!(sh["filename_truncated"], false);
    assert_eq!(sh["argv_read_failed"], false);
}

/// execveat() relative to a directory fd names the program "/dev/fd/N/RELPATH" (fs/exec.c
/// alloc_bprm): with a relative path near PATH_MAX that is longer than the kernel side keeps.
fn long_exec_path_is_flagged_truncated(mode: &str) {
    let base = std::env::temp_dir().join(format!("proctrace-longpath-{}", std::process::id()));
    std::fs::create_dir(&base).expect("creating the test directory");
    // 16 directories of 254 bytes and a 10-byte name: a 4,090-byte relative path, which the
    // kernel accepts (below PATH_MAX, 4,096 with the NUL), and "/dev/fd/N/" makes it longer
    // than the 4,095 bytes the kernel side keeps.
    let components: Vec<String> = (0..16)
        .map(|i| format!("{i:02}{}", "d".repeat(252)))
        .collect();
    let rel = format!("{}/{}", components.join("/"), "t".repeat(10));
    assert_eq!(rel.len(), 4090);
    long_chain(&base, &components, &"t".repeat(10), &scenario_bin());
    let base_str = base.to_str().expect("UTF-8 temp dir");

    let mut t = tracer(mode);
    // The target is the scenario program itself (a busybox applet would not answer to the
    // link's name in the kernel-matrix guests): `threads 1` exits 0.
    let (pid, status, _) = run(
        &scenario_bin(),
        &["execveat-dirfd", base_str, &rel, "threads", "1"],
    );
    std::fs::remove_dir_all(&base).expect("cleaning up");
    assert_eq!(status.code(), Some(0), "execveat of the long path failed");
    wait_exit(&mut t, pid);
    let records = t.stop();
    let execs = of(&records, "exec", u64::from(pid));
    let exec = execs
        .iter()
        .find(|e| {
            e["filename"]
                .as_str()
                .is_some_and(|f| f.starts_with("/dev/fd/"))
        })
        .expect("exec record for the execveat");
    assert_eq!(exec["filename_truncated"], true, "{}", &exec["filename"]);
    let filename = exec["filename"].as_str().expect("filename");
    assert_eq!(filename.len(), 4095, "kept up to the buffer's end");
    let full = format!("/dev/fd/3/{rel}");
    assert!(full.starts_with(filename), "a prefix of {full}");
    assert_eq!(exec["argv_read_failed"], false);
    assert_eq!(exec["argv"], serde_json::json!([rel, "threads", "1"]));
}

fn long_argv_is_truncated(mode: &str) {
    let t = tracer(mode);
    // 20 arguments of 1,000 bytes: 20 KB of argv, past the 8 KiB cap.
    let long: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "a".repeat(998)))
        .collect();
    let (pid, records) = run_true(t, &long);
    let exec = of(&records, "exec", u64::from(pid))[0].clone();
    assert_eq!(exec["argv_truncated"], true);
    assert_eq!(exec["argv_read_failed"], false);
    assert_eq!(exec["filename_truncated"], false);
    let argv: Vec<&str> = exec["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // What is kept is exactly the first 8 KiB of the area ("/bin/true\0" then the arguments).
    let kept: usize = argv.iter().map(|a| a.len() + 1).sum::<usize>() - 1;
    assert_eq!(kept, 8192, "kept {kept} bytes");
    assert_eq!(argv[0], "/bin/true");
    assert_eq!(argv[1], long[0]);
    assert!(
        long[argv.len() - 2].starts_with(argv[argv.len() - 1]),
        "the cut argument is a prefix"
    );
}

/// Runs `/bin/true ARGS` under `t`, waits for its exit record, stops `t`.
fn run_true<I, S>(mut t: crate::common::Tracer, args: I) -> (u32, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let child = std::process::Command::new("/bin/true")
        .args(args)
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let _ = child.wait_with_output();
    wait_exit(&mut t, pid);
    (pid, t.stop())
}

/// Directories `base/c0/c1/…` and a symlink `name` to `target` at the end, made relative to
/// directory fds: the whole path is longer than PATH_MAX, so no absolute path can name it.
fn long_chain(base: &std::path::Path, components: &[String], name: &str, target: &str) {
    use std::{ffi::CString, os::unix::ffi::OsStrExt};
    let cstr = |s: &[u8]| CString::new(s).expect("no NUL");
    let open_dir = |at: i32, path: &CString| {
        // SAFETY: valid NUL-terminated path; the fd is closed below.
        let fd = unsafe { libc::openat(at, path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
        assert!(fd >= 0, "openat: {}", std::io::Error::last_os_error());
        fd
    };
    let mut dir = open_dir(libc::AT_FDCWD, &cstr(base.as_os_str().as_bytes()));
    for c in components {
        let c = cstr(c.as_bytes());
        // SAFETY: valid fd and path.
        let rc = unsafe { libc::mkdirat(dir, c.as_ptr(), 0o755) };
        assert_eq!(rc, 0, "mkdirat: {}", std::io::Error::last_os_error());
        let next = open_dir(dir, &c);
        // SAFETY: our own fd.
        unsafe { libc::close(dir) };
        dir = next;
    }
    let (target, name) = (cstr(target.as_bytes()), cstr(name.as_bytes()));
    // SAFETY: valid fd and paths.
    let rc = unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) };
    assert_eq!(rc, 0, "symlinkat: {}", std::io::Error::last_os_error());
    // SAFETY: our own fd.
    unsafe { libc::close(dir) };
}
