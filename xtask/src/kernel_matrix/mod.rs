//! `cargo xtask kernel-matrix`: the privileged test suite on Debian's 5.10, 6.1, 6.12 and 7.3
//! cloud kernels under qemu (TCG), and on the host.
//!
//! 1. setup (eBPF toolchain) and qemu (`qemu-system-x86` from bookworm-backports when
//!    missing);
//! 2. a static build of proctrace, proctrace-scenario and the `privileged` test binary
//!    (`-C target-feature=+crt-static`, in `~/.cache/proctrace/matrix-build`, shared by the
//!    clones, see [`static_build`]; copied to target/matrix/bin);
//! 3. the kernels: each line's meta package resolved in a private apt configuration, the
//!    versioned packages downloaded and unpacked (never installed), vmlinuz kept in the cache
//!    (`$XDG_CACHE_HOME/proctrace/kernels` or `~/.cache/proctrace/kernels`) under the package
//!    name and version, so a second run downloads nothing;
//! 4. one initramfs (static busybox from `busybox-static`, the three binaries, /init);
//! 5. each kernel booted under qemu: /init mounts proc, sysfs, devtmpfs, tracefs, debugfs,
//!    bpffs, cgroup2, prints `uname -r`, runs `proctrace --duration 1s` once for its start
//!    record, runs the tests with `--test-threads=1`, runs each failed test once more on its
//!    own (a test that then passes counts as passed and is listed as such; `--no-retry`) and
//!    powers off; the serial console is kept in target/matrix/logs/<kernel>.log;
//! 6. the same test script on the host with the same binaries (the `host` row); all rows
//!    run at once by default ([`parallel`], `--jobs N` for fewer), each with its own log;
//! 7. a table (also in target/matrix/summary.md): kernel, `uname -r`, hooks, passed, failed,
//!    result; then a closing `kernel-matrix: N passed, M failed` line. Any failure → exit 1.
//!
//! Modules: [`kernels`] and [`cache`] (downloads, through [`apt`]), [`static_build`],
//! [`scripts`] and [`initramfs`] (what runs in the guests), [`guest`] and [`host`] (the rows,
//! run through [`console`], side by side through [`parallel`]), [`report`] (reading the
//! logs, the table).

mod apt;
mod cache;
mod console;
mod elf;
mod guest;
mod host;
mod initramfs;
mod kernels;
mod parallel;
mod report;
mod scripts;
mod static_build;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

use crate::{
    cmd::{self, note, Reported},
    setup,
};
use apt::AptRoot;
use report::{Row, RunLog};
use scripts::TestRun;
use static_build::StaticBins;

#[derive(clap::Args)]
pub struct Options {
    /// Only this kernel (repeatable): 5.10, 6.1, 6.12, 7.3
    #[arg(long = "kernel", value_name = "LABEL")]
    kernels: Vec<String>,
    /// Skip the host row
    #[arg(long)]
    no_host: bool,
    /// Refresh the package lists even when they are less than a day old
    #[arg(long)]
    refresh: bool,
    /// Do not run a failed test once more (by default a test that fails and then passes on
    /// its own counts as passed, and the report lists it)
    #[arg(long)]
    no_retry: bool,
    /// Guests run at once (the host row always runs beside them). More than one are
    /// emulated with one host thread each (see guest.rs): faster, but on two cores it
    /// stretches the guests' exit paths past the 5 ms tolerances of some tests
    #[arg(long, default_value_t = 1, value_name = "N")]
    jobs: usize,
    /// Give up on one kernel's run after this many seconds
    #[arg(long, default_value_t = 1200, value_name = "SECONDS")]
    timeout: u64,
    /// Set an environment variable for the tests (repeatable; e.g. a test's own duration
    /// knob); the report lists it
    #[arg(long = "test-env", value_name = "KEY=VALUE", value_parser = parse_env)]
    test_env: Vec<(String, String)>,
    /// Extra arguments for the test binary (e.g. a name filter or `--skip NAME`); the report
    /// says the suite was not run in full
    #[arg(last = true)]
    test_args: Vec<String>,
}

pub fn run(opts: Options) -> Result<()> {
    let lines = kernels::select(&opts.kernels)?;
    if !cmd::is_root() {
        note("not root: installing qemu and the host row's tests need root");
    }
    let started = Instant::now();
    setup::ensure()?;
    let cache = cache::dir()?;
    guest::ensure_qemu(&cache)?;
    let matrix = cmd::target_dir().join("matrix");
    let logs = matrix.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let bins = static_build::build(&crate::setup::cache_dir()?.join("matrix-build"), &matrix)?;

    let apt = AptRoot::new(cache.join("apt-kernels"), &kernels::KERNEL_SUITES)?;
    cache::update_lists(&apt, opts.refresh)?;
    let busybox = cache::fetch_busybox(&apt, &cache)?;
    let kernels = fetch_kernels(&apt, &cache, &lines);

    let run = TestRun {
        args: opts.test_args,
        env: opts.test_env,
        retry: !opts.no_retry,
    };
    let initrd = write_initramfs(&matrix, &busybox, &bins, &run)?;

    let timeout = Duration::from_secs(opts.timeout);
    let emu = guest::Emulation {
        single_thread: opts.jobs > 1,
        timeout,
    };
    let mut guests: Vec<parallel::Job> = Vec::new();
    for (label, kernel) in kernels {
        let (initrd, logs) = (&initrd, &logs);
        guests.push(Box::new(move || {
            Ok(match kernel {
                Ok(vmlinuz) => guest::row(label, &vmlinuz, initrd, logs, emu),
                Err(err) => not_run(label, &err),
            })
        }));
    }
    let host = (!opts.no_host).then(|| {
        let (matrix, bins, run) = (&matrix, &bins, &run);
        Box::new(move || host::row(matrix, bins, run, timeout)) as parallel::Job
    });
    let rows = parallel::beside(host, guests, opts.jobs)?;
    conclude(&rows, &run, &matrix, started.elapsed())
}

/// Every line's vmlinuz, or why it could not be had (that line's row then says so; the
/// others still run).
fn fetch_kernels(
    apt: &AptRoot,
    cache: &Path,
    lines: &[&kernels::KernelLine],
) -> Vec<(&'static str, Result<PathBuf>)> {
    let mut kernels = Vec::new();
    for line in lines {
        let kernel = kernels::fetch_kernel(apt, cache, line)
            .with_context(|| format!("getting the {} kernel", line.label));
        kernels.push((line.label, kernel));
    }
    kernels
}

/// `<matrix>/initramfs.cpio` with busybox, the static binaries and the test run.
fn write_initramfs(
    matrix: &Path,
    busybox: &Path,
    bins: &StaticBins,
    run: &TestRun,
) -> Result<PathBuf> {
    let initrd = matrix.join("initramfs.cpio");
    let applets = cmd::stdout_of(Command::new(busybox).arg("--list-full"))?;
    initramfs::write(
        &initrd,
        &initramfs::Contents {
            busybox,
            applets: &applets,
            proctrace: &bins.proctrace,
            scenario: &bins.scenario,
            tests: &bins.tests,
            run,
        },
    )?;
    note(format_args!(
        "initramfs {} ({} MiB)",
        initrd.display(),
        fs::metadata(&initrd)?.len() >> 20
    ));
    Ok(initrd)
}

/// The row of a kernel that could not be fetched.
fn not_run(label: &str, err: &anyhow::Error) -> Row {
    Row {
        kernel: label.to_owned(),
        log: RunLog::default(),
        wall: Duration::ZERO,
        timed_out: false,
        error: Some(format!("{err:#}")),
        log_path: "-".into(),
    }
}

/// Print and save the table, then the closing line: tests over all rows, as CI reads it.
fn conclude(rows: &[Row], run: &TestRun, matrix: &Path, took: Duration) -> Result<()> {
    let mut notes = run.deviations();
    if rows.iter().any(|row| row.kernel != "host") {
        notes.push(scripts::guest_skip_note());
    }
    let table = report::render(rows, &notes);
    let summary = matrix.join("summary.md");
    fs::write(&summary, &table).with_context(|| format!("writing {}", summary.display()))?;
    eprintln!("\n{table}");
    let failed_rows: Vec<&str> = rows
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.kernel.as_str())
        .collect();
    let passed: usize = rows.iter().map(|r| r.log.passed_tests()).sum();
    let failed: usize = rows.iter().map(|r| r.log.failed().len()).sum();
    let took = took.as_secs();
    if failed_rows.is_empty() {
        note(format_args!(
            "kernel-matrix: PASSED ({} rows, {took} s; table in {})",
            rows.len(),
            summary.display()
        ));
    } else {
        note(format_args!(
            "kernel-matrix: FAILED on {} ({took} s; logs in {})",
            failed_rows.join(", "),
            matrix.join("logs").display()
        ));
    }
    eprintln!("kernel-matrix: {passed} passed, {failed} failed");
    if failed_rows.is_empty() {
        Ok(())
    } else {
        Err(Reported { code: 1 }.into())
    }
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value))
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{s:?}: expected KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_test_env() {
        assert_eq!(
            parse_env("PROCTRACE_CHURN_SECS=20"),
            Ok(("PROCTRACE_CHURN_SECS".into(), "20".into()))
        );
        assert_eq!(parse_env("K=a=b"), Ok(("K".into(), "a=b".into())));
        for bad in ["bad", "=1", "A-B=1"] {
            assert_eq!(parse_env(bad), Err(format!("{bad:?}: expected KEY=VALUE")));
        }
    }
}
