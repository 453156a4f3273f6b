//! Behaviour at the edges: signals, closed stdout, missing privileges, bad arguments.
use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{proctrace_bin, Tracer};

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let begin = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            begin.elapsed() < within,
            "proctrace still running after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_stops_cleanly() {
    let t = Tracer::start(&[]);
    let records = t.stop_signalled(libc::SIGTERM);
    assert_eq!(
        records.last().map(|r| r["type"].clone()),
        Some("summary".into())
    );
}

#[test]
fn duration_ends_with_summary() {
    let out = Command::new(proctrace_bin())
        .args(["--duration", "1s"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("line")).expect("json");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("line")).expect("json");
    assert_eq!(first["type"], "start");
    assert_eq!(last["type"], "summary");
    assert!(last["duration_ns"].as_u64().unwrap_or(0) >= 900_000_000);
}

#[test]
fn closed_stdout_exits_quietly() {
    let mut child = Command::new(proctrace_bin())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read");
    assert!(first.contains("\"start\""));
    drop(stdout); // the reader goes away, like `| head -1`
    for _ in 0..20 {
        let _ = Command::new("/bin/true").status();
    }
    let status = wait_exit(&mut child, Duration::from_secs(5));
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unprivileged_gets_a_clear_error() {
    let mut cmd = Command::new(proctrace_bin());
    // SAFETY: setuid/setgid in the child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run as nobody");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("root") && stderr.contains("CAP_BPF"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--zombie-threshold", "soon"][..],
        &["--ring-buffer-size", "3M"],
        &["--nope"],
    ] {
        let out = Command::new(proctrace_bin())
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error:") && stderr.contains("--help"),
            "{args:?}: {stderr}"
        );
    }
}
