//! Reading a run's console log (a guest's serial output, or the host run's output) and the
//! summary table.
//!
//! The log holds the `@@matrix` lines of run-tests.sh and /init, and libtest's pretty output
//! of `--test-threads=1 --report-time`: `test NAME ... ok <1.234s>`. With one test thread
//! libtest prints `test NAME ... ` before the test runs and the outcome after it, so output of
//! the test's children (their inherited stderr) can land in between: the outcome is then the
//! end of a later line.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

const MARK: &str = "@@matrix ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// From `--report-time`.
    pub secs: Option<f64>,
}

/// libtest's output of one run of the test binary.
#[derive(Debug, Default, PartialEq)]
pub struct Harness {
    pub tests: Vec<TestResult>,
    /// A test that started and never finished (the run was cut off).
    pub unfinished: Option<String>,
    /// libtest's `test result:` line.
    pub summary: Option<String>,
    /// Panic messages etc. of failed tests, from libtest's `---- NAME stdout ----` sections.
    pub failures: BTreeMap<String, String>,
    /// Exit code of the test binary.
    pub exit: Option<i32>,
    /// The failure section being read.
    section: Option<(String, String)>,
}

impl Harness {
    fn line(&mut self, line: &str) {
        // Failure sections come after all the results.
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            self.end_section();
            self.section = Some((name.to_owned(), String::new()));
            return;
        }
        if let Some((_, text)) = &mut self.section {
            if line == "failures:" || line.starts_with("test result:") {
                self.end_section();
            } else {
                text.push_str(line);
                text.push('\n');
                return;
            }
        }
        if line.starts_with("test result:") {
            self.summary = Some(line.to_owned());
        } else if let Some((name, rest)) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.split_once(" ... "))
        {
            self.unfinished = Some(name.to_owned());
            self.finish_test(rest);
        } else if self.unfinished.is_some() {
            self.finish_test(line);
        }
    }

    fn end_section(&mut self) {
        if let Some((name, text)) = self.section.take() {
            self.failures.insert(name, text.trim().to_owned());
        }
    }

    /// If `tail` ends with an outcome, it belongs to the unfinished test.
    fn finish_test(&mut self, tail: &str) {
        let Some((outcome, secs)) = parse_outcome(tail) else {
            return;
        };
        if let Some(name) = self.unfinished.take() {
            self.tests.push(TestResult {
                name,
                outcome,
                secs,
            });
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.tests.iter().filter(|t| t.outcome == outcome).count()
    }

    fn failed(&self) -> impl Iterator<Item = &TestResult> {
        self.tests.iter().filter(|t| t.outcome == Outcome::Failed)
    }

    /// `finished in 12.34s` of the `test result:` line.
    pub fn secs(&self) -> Option<f64> {
        let summary = self.summary.as_deref()?;
        let (_, rest) = summary.split_once("finished in ")?;
        rest.trim().strip_suffix('s')?.parse().ok()
    }

    /// Exited 0 with every test it ran passed (or ignored) and at least one passed.
    fn clean(&self) -> bool {
        self.exit == Some(0)
            && self.unfinished.is_none()
            && self.count(Outcome::Failed) == 0
            && self.count(Outcome::Ok) > 0
    }
}

/// A failed test run once more on its own (`--exact NAME`).
#[derive(Debug, Default, PartialEq)]
pub struct Retry {
    pub name: String,
    pub harness: Harness,
}

/// What one run's log says.
#[derive(Debug, Default, PartialEq)]
pub struct RunLog {
    /// Guest uptime when /init started (s).
    pub booted_secs: Option<f64>,
    pub uname: Option<String>,
    /// Exit code of `proctrace --duration 1s`.
    pub start_exit: Option<i32>,
    /// Its first stdout line (the `start` record, JSON).
    pub start: Option<String>,
    pub start_stderr: Vec<String>,
    /// The whole suite.
    pub suite: Harness,
    /// The suite's failed tests, each run once more.
    pub retries: Vec<Retry>,
    /// The guest kernel's log, dumped at the end.
    pub dmesg: Vec<String>,
    pub done: bool,
}

impl RunLog {
    pub fn parse(text: &str) -> Self {
        let mut log = Self::default();
        let mut in_dmesg = false;
        for raw in text.lines() {
            let line = raw.trim_end_matches('\r');
            if in_dmesg {
                if line == "@@matrix dmesg-end" {
                    in_dmesg = false;
                } else {
                    log.dmesg.push(line.to_owned());
                }
                continue;
            }
            let Some(rest) = line.strip_prefix(MARK) else {
                match log.retries.last_mut() {
                    Some(retry) => retry.harness.line(line),
                    None => log.suite.line(line),
                }
                continue;
            };
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let value = value.trim();
            match key {
                "booted" => log.booted_secs = value.parse().ok(),
                "uname" => log.uname = Some(value.to_owned()),
                "start-exit" => log.start_exit = value.parse().ok(),
                "start" => log.start = Some(value.to_owned()).filter(|v| !v.is_empty()),
                "start-stderr" => log.start_stderr.push(value.to_owned()),
                "tests-exit" => {
                    log.suite.end_section();
                    log.suite.exit = value.parse().ok();
                }
                "retry" => log.retries.push(Retry {
                    name: value.to_owned(),
                    harness: Harness::default(),
                }),
                "retry-exit" => {
                    if let Some(retry) = log.retries.last_mut() {
                        retry.harness.end_section();
                        retry.harness.exit = value.parse().ok();
                    }
                }
                "dmesg-begin" => in_dmesg = true,
                "done" => log.done = true,
                _ => {}
            }
        }
        log.suite.end_section();
        if let Some(retry) = log.retries.last_mut() {
            retry.harness.end_section();
        }
        log
    }

    /// The suite's failed tests that passed when run again.
    pub fn flaky(&self) -> Vec<&str> {
        self.suite
            .failed()
            .filter(|t| {
                self.retries.iter().any(|r| {
                    r.name == t.name
                        && r.harness.clean()
                        && r.harness.tests.iter().any(|rt| rt.name == t.name)
                })
            })
            .map(|t| t.name.as_str())
            .collect()
    }

    /// Tests that passed, the first time or when run again.
    pub fn passed_tests(&self) -> usize {
        self.suite.count(Outcome::Ok) + self.flaky().len()
    }

    /// Tests that failed in the suite and (if retried) again.
    pub fn failed(&self) -> Vec<&str> {
        let flaky = self.flaky();
        self.suite
            .failed()
            .map(|t| t.name.as_str())
            .filter(|name| !flaky.contains(name))
            .collect()
    }

    /// The hooks of the start record: `fork`, `exec`, `exit`, `reap` → hook names (`none`
    /// for a job without one).
    pub fn hooks(&self) -> Option<Hooks> {
        let start: serde_json::Value = serde_json::from_str(self.start.as_deref()?).ok()?;
        let hooks = start.get("hooks")?.as_object()?;
        let get = |job: &str| {
            hooks
                .get(job)
                .and_then(|hook| hook.as_str())
                .unwrap_or("none")
                .to_owned()
        };
        Some(Hooks {
            fork: get("fork"),
            exec: get("exec"),
            exit: get("exit"),
            reap: get("reap"),
        })
    }

    /// Passed: the start record came, the suite ran to its end with at least one test passed,
    /// and every test that failed passed when run again.
    pub fn passed(&self) -> bool {
        let suite = &self.suite;
        self.start_exit == Some(0)
            && self.hooks().is_some()
            && suite.exit.is_some()
            && suite.unfinished.is_none()
            && suite.count(Outcome::Ok) > 0
            && self.failed().is_empty()
            && (suite.exit == Some(0) || !self.flaky().is_empty())
    }

    /// The test that was running when the log ends.
    pub fn unfinished(&self) -> Option<&str> {
        self.retries
            .last()
            .and_then(|r| r.harness.unfinished.as_deref())
            .or(self.suite.unfinished.as_deref())
    }
}

/// `ok`, `FAILED`, `ignored` (with ` <1.234s>` from --report-time) at the end of `tail`.
fn parse_outcome(tail: &str) -> Option<(Outcome, Option<f64>)> {
    let tail = tail.trim_end();
    let (head, secs) = match tail.strip_suffix("s>").and_then(|t| t.rsplit_once(" <")) {
        Some((head, secs)) => (head, secs.parse().ok()),
        None => (tail, None),
    };
    let outcome = if head.ends_with("FAILED") {
        Outcome::Failed
    } else if head.ends_with("ok") {
        Outcome::Ok
    } else if head.ends_with("ignored") || head.contains("ignored, ") {
        Outcome::Ignored
    } else {
        return None;
    };
    Some((outcome, secs))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hooks {
    pub fork: String,
    pub exec: String,
    pub exit: String,
    pub reap: String,
}

impl Hooks {
    /// `tp_btf / tp_btf / tp_btf / fentry`: the kind(s) of each job's hook(s). A job with
    /// several hooks is written `tracepoint/a/b+tracepoint/c/d, tp_btf/e` or
    /// `tracepoint/a/b+c/d+tp_btf/e`; parts that do not start with a kind are skipped.
    pub fn kinds(&self) -> String {
        const KINDS: [&str; 9] = [
            "tp_btf",
            "tracepoint",
            "raw_tracepoint",
            "fentry",
            "fexit",
            "kprobe",
            "kretprobe",
            "kprobe.multi",
            "lsm",
        ];
        [&self.fork, &self.exec, &self.exit, &self.reap]
            .map(|hook| {
                let mut kinds: Vec<&str> = Vec::new();
                for part in hook.split([',', '+']).map(str::trim) {
                    let kind = part.split('/').next().unwrap_or(part);
                    if KINDS.contains(&kind) && !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                kinds.join("+")
            })
            .join(" / ")
    }
}

/// One row of the summary.
pub struct Row {
    pub kernel: String,
    pub log: RunLog,
    pub wall: Duration,
    pub timed_out: bool,
    /// Why the run could not even start (no kernel, qemu failed…).
    pub error: Option<String>,
    pub log_path: String,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.timed_out && self.log.passed()
    }

    fn result(&self) -> String {
        if let Some(error) = &self.error {
            return format!("ERROR: {error}");
        }
        if self.timed_out {
            return match self.log.unfinished() {
                Some(test) => format!("TIMEOUT in {test}"),
                None => "TIMEOUT".to_owned(),
            };
        }
        if self.log.passed() {
            return "pass".to_owned();
        }
        if self.log.start_exit != Some(0) || self.log.hooks().is_none() {
            return "FAIL (proctrace did not start)".to_owned();
        }
        if self.log.suite.exit.is_none() {
            return "FAIL (the test binary did not finish)".to_owned();
        }
        "FAIL".to_owned()
    }
}

/// The table (markdown, so it can be pasted), then per row the hooks, the slowest tests, the
/// tests that passed only when run again, and every failure with the first lines of its
/// message.
pub fn render(rows: &[Row], deviations: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "| kernel | uname -r | hooks (fork / exec / exit / reap) | passed | failed | \
         passed on retry | tests | wall | result |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let log = &row.log;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} s | {} |",
            row.kernel,
            log.uname.as_deref().unwrap_or("?"),
            log.hooks().map(|h| h.kinds()).unwrap_or_else(|| "?".into()),
            log.passed_tests(),
            log.failed().len(),
            log.flaky().len(),
            log.suite
                .secs()
                .map(|s| format!("{s:.0} s"))
                .unwrap_or_else(|| "-".into()),
            row.wall.as_secs_f64(),
            row.result(),
        );
    }
    for note in deviations {
        let _ = writeln!(out, "\nNOTE: {note}.");
    }
    for row in rows {
        let log = &row.log;
        let _ = writeln!(out, "\n{} ({}):", row.kernel, row.log_path);
        match log.hooks() {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "  hooks: fork={} exec={} exit={} reap={}",
                    h.fork, h.exec, h.exit, h.reap
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  no start record (proctrace exit {:?})",
                    log.start_exit
                );
                for line in log.start_stderr.iter().take(20) {
                    let _ = writeln!(out, "    {}", clip(line));
                }
            }
        }
        if let Some(booted) = log.booted_secs {
            let _ = writeln!(out, "  boot to /init: {booted:.1} s (guest clock)");
        }
        let mut slow: Vec<&TestResult> = log
            .suite
            .tests
            .iter()
            .filter(|t| t.secs.is_some())
            .collect();
        slow.sort_by(|a, b| {
            b.secs
                .partial_cmp(&a.secs)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if !slow.is_empty() {
            let list: Vec<String> = slow
                .iter()
                .take(4)
                .map(|t| format!("{} {:.1}s", t.name, t.secs.unwrap_or(0.0)))
                .collect();
            let _ = writeln!(out, "  slowest: {}", list.join(", "));
        }
        for (name, what) in log
            .flaky()
            .into_iter()
            .map(|n| (n, "failed, then passed when run again"))
            .chain(log.failed().into_iter().map(|n| (n, "FAILED")))
        {
            let _ = writeln!(out, "  {what}: {name}");
            let message = log.suite.failures.get(name).map(String::as_str);
            for line in message.unwrap_or("").lines().take(12) {
                let _ = writeln!(out, "    {}", clip(line));
            }
            let again = log
                .retries
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.harness.failures.get(name));
            if let Some(again) = again {
                let _ = writeln!(out, "    run again:");
                for line in again.lines().take(6) {
                    let _ = writeln!(out, "    {}", clip(line));
                }
            }
        }
        if let Some(test) = log.unfinished() {
            let _ = writeln!(out, "  did not finish: {test}");
        }
    }
    out
}

/// A line of at most 300 characters (assertion messages can hold whole record lists; the log
/// has them in full).
fn clip(line: &str) -> String {
    const MAX: usize = 300;
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} […]", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
thread 'foundation::auto::sh_exit_7' panicked at tracer/tests/privileged/foundation.rs:57:5:\r
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
    fn names_hook_kinds() {
        let hooks = |reap: &str| Hooks {
            fork: "tp_btf/sched_process_fork".into(),
            exec: "tracepoint/sched/sched_process_exec".into(),
            exit: "kprobe/do_exit".into(),
            reap: reap.into(),
        };
        assert_eq!(
            hooks("fentry/release_task").kinds(),
            "tp_btf / tracepoint / kprobe / fentry"
        );
        assert_eq!(
            hooks(
                "tracepoint/syscalls/sys_enter_wait4+tracepoint/syscalls/sys_exit_wait4\
                 +tp_btf/sched_process_free"
            )
            .kinds(),
            "tp_btf / tracepoint / kprobe / tracepoint+tp_btf"
        );
    }

    #[test]
    fn clips_long_lines() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(clip(&long), format!("{} […]", "é".repeat(300)));
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
        assert!(
            table.contains("  failed, then passed when run again: foundation::auto::sh_exit_7\n")
        );
        assert!(table.contains("\nNOTE: the tests ran with PROCTRACE_CHURN_SECS=20.\n"));
    }
}
