//! A reader that stalls (README, Faults): proctrace keeps tracing, obeys SIGTERM within 2 s,
//! drops what its output queue cannot hold and says so (`lost.causes.output_queue_full`), keeps
//! its memory bounded and gives it back, and accounts for every record it made.
use std::{
    fs::File,
    io::Read,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{exit_within, proctrace_bin};

/// A pipe whose read end the test holds without reading: proctrace's stdout.
fn stalled_pipe() -> (File, Stdio) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2() writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors, each owned by exactly one of the values returned.
    unsafe {
        (
            File::from_raw_fd(fds[0]),
            Stdio::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

fn bytes_in_pipe(read: &File) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    let rc = unsafe { libc::ioctl(read.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0);
    usize::try_from(n).unwrap_or(0)
}

fn start(output_buffer: &str, stdout: Stdio) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = Command::new(proctrace_bin())
        .args(["--output-buffer-size", output_buffer])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn proctrace");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    (child, stderr)
}

/// Waits until the `start` record is in the pipe (without reading it).
fn wait_started(read: &File, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while bytes_in_pipe(read) == 0 {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "proctrace exited at start"
        );
        assert!(Instant::now() < deadline, "no start record within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `n` processes, each with an exec record of about 1.7 KiB (argv), whole lines under
/// PIPE_BUF.
fn spawn_execs(n: usize) {
    let arg = "a".repeat(150);
    for _ in 0..n {
        let status = Command::new("/bin/true")
            .args(std::iter::repeat_n(&arg, 10))
            .status()
            .expect("spawn /bin/true");
        assert!(status.success());
    }
}

/// Anonymous resident memory (the heap the queue lives in). Not VmRSS: that also counts the
/// ring buffer's pages as the kernel fills them (8 MiB of mappings for the default 4 MiB).
fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon")
}

/// Every line, parsed: a line that is not whole JSON fails the test.
fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect()
}

/// Records the summary says were made: its counts, plus itself.
fn records_made(summary: &Value) -> u64 {
    let counts = summary["counts"].as_object().expect("counts");
    counts
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum::<u64>()
        + 1
}

fn output_dropped(summary: &Value) -> u64 {
    summary["lost_causes"]["output_queue_full"]
        .as_u64()
        .expect("lost_causes.output_queue_full")
}

/// The reader never reads again: SIGTERM is still obeyed within 2 s, and stderr says what
/// could not be written and carries the summary. Every record made is accounted for: on
/// stdout, dropped (and counted), or named as still queued.
#[test]
fn sigterm_with_a_stalled_reader_exits_within_2s() {
    let (mut read, stdout) = stalled_pipe();
    let (mut child, stderr) = start("256K", stdout);
    wait_started(&read, &mut child);
    spawn_execs(1_000);
    std::thread::sleep(Duration::from_millis(300));
    let in_pipe = bytes_in_pipe(&read);
    assert!(
        in_pipe >= 32 * 1024,
        "the pipe should be full: {in_pipe} bytes"
    );

    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = exit_within(&mut child, Duration::from_secs(2));
    let stderr = stderr.join().expect("stderr");
    assert!(status.success(), "exit {status}: {stderr}");

    let stalled = stderr
        .lines()
        .find(|l| l.contains("the reader of stdout stalled"))
        .unwrap_or_else(|| panic!("no stall report on stderr: {stderr}"));
    let queued: u64 = stalled
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a record count in the stall report");
    let summary: Value = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("proctrace: {")
                .map(|rest| format!("{{{rest}"))
        })
        .map(|l| serde_json::from_str(&l).expect("summary JSON"))
        .unwrap_or_else(|| panic!("no summary on stderr: {stderr}"));
    assert_eq!(summary["type"], "summary");
    assert!(
        summary["counts"]["exec"].as_u64() >= Some(1_000),
        "{summary}"
    );
    let dropped = output_dropped(&summary);
    assert!(dropped > 0, "nothing dropped: {summary}");
    assert!(summary["lost"].as_u64() >= Some(dropped), "{summary}");

    let mut text = String::new();
    read.read_to_string(&mut text).expect("read the pipe");
    let written = parse_lines(&text);
    assert_eq!(written.first().map(|r| &r["type"]), Some(&"start".into()));
    assert_eq!(
        written.len() as u64 + dropped + queued,
        records_made(&summary),
        "written {} + dropped {dropped} + queued {queued} ≠ made; {summary}",
        written.len()
    );
}

/// The reader stalls, then catches up: it gets every record that was not dropped, a `lost`
/// record for the dropped ones before the summary, and proctrace's memory grows by at most
/// about twice the queue bound and is given back.
#[test]
fn a_reader_that_catches_up_is_told_what_was_dropped() {
    let (mut read, stdout) = stalled_pipe();
    // 1 MiB fills with about 350 of these processes (3 KiB of records each): the queue
    // overflows for sure with 1,200, which an emulated kernel-matrix guest runs in about
    // 15 s (4,000 into 4 MiB took 55-72 s there, for the same behaviour).
    let (mut child, stderr) = start("1M", stdout);
    wait_started(&read, &mut child);
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = rss_anon_kib(child.id());
    spawn_execs(1_200);
    std::thread::sleep(Duration::from_millis(300));
    let rss_stalled = rss_anon_kib(child.id());

    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        read.read_to_string(&mut text).expect("read the pipe");
        text
    });
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = rss_anon_kib(child.id());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = exit_within(&mut child, Duration::from_secs(2));
    let stderr = stderr.join().expect("stderr");
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains("stalled"), "{stderr}");

    let records = parse_lines(&reader.join().expect("reader"));
    let summary = records.last().expect("records");
    assert_eq!(summary["type"], "summary");
    let dropped = output_dropped(summary);
    assert!(dropped > 0, "the queue never filled: {summary}");
    let reported: u64 = records
        .iter()
        .filter(|r| r["type"] == "lost")
        .map(|r| r["causes"]["output_queue_full"].as_u64().expect("cause"))
        .sum();
    assert_eq!(reported, dropped, "lost records vs summary");
    assert_eq!(records.len() as u64 + dropped, records_made(summary));

    let bound_kib = 1024;
    assert!(
        rss_stalled <= rss_before + 2 * bound_kib + 8 * 1024,
        "memory not bounded: {rss_before} KiB → {rss_stalled} KiB with a {bound_kib} KiB queue"
    );
    assert!(
        rss_stalled >= rss_before + bound_kib / 2,
        "the queue did not grow ({rss_before} → {rss_stalled} KiB): the test tests nothing"
    );
    assert!(
        rss_after <= rss_before + 2 * 1024,
        "memory not given back: {rss_before} KiB → {rss_stalled} KiB → {rss_after} KiB"
    );
}
