//! Tests of reading a whole run's log and rendering it, on one guest log.

use std::time::Duration;

use super::{
    harness::{Outcome, TestResult},
    render, Row, RunLog,
};

const GUEST: &str = "\
[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\r
[    1.234567] Run /init as init process\r
@@matrix booted 1.52\r
@@matrix uname 6.1.0-56-cloud-amd64\r
@@matrix start-exit 0\r
@@matrix start {\"type\":\"start\",\"time\":\"2026-05-20T10:00:00Z\",\"ktime_ns\":1,\"version\":\"0.1.0\",\"hooks\":{\"fork\":\"tp_btf/sched_process_fork\",\"exec\":\"tp_btf/sched_process_exec\",\"exit\":\"tp_btf/sched_process_exit\",\"reap\":\"tracepoint/syscalls/sys_enter_wait4+syscalls/sys_exit_wait4, tp_btf/sched_process_free\"},\"ring_buffer_bytes\":8388608}\r
@@matrix start-stderr proctrace: offsets: OffsetsReport { fork_comm_layout: Array }\r
@@matrix tests-begin\r
\r
running 3 tests\r
test edges::bad_arguments_exit_2 ... ok <0.051s>\r
test foundation::auto::sh_exit_7 ... scenario: stray stderr\r
FAILED <1.500s>\r
test lifecycle::auto::spawn_storm_is_complete ... ignored\r
\r
failures:\r
\r
---- foundation::auto::sh_exit_7 stdout ----\r
\r
thread 'foundation::auto::sh_exit_7' panicked at proctrace-tests/tests/privileged/foundation.rs:57:5:\r
assertion `left == right` failed\r
\r
\r
failures:\r
    foundation::auto::sh_exit_7\r
\r
test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.60s\r
\r
@@matrix tests-exit 101\r
@@matrix uptime 9.80\r
@@matrix dmesg-begin\r
[    0.000000] Linux version 6.1.0-56-cloud-amd64\r
[    5.000000] traps: something\r
@@matrix dmesg-end\r
@@matrix done\r
[   10.000000] reboot: Power down\r
";

#[test]
fn parses_a_guest_log() {
    let log = RunLog::parse(GUEST);
    assert_eq!(log.booted_secs, Some(1.52));
    assert_eq!(log.uname.as_deref(), Some("6.1.0-56-cloud-amd64"));
    assert_eq!(log.start_exit, Some(0));
    assert_eq!(log.start_stderr.len(), 1);
    assert!(log.unsupported().is_empty());
    let older = GUEST.replace(
        r#""ring_buffer_bytes""#,
        r#""unsupported":["lost.causes.recursion"],"ring_buffer_bytes""#,
    );
    assert_eq!(
        RunLog::parse(&older).unsupported(),
        ["lost.causes.recursion"]
    );
    assert_eq!(
        log.suite.tests,
        [
            TestResult {
                name: "edges::bad_arguments_exit_2".into(),
                outcome: Outcome::Ok,
                secs: Some(0.051)
            },
            TestResult {
                name: "foundation::auto::sh_exit_7".into(),
                outcome: Outcome::Failed,
                secs: Some(1.5)
            },
            TestResult {
                name: "lifecycle::auto::spawn_storm_is_complete".into(),
                outcome: Outcome::Ignored,
                secs: None
            },
        ]
    );
    assert_eq!(log.unfinished(), None);
    assert_eq!(log.suite.exit, Some(101));
    assert_eq!(log.suite.secs(), Some(1.6));
    let failure = &log.suite.failures["foundation::auto::sh_exit_7"];
    assert!(failure.starts_with("thread 'foundation::auto::sh_exit_7' panicked at"));
    assert!(failure.ends_with("failed"));
    assert_eq!(log.dmesg.len(), 2);
    assert!(log.done);
    assert_eq!(log.failed(), ["foundation::auto::sh_exit_7"]);
    assert!(!log.passed());
    let hooks = log.hooks().expect("hooks");
    assert_eq!(hooks.fork, "tp_btf/sched_process_fork");
    assert_eq!(
        hooks.kinds(),
        "tp_btf / tp_btf / tp_btf / tracepoint+tp_btf"
    );
}

/// GUEST with `outcome` for the suite's failed test when run again.
fn with_retry(outcome: &str, exit: i32) -> String {
    GUEST.replace(
        "@@matrix uptime",
        &format!(
            "@@matrix retry foundation::auto::sh_exit_7\n\nrunning 1 test\n\
             test foundation::auto::sh_exit_7 ... {outcome} <1.1s>\n\n\
             failures:\n\n---- foundation::auto::sh_exit_7 stdout ----\nagain\n\n\
             failures:\n    foundation::auto::sh_exit_7\n\n\
             test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 34 filtered out; \
             finished in 1.10s\n@@matrix retry-exit {exit}\n@@matrix uptime"
        ),
    )
}

#[test]
fn a_test_that_passes_when_run_again_is_flaky() {
    let log = RunLog::parse(&with_retry("ok", 0));
    assert_eq!(log.retries.len(), 1);
    assert_eq!(
        log.suite.tests.len(),
        3,
        "retry results stay out of the suite"
    );
    assert_eq!(log.suite.secs(), Some(1.6), "the suite's own summary");
    assert_eq!(log.flaky(), ["foundation::auto::sh_exit_7"]);
    assert!(log.failed().is_empty());
    assert!(log.passed());

    let log = RunLog::parse(&with_retry("FAILED", 101));
    assert!(log.flaky().is_empty());
    assert_eq!(log.failed(), ["foundation::auto::sh_exit_7"]);
    assert_eq!(
        log.retries[0].harness.failures["foundation::auto::sh_exit_7"],
        "again"
    );
    assert!(!log.passed());
}

#[test]
fn a_clean_run_passes() {
    let text = GUEST
        .replace("scenario: stray stderr\r\nFAILED", "ok")
        .replace("@@matrix tests-exit 101", "@@matrix tests-exit 0");
    let log = RunLog::parse(&text);
    assert_eq!(log.suite.count(Outcome::Ok), 2);
    assert_eq!(log.suite.count(Outcome::Failed), 0);
    assert!(log.passed());
    // Without a start record there are no hooks to report: not a pass.
    let log = RunLog::parse(&text.replace("@@matrix start {", "@@matrix start-x {"));
    assert!(!log.passed());
}

#[test]
fn a_cut_off_run_names_the_test_that_hung() {
    let text = "@@matrix uname 7.3.4+deb13-cloud-amd64\n@@matrix start-exit 0\n\
                test edges::a ... ok <0.1s>\n\
                test lifecycle::classic::spawn_storm_is_complete ... ";
    let log = RunLog::parse(text);
    assert_eq!(log.suite.tests.len(), 1);
    assert_eq!(
        log.unfinished(),
        Some("lifecycle::classic::spawn_storm_is_complete")
    );
    assert_eq!(log.suite.exit, None);
    assert!(!log.done);
    assert!(!log.passed());
}

#[test]
fn failed_start_keeps_its_stderr() {
    let text = "@@matrix start-exit 1\n@@matrix start \n\
                @@matrix start-stderr proctrace: loading the kernel programs: verifier\n";
    let log = RunLog::parse(text);
    assert_eq!(log.start_exit, Some(1));
    assert_eq!(log.start, None);
    assert_eq!(
        log.start_stderr,
        ["proctrace: loading the kernel programs: verifier"]
    );
    assert_eq!(log.hooks(), None);
    let log = RunLog::parse(
        "@@matrix start {\"type\":\"start\",\"hooks\":{\"fork\":\"tp_btf/a\",\"exec\":null}}\n",
    );
    let hooks = log.hooks().expect("a start record with hooks");
    assert_eq!(
        (hooks.fork.as_str(), hooks.exec.as_str()),
        ("tp_btf/a", "none")
    );
}

#[test]
fn renders_the_table() {
    let row = |log| Row {
        kernel: "6.1".into(),
        log,
        wall: Duration::from_secs(42),
        timed_out: false,
        error: None,
        log_path: "target/matrix/logs/6.1.log".into(),
    };
    let table = render(&[row(RunLog::parse(GUEST))], &[]);
    assert!(
        table.contains(
            "| 6.1 | 6.1.0-56-cloud-amd64 | tp_btf / tp_btf / tp_btf / tracepoint+tp_btf \
             | 1 | 1 | 0 | 2 s | 42 s | FAIL |"
        ),
        "{table}"
    );
    assert!(table.contains("  FAILED: foundation::auto::sh_exit_7\n"));
    assert!(table.contains("assertion `left == right` failed"));
    let table = render(
        &[row(RunLog::parse(&with_retry("ok", 0)))],
        &["the tests ran with PROCTRACE_CHURN_SECS=20".into()],
    );
    assert!(
        table.contains("| 2 | 0 | 1 | 2 s | 42 s | pass |"),
        "{table}"
    );
    assert!(table.contains("  failed, then passed when run again: foundation::auto::sh_exit_7\n"));
    assert!(table.contains("\nNOTE: the tests ran with PROCTRACE_CHURN_SECS=20.\n"));
}
