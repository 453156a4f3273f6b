//! `cargo xtask bench`: proctrace side by side with the peer tracers a user would pick
//! instead, on process-churn workloads and a syscall loop, and a soak run. Writes BENCHMARKS.md.
//!
//! Side by side (default): every workload (`proctrace-workload`, built from
//! proctrace-tests/src/bin/proctrace-workload.rs) runs untraced and traced, interleaved
//! `B T1 B T2 … B` in every round (the tracer order rotates between rounds), so each traced
//! run is compared with the untraced runs right before and after it: machine drift cancels.
//! Medians over `--runs` rounds.
//!
//! Soak (`--soak`): 1,000,000 processes churned under proctrace, its RSS sampled every second.
//!
//! - [`side_by_side`]: the interleaved rounds; [`soak`]: the soak;
//! - [`workload`]: the workload generator; [`tracers`]: starting, stopping and reading the
//!   tracers; [`procfs`]: what is read about them from /proc; [`host`]: tracefs, packages,
//!   commit and date;
//! - [`report`]: BENCHMARKS.md sections and the raw JSON.

mod host;
mod procfs;
mod report;
mod side_by_side;
mod soak;
mod tracers;
mod workload;

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _, Result};

use crate::{
    build,
    cmd::{self, note},
};
use side_by_side::Rounds;
use tracers::Tracer;

#[derive(clap::Args)]
pub struct Options {
    /// Rounds per workload (each round: untraced, then each tracer followed by an untraced run)
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Multiply the workload sizes (1.0: about one second per untraced run)
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Soak instead: churn --soak-processes processes under proctrace, sampling its RSS
    #[arg(long)]
    soak: bool,
    /// Processes churned by --soak
    #[arg(long, default_value_t = 1_000_000)]
    soak_processes: u64,
    /// Tracers to compare, comma-separated (default: all). proctrace, bpftrace, execsnoop,
    /// exitsnoop, execsnoop-bpfcc, exitsnoop-bpfcc, forkstat
    #[arg(long, value_delimiter = ',')]
    tracers: Vec<String>,
    /// Workloads, comma-separated (default: all). exec, fork, thread, zombie, syscall
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Parallel workers of the workload generator (default: 2 per CPU)
    #[arg(long)]
    workers: Option<u64>,
    /// Do not apt-get install missing peer tracers (they are then reported as missing)
    #[arg(long)]
    no_install: bool,
    /// Benchmark this proctrace binary instead of building target/release/proctrace
    #[arg(long)]
    proctrace: Option<PathBuf>,
    /// Also benchmark this proctrace binary, as `proctrace-baseline` beside `proctrace` (e.g.
    /// a build of the commit before a change): the change's cost, measured in the same run
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Keep the tracers' output files in target/bench/out
    #[arg(long)]
    keep_output: bool,
    /// Write the report here instead of BENCHMARKS.md at the workspace root
    #[arg(long)]
    report: Option<PathBuf>,
}

/// What every measurement needs: the binaries, where output goes, the workers.
pub struct Context {
    /// The commit benchmarked, read once at the start.
    commit: String,
    workload_bin: PathBuf,
    exec_target: PathBuf,
    out_dir: PathBuf,
    workers: Option<u64>,
    keep_output: bool,
}

/// Where the results go and what the report says about the run.
struct Publication {
    started: Instant,
    /// `cargo xtask bench ...` as typed.
    command: String,
    machine: String,
    /// target/bench: the raw JSON goes here.
    bench_dir: PathBuf,
    /// BENCHMARKS.md or `--report`.
    report_path: PathBuf,
}

pub fn run(opts: Options) -> Result<()> {
    ensure!(
        cmd::is_root(),
        "the benchmark loads eBPF programs: run `cargo xtask bench` as root"
    );
    ensure!(opts.runs >= 1, "--runs must be at least 1");
    ensure!(opts.scale > 0.0, "--scale must be positive");
    let started = Instant::now();
    let command = host::command_line();
    host::ensure_tracefs()?;

    let proctrace = match &opts.proctrace {
        Some(path) => path.clone(),
        None => build::build(true)?,
    };
    let bench_dir = cmd::target_dir().join("bench");
    let out_dir = bench_dir.join("out");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let ctx = Context {
        commit: host::commit(),
        workload_bin: workload::build()?,
        exec_target: workload::exec_target(&bench_dir)?,
        out_dir,
        workers: opts.workers,
        keep_output: opts.keep_output,
    };
    let script = bench_dir.join("proctrace-equivalent.bt");
    fs::write(&script, tracers::BPFTRACE_SCRIPT)?;

    let mut tracers = tracers::all(&proctrace, &script);
    if let Some(baseline) = &opts.baseline {
        tracers.insert(1, tracers::baseline(baseline));
    }
    let all = select_tracers(tracers, &opts)?;
    if !opts.no_install {
        host::install_missing(&all);
    }
    let publication = Publication {
        started,
        command,
        machine: procfs::machine(),
        report_path: opts
            .report
            .clone()
            .unwrap_or_else(|| cmd::workspace_root().join("BENCHMARKS.md")),
        bench_dir,
    };
    if opts.soak {
        // tracers::all lists proctrace first, and --soak keeps only it.
        run_soak(&all[0], &ctx, opts.soak_processes, &publication)
    } else {
        let rounds = Rounds {
            runs: opts.runs,
            scale: opts.scale,
        };
        run_side_by_side(&all, &ctx, &opts.workloads, rounds, &publication)
    }
}

/// proctrace alone for `--soak`; else the tracers of `--tracers` (all when empty) and
/// proctrace, in [`tracers::all`]'s order.
fn select_tracers(mut all: Vec<Tracer>, opts: &Options) -> Result<Vec<Tracer>> {
    if opts.soak {
        all.truncate(1);
    } else if !opts.tracers.is_empty() {
        for key in &opts.tracers {
            ensure!(
                all.iter().any(|t| t.key == key),
                "unknown tracer {key:?}; known: {}",
                all.iter().map(|t| t.key).collect::<Vec<_>>().join(", ")
            );
        }
        all.retain(|t| {
            t.key == "proctrace"
                || t.key == tracers::BASELINE
                || opts.tracers.iter().any(|k| k == t.key)
        });
    }
    Ok(all)
}

fn run_soak(tracer: &Tracer, ctx: &Context, processes: u64, out: &Publication) -> Result<()> {
    let status = side_by_side::probe(tracer, ctx)?;
    ensure!(
        status.error.is_none(),
        "proctrace does not start: {}",
        status.error.unwrap_or_default()
    );
    let soak = soak::soak(tracer, ctx, processes)?;
    let elapsed = out.started.elapsed();
    let meta = out.meta(ctx, elapsed, 1, 1.0);
    publish(
        &out.report_path,
        &out.bench_dir,
        "soak",
        report::soak_json(&meta, &soak).to_string(),
        &report::soak_markdown(&meta, &soak),
        elapsed,
    )
}

fn run_side_by_side(
    all: &[Tracer],
    ctx: &Context,
    workload_keys: &[String],
    rounds: Rounds,
    out: &Publication,
) -> Result<()> {
    let workloads = workload::select(workload_keys)?;
    let (mut statuses, usable) = side_by_side::probe_all(all, ctx)?;
    let measured = side_by_side::measure(ctx, &workloads, &usable, &mut statuses, rounds)?;
    let elapsed = out.started.elapsed();
    let meta = out.meta(ctx, elapsed, rounds.runs, rounds.scale);
    let side = report::SideBySide {
        workloads: &workloads,
        statuses: &statuses,
        baselines: &measured.baselines,
        traced: &measured.traced,
        workers: ctx.workers,
    };
    publish(
        &out.report_path,
        &out.bench_dir,
        "quick",
        report::side_json(&meta, &side).to_string(),
        &report::side_markdown(&meta, &side),
        elapsed,
    )
}

impl Publication {
    /// The report's header; the date is read now, at the end of the run.
    fn meta(&self, ctx: &Context, elapsed: Duration, runs: usize, scale: f64) -> report::Meta {
        report::Meta {
            command: self.command.clone(),
            machine: self.machine.clone(),
            commit: ctx.commit.clone(),
            date: host::date(),
            total_s: elapsed.as_secs_f64(),
            runs,
            scale,
        }
    }
}

/// Keeps the raw numbers (`soak.json` for the soak, `raw.json` otherwise) and regenerates
/// the mode's section of BENCHMARKS.md.
fn publish(
    report_path: &Path,
    bench_dir: &Path,
    section: &str,
    json: String,
    markdown: &str,
    elapsed: Duration,
) -> Result<()> {
    let (raw, what) = if section == "soak" {
        ("soak.json", "soak")
    } else {
        ("raw.json", "bench")
    };
    fs::write(bench_dir.join(raw), json)?;
    report::write_section(report_path, section, markdown)?;
    note(format_args!(
        "{what} done in {:.0} s: {} (raw numbers: {})",
        elapsed.as_secs_f64(),
        report_path.display(),
        bench_dir.join(raw).display()
    ));
    Ok(())
}
