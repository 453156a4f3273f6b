//! libtest's pretty output of one run of the test binary, line by line.

use std::collections::BTreeMap;

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
    pub(super) fn line(&mut self, line: &str) {
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

    pub(super) fn end_section(&mut self) {
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

    pub(super) fn failed(&self) -> impl Iterator<Item = &TestResult> {
        self.tests.iter().filter(|t| t.outcome == Outcome::Failed)
    }

    /// `finished in 12.34s` of the `test result:` line.
    pub fn secs(&self) -> Option<f64> {
        let summary = self.summary.as_deref()?;
        let (_, rest) = summary.split_once("finished in ")?;
        rest.trim().strip_suffix('s')?.parse().ok()
    }

    /// Exited 0 with every test it ran passed (or ignored) and at least one passed.
    pub(super) fn clean(&self) -> bool {
        self.exit == Some(0)
            && self.unfinished.is_none()
            && self.count(Outcome::Failed) == 0
            && self.count(Outcome::Ok) > 0
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
