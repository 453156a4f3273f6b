//! Reading a run's console log (a guest's serial output, or the host run's output) and the
//! summary table.
//!
//! The log holds the `@@matrix` lines of run-tests.sh and /init, and libtest's pretty output
//! of `--test-threads=1 --report-time`: `test NAME ... ok <1.234s>`. With one test thread
//! libtest prints `test NAME ... ` before the test runs and the outcome after it, so output of
//! the test's children (their inherited stderr) can land in between: the outcome is then the
//! end of a later line.
//!
//! [`harness`] reads libtest's output, [`run_log`] a whole run's log, [`hooks`] the hooks of
//! proctrace's start record, and [`table`] renders the summary.

mod harness;
mod hooks;
mod run_log;
mod table;
#[cfg(test)]
mod tests;

pub use run_log::RunLog;
pub use table::{render, Row};
