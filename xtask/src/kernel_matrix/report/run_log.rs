//! What one run's log says: the `@@matrix` lines of run-tests.sh and /init, the suite's
//! libtest output, the retries, the kernel's log.

use super::{
    harness::{Harness, Outcome},
    hooks::Hooks,
};

const MARK: &str = "@@matrix ";

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
            in_dmesg = log.marker(rest);
        }
        log.suite.end_section();
        if let Some(retry) = log.retries.last_mut() {
            retry.harness.end_section();
        }
        log
    }

    /// One `@@matrix KEY VALUE` line (`rest` is what follows the mark); returns whether the
    /// kernel log dump begins.
    fn marker(&mut self, rest: &str) -> bool {
        let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
        let value = value.trim();
        match key {
            "booted" => self.booted_secs = value.parse().ok(),
            "uname" => self.uname = Some(value.to_owned()),
            "start-exit" => self.start_exit = value.parse().ok(),
            "start" => self.start = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "start-stderr" => self.start_stderr.push(value.to_owned()),
            "tests-exit" => {
                self.suite.end_section();
                self.suite.exit = value.parse().ok();
            }
            "retry" => self.retries.push(Retry {
                name: value.to_owned(),
                harness: Harness::default(),
            }),
            "retry-exit" => {
                if let Some(retry) = self.retries.last_mut() {
                    retry.harness.end_section();
                    retry.harness.exit = value.parse().ok();
                }
            }
            "dmesg-begin" => return true,
            "done" => self.done = true,
            _ => {}
        }
        false
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

    /// The start record's `unsupported`: what proctrace says this kernel cannot measure.
    pub fn unsupported(&self) -> Vec<String> {
        let start: Option<serde_json::Value> = self
            .start
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        start
            .as_ref()
            .and_then(|s| s.get("unsupported")?.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
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
