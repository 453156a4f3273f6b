//! Behaviour at the edges: signals, closed stdout, missing privileges, bad arguments, and the
//! faults of README.md's Faults table (unwritable stderr, closed or failing stdout).
use std::{
    io::{BufRead, BufReader, Read},
    os::{fd::FromRawFd, unix::process::CommandExt},
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::common::{assert_traced_normally, exit_within, proctrace_bin, Tracer};

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
    let status = exit_within(&mut child, Duration::from_secs(5));
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

#[test]
fn sighup_stops_cleanly() {
    let t = Tracer::start(&[]);
    let records = t.stop_signalled(libc::SIGHUP);
    assert_eq!(
        records.last().map(|r| r["type"].clone()),
        Some("summary".into())
    );
}

/// Runs `cmd` to its end with stdout and stderr captured, unless stdio was set already; a
/// proctrace still running after `within` is killed and fails the test (never hangs it).
fn output_within(cmd: &mut Command, within: Duration) -> Output {
    let mut child = cmd.spawn().expect("spawn proctrace");
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let status = exit_within(&mut child, within);
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// The write end of a pipe whose read end is already closed: writes fail with EPIPE.
fn pipe_without_reader() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2() writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the read end is ours and used nowhere else.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is a fresh descriptor; the Stdio takes sole ownership of it.
    Stdio::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[1]) })
}

#[test]
fn unwritable_stderr_does_not_stop_tracing() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    for (what, stderr) in [
        ("stderr /dev/full", Stdio::from(full)),
        ("stderr a pipe without reader", pipe_without_reader()),
    ] {
        let out = output_within(
            Command::new(proctrace_bin())
                .args(["--duration", "1s"])
                .stdout(Stdio::piped())
                .stderr(stderr),
            Duration::from_secs(30),
        );
        assert_traced_normally(&out, what);
    }
}

#[test]
fn closed_stdout_at_start_is_refused() {
    let mut cmd = Command::new(proctrace_bin());
    cmd.args(["--duration", "1s"]).stderr(Stdio::piped());
    // SAFETY: close() in the child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(libc::STDOUT_FILENO);
            Ok(())
        });
    }
    let out = output_within(&mut cmd, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("proctrace: stdout is closed"),
        "{stderr}"
    );
}

#[test]
fn stdout_write_error_names_its_cause_once() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = output_within(
        Command::new(proctrace_bin())
            .stdout(full)
            .stderr(Stdio::piped()),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The `start` record is the first write: it fails, and proctrace stops.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last, "proctrace: writing to stdout: No space left on device (os error 28)",
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("No space left on device").count(),
        1,
        "{stderr}"
    );
    // The summary stdout could not take is on stderr, before the error.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("proctrace: {\"type\":\"summary\"")),
        "{stderr}"
    );
}

#[test]
fn out_of_range_values_exit_2() {
    let huge = "9300000000000000000s";
    // With --duration 1s, an accepted value ends the run with exit 0 instead of hanging it.
    for args in [
        &["--duration", huge][..],
        &["--duration", "2y"],
        &["--zombie-threshold", huge, "--duration", "1s"],
        &["--proc-check-interval", huge, "--duration", "1s"],
        &["--proc-check-interval", "1ns", "--duration", "1s"],
        &["--proc-check-interval", "99ms", "--duration", "1s"],
        &["--ring-buffer-size", "4G"],
        &["--ring-buffer-size", "99999999999999999999K"],
    ] {
        let out = output_within(
            Command::new(proctrace_bin())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
        // clap's usage error: one line naming the value, then its hint to --help.
        let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(errors.len(), 2, "{args:?}: {stderr}");
        assert!(
            errors[0].starts_with("error: invalid value") && errors[0].contains(args[1]),
            "{args:?}: {stderr}"
        );
        assert!(errors[1].contains("--help"), "{args:?}: {stderr}");
    }
}

/// stderr for people: one line naming the hooks by default, nothing with -q, the details
/// (verifier output, offsets) with -v only.
#[test]
fn stderr_is_one_line_by_default_none_with_q_details_with_v() {
    let run = |flag: Option<&str>| {
        let mut cmd = Command::new(proctrace_bin());
        cmd.args(["--duration", "1s"])
            .args(flag)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = output_within(&mut cmd, Duration::from_secs(30));
        assert_traced_normally(&out, flag.unwrap_or("default"));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let default = run(None);
    let lines: Vec<&str> = default.lines().collect();
    assert_eq!(lines.len(), 1, "{default}");
    assert!(
        lines[0].starts_with("proctrace: hooks: fork ") && lines[0].contains(", reap "),
        "{default}"
    );
    assert!(
        !default.contains("Verifier") && !default.contains("OffsetsReport"),
        "{default}"
    );
    assert_eq!(run(Some("-q")), "");
    let verbose = run(Some("-v"));
    assert!(verbose.starts_with(lines[0]), "{verbose}");
    assert!(verbose.contains("proctrace: offsets: "), "{verbose}");
}
