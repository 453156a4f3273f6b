//! The `host` row: the guests' test script on the host, with the same binaries.

use std::{fs, path::Path, process::Command, time::Duration};

use anyhow::{Context as _, Result};

use super::{console, report::Row, scripts, static_build::StaticBins};

/// The same script as in the guests, on the host, with the same binaries.
pub fn row(
    matrix: &Path,
    bins: &StaticBins,
    run: &scripts::TestRun,
    timeout: Duration,
) -> Result<Row> {
    let script = matrix.join("run-tests.sh");
    fs::write(&script, scripts::RUN_TESTS_SH)
        .with_context(|| format!("writing {}", script.display()))?;
    let mut command = Command::new("sh");
    command
        .arg(&script)
        .args(&run.args)
        .envs(run.env.iter().map(|(key, value)| (key, value)))
        .env("PROCTRACE_BIN", &bins.proctrace)
        .env("PROCTRACE_SCENARIO_BIN", &bins.scenario)
        .env("PROCTRACE_TESTS", &bins.tests)
        .env("PROCTRACE_MATRIX_RETRY", if run.retry { "1" } else { "0" });
    Ok(console::run_logged(
        "host",
        command,
        &matrix.join("logs"),
        timeout,
    ))
}
