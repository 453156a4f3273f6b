//! The summary: one markdown row per kernel (and the host), then each row's details.

use std::{fmt::Write as _, time::Duration};

use super::{harness::TestResult, run_log::RunLog};

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
        summary_row(&mut out, row);
    }
    for note in deviations {
        let _ = writeln!(out, "\nNOTE: {note}.");
    }
    for row in rows {
        details(&mut out, row);
    }
    out
}

/// The row's line of the table.
fn summary_row(out: &mut String, row: &Row) {
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

/// The row's hooks (or why proctrace did not start), boot time, slowest tests, failures and
/// the test that did not finish.
fn details(out: &mut String, row: &Row) {
    let log = &row.log;
    let _ = writeln!(out, "\n{} ({}):", row.kernel, row.log_path);
    start(out, log);
    if let Some(booted) = log.booted_secs {
        let _ = writeln!(out, "  boot to /init: {booted:.1} s (guest clock)");
    }
    slowest(out, log);
    failures(out, log);
    if let Some(test) = log.unfinished() {
        let _ = writeln!(out, "  did not finish: {test}");
    }
}

/// The hooks of the start record, or proctrace's exit code and stderr.
fn start(out: &mut String, log: &RunLog) {
    match log.hooks() {
        Some(h) => {
            let _ = writeln!(
                out,
                "  hooks: fork={} exec={} exit={} reap={}",
                h.fork, h.exec, h.exit, h.reap
            );
            let unsupported = log.unsupported();
            if !unsupported.is_empty() {
                let _ = writeln!(out, "  unsupported: {}", unsupported.join(", "));
            }
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
}

/// The four slowest tests of the suite.
fn slowest(out: &mut String, log: &RunLog) {
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
}

/// The tests that failed (also those that passed when run again), with their messages.
fn failures(out: &mut String, log: &RunLog) {
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

    #[test]
    fn clips_long_lines() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(clip(&long), format!("{} […]", "é".repeat(300)));
    }
}
