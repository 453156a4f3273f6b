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
    pub tests: Vec<TestResult>,
    /// A test that started and never finished (the run was cut off).
    pub unfinished: Option<String>,
    /// libtest's `test result:` line.
    pub summary: Option<String>,
    pub tests_exit: Option<i32>,
    /// Panic messages etc. of failed tests, from libtest's `---- NAME stdout ----` sections.
    pub failures: BTreeMap<String, String>,
    /// The guest kernel's log, dumped at the end.
    pub dmesg: Vec<String>,
    pub done: bool,
}

impl RunLog {
    pub fn parse(text: &str) -> Self {
        let mut log = Self::default();
        let mut in_dmesg = false;
        let mut failure: Option<(String, String)> = None;
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
            if let Some(rest) = line.strip_prefix(MARK) {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                match key {
                    "booted" => log.booted_secs = value.trim().parse().ok(),
                    "uname" => log.uname = Some(value.trim().to_owned()),
                    "start-exit" => log.start_exit = value.trim().parse().ok(),
                    "start" => log.start = Some(value.to_owned()).filter(|v| !v.is_empty()),
                    "start-stderr" => log.start_stderr.push(value.to_owned()),
                    "tests-exit" => log.tests_exit = value.trim().parse().ok(),
                    "dmesg-begin" => in_dmesg = true,
                    "done" => log.done = true,
                    _ => {}
                }
                continue;
            }
            // Failure sections come after all the results.
            if let Some(name) = line
                .strip_prefix("---- ")
                .and_then(|rest| rest.strip_suffix(" stdout ----"))
            {
                if let Some((name, text)) = failure.take() {
                    log.failures.insert(name, text);
                }
                failure = Some((name.to_owned(), String::new()));
                continue;
            }
            if let Some((_, text)) = &mut failure {
                if line == "failures:" || line.starts_with("test result:") {
                    let (name, text) = failure.take().expect("in a failure section");
                    log.failures.insert(name, text.trim_end().to_owned());
                } else {
                    text.push_str(line);
                    text.push('\n');
                    continue;
                }
            }
            if line.starts_with("test result:") {
                log.summary = Some(line.to_owned());
                continue;
            }
            if let Some((name, rest)) = line
                .strip_prefix("test ")
                .and_then(|rest| rest.split_once(" ... "))
            {
                log.unfinished = Some(name.to_owned());
                log.finish_test(rest);
            } else if log.unfinished.is_some() {
                log.finish_test(line);
            }
        }
        if let Some((name, text)) = failure {
            log.failures.insert(name, text.trim_end().to_owned());
        }
        log
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

    /// `finished in 12.34s` of the `test result:` line.
    pub fn tests_secs(&self) -> Option<f64> {
        let summary = self.summary.as_deref()?;
        let (_, rest) = summary.split_once("finished in ")?;
        rest.trim().strip_suffix('s')?.parse().ok()
    }

    /// The hooks of the start record: `fork`, `exec`, `exit`, `reap` → hook names.
    pub fn hooks(&self) -> Option<Hooks> {
        let start: serde_json::Value = serde_json::from_str(self.start.as_deref()?).ok()?;
        let hooks = start.get("hooks")?;
        let get = |job: &str| hooks.get(job)?.as_str().map(str::to_owned);
        Some(Hooks {
            fork: get("fork")?,
            exec: get("exec")?,
            exit: get("exit")?,
            reap: get("reap")?,
        })
    }

    /// Passed: the start record came, the test binary exited 0 with at least one test passed
    /// and none failed.
    pub fn passed(&self) -> bool {
        self.start_exit == Some(0)
            && self.hooks().is_some()
            && self.tests_exit == Some(0)
            && self.count(Outcome::Failed) == 0
            && self.count(Outcome::Ok) > 0
            && self.unfinished.is_none()
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
    /// `tp_btf / tp_btf / tp_btf / tracepoint+tp_btf`: the kind of each job's hook(s).
    pub fn kinds(&self) -> String {
        [&self.fork, &self.exec, &self.exit, &self.reap]
            .map(|hook| {
                hook.split(", ")
                    .map(|h| h.split('/').next().unwrap_or(h))
                    .collect::<Vec<_>>()
                    .join("+")
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
            return match &self.log.unfinished {
                Some(test) => format!("TIMEOUT in {test}"),
                None => "TIMEOUT".to_owned(),
            };
        }
        if self.log.passed() {
            return "pass".to_owned();
        }
        if self.log.start_exit != Some(0) {
            return "FAIL (proctrace did not start)".to_owned();
        }
        "FAIL".to_owned()
    }
}

/// The table (markdown, so it can be pasted), then per row the hooks, the slowest tests and
/// every failure with the first lines of its message.
pub fn render(rows: &[Row], test_args: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "| kernel | uname -r | hooks (fork / exec / exit / reap) | passed | failed | tests | \
         wall | result |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let log = &row.log;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} s | {} |",
            row.kernel,
            log.uname.as_deref().unwrap_or("?"),
            log.hooks().map(|h| h.kinds()).unwrap_or_else(|| "?".into()),
            log.count(Outcome::Ok),
            log.count(Outcome::Failed),
            log.tests_secs()
                .map(|s| format!("{s:.0} s"))
                .unwrap_or_else(|| "-".into()),
            row.wall.as_secs_f64(),
            row.result(),
        );
    }
    if !test_args.is_empty() {
        let _ = writeln!(
            out,
            "\nNOTE: the test binary ran with extra arguments {test_args:?}; not the full suite."
        );
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
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        if let Some(booted) = log.booted_secs {
            let _ = writeln!(out, "  boot to /init: {booted:.1} s (guest clock)");
        }
        let mut slow: Vec<&TestResult> = log.tests.iter().filter(|t| t.secs.is_some()).collect();
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
        for test in log.tests.iter().filter(|t| t.outcome == Outcome::Failed) {
            let _ = writeln!(out, "  FAILED {}", test.name);
            let message = log.failures.get(&test.name).map(String::as_str);
            for line in message.unwrap_or("").lines().take(12) {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(test) = &log.unfinished {
            let _ = writeln!(out, "  did not finish: {test}");
        }
    }
    out
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
            log.tests,
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
        assert_eq!(log.unfinished, None);
        assert_eq!(log.tests_exit, Some(101));
        assert_eq!(log.tests_secs(), Some(1.6));
        assert!(log.failures["foundation::auto::sh_exit_7"]
            .contains("panicked at tracer/tests/privileged/foundation.rs:57:5"));
        assert!(log.failures["foundation::auto::sh_exit_7"].ends_with("failed"));
        assert_eq!(log.dmesg.len(), 2);
        assert!(log.done);
        assert!(!log.passed());
        let hooks = log.hooks().expect("hooks");
        assert_eq!(hooks.fork, "tp_btf/sched_process_fork");
        assert_eq!(
            hooks.kinds(),
            "tp_btf / tp_btf / tp_btf / tracepoint+tp_btf"
        );
    }

    #[test]
    fn a_clean_run_passes() {
        let text = GUEST
            .replace("scenario: stray stderr\r\nFAILED", "ok")
            .replace("@@matrix tests-exit 101", "@@matrix tests-exit 0");
        let log = RunLog::parse(&text);
        assert_eq!(log.count(Outcome::Ok), 2);
        assert_eq!(log.count(Outcome::Failed), 0);
        assert!(log.passed());
        // Without a start record there are no hooks to report: not a pass.
        let log = RunLog::parse(&text.replace("@@matrix start {", "@@matrix start-x {"));
        assert!(!log.passed());
    }

    #[test]
    fn a_cut_off_run_names_the_test_that_hung() {
        let text = "@@matrix uname 7.3.4+deb13-cloud-amd64\n@@matrix start-exit 0\n\
                    test edges::a ... ok <0.1s>\ntest lifecycle::classic::spawn_storm_is_complete ... ";
        let log = RunLog::parse(text);
        assert_eq!(log.tests.len(), 1);
        assert_eq!(
            log.unfinished.as_deref(),
            Some("lifecycle::classic::spawn_storm_is_complete")
        );
        assert_eq!(log.tests_exit, None);
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
    }

    #[test]
    fn renders_the_table() {
        let row = Row {
            kernel: "6.1".into(),
            log: RunLog::parse(GUEST),
            wall: Duration::from_secs(42),
            timed_out: false,
            error: None,
            log_path: "target/matrix/logs/6.1.log".into(),
        };
        let table = render(&[row], &[]);
        assert!(
            table.contains(
                "| 6.1 | 6.1.0-56-cloud-amd64 | tp_btf / tp_btf / tp_btf / tracepoint+tp_btf \
                 | 1 | 1 | 2 s | 42 s | FAIL |"
            ),
            "{table}"
        );
        assert!(table.contains("  FAILED foundation::auto::sh_exit_7\n"));
        assert!(table.contains("assertion `left == right` failed"));
    }
}
