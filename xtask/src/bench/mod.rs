//! `cargo xtask bench`: proctrace side by side with the peer tracers a user would pick
//! instead, on process-churn workloads, and a soak run. Writes BENCHMARKS.md.
//!
//! Side by side (default): every workload (`proctrace-workload`, built from
//! xtask/src/bin/proctrace-workload.rs) runs untraced and traced, interleaved
//! `B T1 B T2 … B` in every round (the tracer order rotates between rounds), so each traced
//! run is compared with the untraced runs right before and after it: machine drift cancels.
//! Medians over `--runs` rounds.
//!
//! Soak (`--soak`): 1,000,000 processes churned under proctrace, its RSS sampled every second.

mod procfs;
mod report;
mod tracers;

use std::{
    fs,
    io::{BufRead as _, BufReader},
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};

use crate::{
    build,
    cmd::{self, note},
};
use tracers::{Lost, Tracer};

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
    /// Workloads, comma-separated (default: all). exec, fork, thread, zombie
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
    /// Keep the tracers' output files in target/bench/out
    #[arg(long)]
    keep_output: bool,
    /// Write the report here instead of BENCHMARKS.md at the workspace root
    #[arg(long)]
    report: Option<PathBuf>,
}

/// A workload of the side-by-side run.
pub struct Workload {
    pub key: &'static str,
    pub title: &'static str,
    /// `proctrace-workload` arguments, without `--count`.
    pub args: &'static [&'static str],
    /// `--count` at scale 1 (about one second untraced on 2 CPUs).
    pub count: u64,
    pub what: &'static str,
}

pub const WORKLOADS: [Workload; 4] = [
    Workload {
        key: "exec",
        title: "exec storm",
        args: &["exec"],
        count: 3_000,
        what: "fork + execve of a tiny program (a copy of /bin/true) + waitpid",
    },
    Workload {
        key: "fork",
        title: "fork storm",
        args: &["fork"],
        count: 12_000,
        what: "fork + _exit(0) + waitpid",
    },
    Workload {
        key: "thread",
        title: "thread storm",
        args: &["thread", "--batch", "8"],
        count: 40_000,
        what: "8 threads created, exiting at once, joined; repeated",
    },
    Workload {
        key: "zombie",
        title: "zombie mix",
        args: &[
            "zombie",
            "--batch",
            "32",
            "--hold-ms",
            "20",
            "--long",
            "4",
            "--long-min-ms",
            "1200",
        ],
        count: 4_000,
        what: "batches of 32 children (half exec, half exit) left unreaped 20 ms, then \
               reaped; 4 per worker left as zombies for 1.2 s",
    },
];

/// What one workload run reported.
#[derive(Clone, Copy, Debug)]
pub struct WorkloadRun {
    pub elapsed_s: f64,
    /// CPU time of the workload's whole process tree (user + system).
    pub cpu_s: f64,
    pub processes: u64,
    pub threads: u64,
}

impl WorkloadRun {
    /// Processes + threads created.
    pub fn tasks(&self) -> u64 {
        self.processes + self.threads
    }
}

/// One traced run.
#[derive(Debug)]
pub struct TracedRun {
    pub workload: &'static str,
    pub tracer: &'static str,
    pub round: usize,
    pub run: WorkloadRun,
    /// Mean of the untraced runs right before and after.
    pub baseline_s: f64,
    /// Their mean CPU time.
    pub baseline_cpu_s: f64,
    pub ready_s: f64,
    pub cpu_ns: u64,
    /// Tasks created on the whole host while `cpu_ns` was measured (the workload's and
    /// everything else running).
    pub host_tasks: u64,
    pub hwm_kb: u64,
    pub rss_kb: u64,
    pub events: u64,
    pub workload_records: u64,
    pub lost: Lost,
    pub problem: Option<String>,
    /// 1-minute load average when it started.
    pub load: f64,
    /// Other processes with BPF programs attached when it started (`comm[pid]`).
    pub other_bpf: Vec<String>,
}

impl TracedRun {
    pub fn slowdown(&self) -> f64 {
        self.run.elapsed_s / self.baseline_s
    }

    /// The workload's CPU time over the untraced runs' (the in-kernel cost of the tracer's
    /// programs, barely moved by other programs competing for the CPUs).
    pub fn cpu_slowdown(&self) -> f64 {
        self.run.cpu_s / self.baseline_cpu_s
    }
}

/// A tracer's fate: ran, or why not.
#[derive(Debug)]
pub struct TracerStatus {
    pub key: &'static str,
    pub label: &'static str,
    pub records: &'static str,
    pub version: String,
    pub error: Option<String>,
}

pub struct Context {
    /// The commit benchmarked, read once at the start.
    commit: String,
    workload_bin: PathBuf,
    exec_target: PathBuf,
    out_dir: PathBuf,
    workers: Option<u64>,
    keep_output: bool,
}

pub fn run(opts: Options) -> Result<()> {
    ensure!(
        cmd::is_root(),
        "the benchmark loads eBPF programs: run `cargo xtask bench` as root"
    );
    ensure!(opts.runs >= 1, "--runs must be at least 1");
    ensure!(opts.scale > 0.0, "--scale must be positive");
    let started = Instant::now();
    let command = command_line();
    ensure_tracefs()?;

    let proctrace = match &opts.proctrace {
        Some(path) => path.clone(),
        None => build::build(true)?,
    };
    let bench_dir = cmd::target_dir().join("bench");
    let out_dir = bench_dir.join("out");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let ctx = Context {
        commit: commit(),
        workload_bin: build_workload()?,
        exec_target: exec_target(&bench_dir)?,
        out_dir,
        workers: opts.workers,
        keep_output: opts.keep_output,
    };
    let script = bench_dir.join("proctrace-equivalent.bt");
    fs::write(&script, tracers::BPFTRACE_SCRIPT)?;

    let mut all = tracers::all(&proctrace, &script);
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
        all.retain(|t| t.key == "proctrace" || opts.tracers.iter().any(|k| k == t.key));
    }
    if !opts.no_install {
        install_missing(&all);
    }
    let machine = procfs::machine();
    let report_path = opts
        .report
        .clone()
        .unwrap_or_else(|| cmd::workspace_root().join("BENCHMARKS.md"));

    if opts.soak {
        let tracer = &all[0];
        let status = probe(tracer, &ctx)?;
        ensure!(
            status.error.is_none(),
            "proctrace does not start: {}",
            status.error.unwrap_or_default()
        );
        let soak = soak(tracer, &ctx, opts.soak_processes)?;
        let elapsed = started.elapsed();
        let meta = report::Meta {
            command,
            machine,
            commit: ctx.commit.clone(),
            date: date(),
            total_s: elapsed.as_secs_f64(),
            runs: 1,
            scale: 1.0,
        };
        return publish(
            &report_path,
            &bench_dir,
            "soak",
            report::soak_json(&meta, &soak).to_string(),
            &report::soak_markdown(&meta, &soak),
            elapsed,
        );
    }

    let workloads: Vec<&Workload> = if opts.workloads.is_empty() {
        WORKLOADS.iter().collect()
    } else {
        opts.workloads
            .iter()
            .map(|key| {
                WORKLOADS
                    .iter()
                    .find(|w| w.key == key)
                    .with_context(|| format!("unknown workload {key:?}"))
            })
            .collect::<Result<_>>()?
    };

    // Start and stop every tracer once: it warms caches up, and peers that cannot run here
    // are reported instead of failing the benchmark.
    let mut statuses = Vec::new();
    let mut usable = Vec::new();
    for tracer in &all {
        let status = probe(tracer, &ctx)?;
        if tracer.key == "proctrace" {
            if let Some(err) = &status.error {
                bail!("proctrace does not start: {err}");
            }
        }
        if status.error.is_none() {
            usable.push(tracer.clone());
        }
        statuses.push(status);
    }

    let mut baselines: Vec<(&'static str, usize, WorkloadRun)> = Vec::new();
    let mut traced: Vec<TracedRun> = Vec::new();
    for workload in &workloads {
        let count = ((workload.count as f64) * opts.scale).round().max(1.0) as u64;
        note(format_args!(
            "bench: {} ({count} per run), {} rounds x ({} tracers + untraced)",
            workload.title,
            opts.runs,
            usable.len()
        ));
        // Warm-up, not recorded.
        run_workload(&ctx, workload, count)?;
        for round in 0..opts.runs {
            let mut before = run_workload(&ctx, workload, count)?;
            baselines.push((workload.key, round, before));
            let n = usable.len();
            for i in 0..n {
                let tracer = &usable[(i + round) % n];
                if statuses
                    .iter()
                    .any(|s| s.key == tracer.key && s.error.is_some())
                {
                    continue;
                }
                let result = traced_run(tracer, &ctx, workload, count, round);
                let after = run_workload(&ctx, workload, count)?;
                baselines.push((workload.key, round, after));
                match result {
                    Ok(mut run) => {
                        run.baseline_s = (before.elapsed_s + after.elapsed_s) / 2.0;
                        run.baseline_cpu_s = (before.cpu_s + after.cpu_s) / 2.0;
                        note(format_args!(
                            "  round {}/{}: {:<26} {:.3} s vs {:.3} s untraced (x{:.3}, \
                             workload CPU x{:.3}), tracer CPU {:.3} s, {} events, lost {:?}",
                            round + 1,
                            opts.runs,
                            tracer.label,
                            run.run.elapsed_s,
                            run.baseline_s,
                            run.slowdown(),
                            run.cpu_slowdown(),
                            run.cpu_ns as f64 / 1e9,
                            run.events,
                            run.lost
                        ));
                        traced.push(run);
                    }
                    Err(err) => {
                        if tracer.key == "proctrace" {
                            return Err(err.context("proctrace failed during the benchmark"));
                        }
                        note(format_args!("  {} failed: {err:#}", tracer.label));
                        if let Some(status) = statuses.iter_mut().find(|s| s.key == tracer.key) {
                            status.error = Some(format!("{err:#}"));
                        }
                    }
                }
                before = after;
            }
        }
    }

    let elapsed = started.elapsed();
    let meta = report::Meta {
        command,
        machine,
        commit: ctx.commit.clone(),
        date: date(),
        total_s: elapsed.as_secs_f64(),
        runs: opts.runs,
        scale: opts.scale,
    };
    let side = report::SideBySide {
        workloads: &workloads,
        statuses: &statuses,
        baselines: &baselines,
        traced: &traced,
        workers: ctx.workers,
    };
    publish(
        &report_path,
        &bench_dir,
        "quick",
        report::side_json(&meta, &side).to_string(),
        &report::side_markdown(&meta, &side),
        elapsed,
    )
}

/// Keeps the raw numbers (`soak.json` for the soak, `raw.json` otherwise) and regenerates
/// the mode's section of BENCHMARKS.md.
fn publish(
    report_path: &Path,
    bench_dir: &Path,
    section: &str,
    json: String,
    markdown: &str,
    elapsed: std::time::Duration,
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

/// `cargo xtask bench ARGS` as typed.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut parts = vec!["cargo".to_owned(), "xtask".to_owned()];
    parts.extend(args);
    parts.join(" ")
}

fn ensure_tracefs() -> Result<()> {
    if procfs::tracefs_mounted() {
        return Ok(());
    }
    // proctrace mounts it itself; the peers (bpftrace, bcc) expect it.
    cmd::run(Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]))
        .context("mounting tracefs for the peer tracers")
}

/// Build the workload generator (release) and return its path.
fn build_workload() -> Result<PathBuf> {
    cmd::run(cmd::cargo().args([
        "build",
        "-p",
        "xtask",
        "--release",
        "--bin",
        "proctrace-workload",
    ]))?;
    let bin = cmd::target_dir().join("release").join("proctrace-workload");
    ensure!(bin.is_file(), "{} was not built", bin.display());
    Ok(bin)
}

/// The program the workloads exec: a copy of /bin/true with a name that marks its records.
fn exec_target(bench_dir: &Path) -> Result<PathBuf> {
    let dir = bench_dir.join("bin");
    fs::create_dir_all(&dir)?;
    let target = dir.join("ptw-exec");
    fs::copy("/bin/true", &target).context("copying /bin/true for the exec workloads")?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
    Ok(target)
}

/// apt-get install the Debian packages of the peers that are missing. Failures are reported
/// (the peer is then listed as not installed), never fatal.
fn install_missing(all: &[Tracer]) {
    let mut packages: Vec<&str> = all
        .iter()
        .filter(|t| tracers::find_program(&t.program).is_none())
        .filter_map(|t| t.package)
        .collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return;
    }
    note(format_args!(
        "installing the missing peer tracers: {}",
        packages.join(" ")
    ));
    let install = |pkgs: &[&str]| {
        cmd::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "--no-install-recommends"])
                .args(pkgs),
        )
    };
    if install(&packages).is_ok() {
        return;
    }
    let _ = cmd::run(Command::new("apt-get").args(["update"]));
    if install(&packages).is_ok() {
        return;
    }
    for package in packages {
        if let Err(err) = install(&[package]) {
            note(format_args!("could not install {package}: {err:#}"));
        }
    }
}

fn version_of(tracer: &Tracer, commit: &str) -> String {
    match tracer.package {
        None => format!("{} ({commit})", env!("CARGO_PKG_VERSION")),
        Some(package) => Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", package])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| format!("{package} {}", String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_else(|| format!("{package} (not installed)")),
    }
}

/// Start and stop `tracer` once.
fn probe(tracer: &Tracer, ctx: &Context) -> Result<TracerStatus> {
    let mut status = TracerStatus {
        key: tracer.key,
        label: tracer.label,
        records: tracer.records,
        version: version_of(tracer, &ctx.commit),
        error: None,
    };
    let Some(program) = tracers::find_program(&tracer.program) else {
        status.error = Some(format!(
            "{} not found (Debian package {})",
            tracer.program.display(),
            tracer.package.unwrap_or("-")
        ));
        return Ok(status);
    };
    note(format_args!("bench: probing {}", tracer.label));
    let out = ctx.out_dir.join(format!("probe-{}.out", tracer.key));
    let err = ctx.out_dir.join(format!("probe-{}.err", tracer.key));
    match tracers::start(tracer, &program, &out, &err, Duration::from_secs(120)) {
        Ok(running) => {
            note(format_args!(
                "  {} ready after {:.2} s",
                tracer.label, running.ready_s
            ));
            running.stop()?;
        }
        Err(e) => {
            note(format_args!("  {} cannot run here: {e:#}", tracer.label));
            status.error = Some(format!("{e:#}"));
        }
    }
    if !ctx.keep_output {
        let _ = fs::remove_file(&out);
        let _ = fs::remove_file(&err);
    }
    Ok(status)
}

fn workload_command(ctx: &Context, workload: &Workload, count: u64) -> Command {
    let mut command = Command::new(&ctx.workload_bin);
    command
        .args(workload.args)
        .arg("--count")
        .arg(count.to_string())
        .arg("--exec")
        .arg(&ctx.exec_target);
    if let Some(workers) = ctx.workers {
        command.arg("--workers").arg(workers.to_string());
    }
    command
}

fn run_workload(ctx: &Context, workload: &Workload, count: u64) -> Result<WorkloadRun> {
    let mut command = workload_command(ctx, workload, count);
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", cmd::display(&command)))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}{}",
            cmd::display(&command),
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    parse_workload_report(&stdout)
}

/// The workload's last stdout line: `{"processes":..,"threads":..,"elapsed_s":..}`.
fn parse_workload_report(stdout: &str) -> Result<WorkloadRun> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("\"elapsed_s\"") && l.contains("\"workload\""))
        .context("the workload printed no report")?;
    let v: serde_json::Value = serde_json::from_str(line).context("workload report")?;
    Ok(WorkloadRun {
        elapsed_s: v["elapsed_s"].as_f64().context("elapsed_s")?,
        cpu_s: v["cpu_s"].as_f64().unwrap_or(f64::NAN),
        processes: v["processes"].as_u64().context("processes")?,
        threads: v["threads"].as_u64().unwrap_or(0),
    })
}

fn traced_run(
    tracer: &Tracer,
    ctx: &Context,
    workload: &Workload,
    count: u64,
    round: usize,
) -> Result<TracedRun> {
    let program = tracers::find_program(&tracer.program)
        .with_context(|| format!("{} disappeared", tracer.program.display()))?;
    let load = procfs::loadavg();
    let other_bpf = procfs::bpf_users(&[]);
    let stem = format!("{}-{}-{round}", workload.key, tracer.key);
    let out = ctx.out_dir.join(format!("{stem}.out"));
    let err = ctx.out_dir.join(format!("{stem}.err"));
    let mut running = tracers::start(tracer, &program, &out, &err, Duration::from_secs(120))?;
    let pid = running.pid;
    let forks_before = procfs::host_forks();
    let cpu_before = procfs::cpu_ns(pid);
    let run = run_workload(ctx, workload, count);
    // Let it work off its backlog: its CPU time counts until it is idle again.
    procfs::quiesce(pid, Duration::from_secs(20));
    let cpu_ns = procfs::cpu_ns(pid).saturating_sub(cpu_before);
    let host_tasks = procfs::host_forks().saturating_sub(forks_before);
    let hwm_kb = procfs::status_kb(pid, "VmHWM").unwrap_or(0);
    let rss_kb = procfs::status_kb(pid, "VmRSS").unwrap_or(0);
    let alive = running.alive();
    let ready_s = running.ready_s;
    let status = running.stop()?;
    let run = run?;
    ensure!(
        alive,
        "{} exited during the workload ({status}); stderr:\n{}",
        tracer.label,
        tracers::tail(&err, 8)
    );
    let parsed = tracers::parse(tracer, &out, &err)?;
    if !ctx.keep_output {
        let _ = fs::remove_file(&out);
        let _ = fs::remove_file(&err);
    }
    Ok(TracedRun {
        workload: workload.key,
        tracer: tracer.key,
        round,
        run,
        baseline_s: f64::NAN,
        baseline_cpu_s: f64::NAN,
        ready_s,
        cpu_ns,
        host_tasks,
        hwm_kb,
        rss_kb,
        events: parsed.events,
        workload_records: parsed.workload_records,
        lost: parsed.lost.unwrap_or(Lost::NotReported),
        problem: parsed.problem,
        load,
        other_bpf,
    })
}

/// One RSS sample of the soak.
#[derive(Clone, Copy, Debug)]
pub struct SoakSample {
    pub t_s: f64,
    pub processes: u64,
    pub rss_kb: u64,
    pub cpu_ns: u64,
}

pub struct Soak {
    pub processes_target: u64,
    pub run: WorkloadRun,
    pub samples: Vec<SoakSample>,
    pub hwm_kb: u64,
    pub cpu_ns: u64,
    /// Tasks created on the host during the soak (workload and everything else).
    pub host_tasks: u64,
    pub events: u64,
    pub workload_records: u64,
    pub lost: Lost,
    pub problem: Option<String>,
    pub output_bytes: u64,
    pub workers: Option<u64>,
    /// 1-minute load average at the start and the end.
    pub load: (f64, f64),
    /// Other processes with BPF programs attached at the start.
    pub other_bpf: Vec<String>,
}

/// Churn `processes` processes (fork + exit, every 10th child execs) under proctrace and
/// sample its RSS every second.
fn soak(tracer: &Tracer, ctx: &Context, processes: u64) -> Result<Soak> {
    let program = tracers::find_program(&tracer.program).context("proctrace binary")?;
    let load_start = procfs::loadavg();
    let other_bpf = procfs::bpf_users(&[]);
    let out = ctx.out_dir.join("soak-proctrace.out");
    let err = ctx.out_dir.join("soak-proctrace.err");
    let running = tracers::start(tracer, &program, &out, &err, Duration::from_secs(120))?;
    let pid = running.pid;
    let forks_before = procfs::host_forks();
    let cpu_before = procfs::cpu_ns(pid);
    let mut command = Command::new(&ctx.workload_bin);
    command.args([
        "mix",
        "--count",
        &processes.to_string(),
        "--exec-every",
        "10",
        "--progress-ms",
        "1000",
        "--exec",
    ]);
    command.arg(&ctx.exec_target);
    if let Some(workers) = ctx.workers {
        command.arg("--workers").arg(workers.to_string());
    }
    cmd::announce(&command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the soak workload")?;
    let stdout = child.stdout.take().context("workload stdout")?;
    let progress = Arc::new(AtomicU64::new(0));
    let reader = {
        let progress = Arc::clone(&progress);
        thread::spawn(move || {
            let mut last = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("{\"progress\":")
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    progress.store(n, Ordering::Relaxed);
                } else {
                    last = line;
                }
            }
            last
        })
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut next_note = Duration::from_secs(30);
    loop {
        let done = child.try_wait()?.is_some();
        samples.push(SoakSample {
            t_s: start.elapsed().as_secs_f64(),
            processes: progress.load(Ordering::Relaxed),
            rss_kb: procfs::status_kb(pid, "VmRSS").unwrap_or(0),
            cpu_ns: procfs::cpu_ns(pid).saturating_sub(cpu_before),
        });
        if done {
            break;
        }
        if start.elapsed() >= next_note {
            let s = samples[samples.len() - 1];
            note(format_args!(
                "  soak: {:.0} s, {} processes, proctrace RSS {:.1} MiB",
                s.t_s,
                s.processes,
                s.rss_kb as f64 / 1024.0
            ));
            next_note += Duration::from_secs(30);
        }
        thread::sleep(Duration::from_secs(1));
    }
    let status = child.wait()?;
    let last = reader.join().unwrap_or_default();
    ensure!(
        status.success(),
        "the soak workload failed ({status}): {last}"
    );
    let run = parse_workload_report(&last)?;
    procfs::quiesce(pid, Duration::from_secs(60));
    let cpu_ns = procfs::cpu_ns(pid).saturating_sub(cpu_before);
    let host_tasks = procfs::host_forks().saturating_sub(forks_before);
    samples.push(SoakSample {
        t_s: start.elapsed().as_secs_f64(),
        processes: run.processes,
        rss_kb: procfs::status_kb(pid, "VmRSS").unwrap_or(0),
        cpu_ns,
    });
    let hwm_kb = procfs::status_kb(pid, "VmHWM").unwrap_or(0);
    running.stop()?;
    let output_bytes = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    note("  soak: counting the records");
    let parsed = tracers::parse(tracer, &out, &err)?;
    if !ctx.keep_output {
        let _ = fs::remove_file(&out);
        let _ = fs::remove_file(&err);
    }
    Ok(Soak {
        processes_target: processes,
        run,
        samples,
        hwm_kb,
        cpu_ns,
        host_tasks,
        events: parsed.events,
        workload_records: parsed.workload_records,
        lost: parsed.lost.unwrap_or(Lost::NotReported),
        problem: parsed.problem,
        output_bytes,
        workers: ctx.workers,
        load: (load_start, procfs::loadavg()),
        other_bpf,
    })
}

/// The commit benchmarked (`+dirty` with uncommitted changes).
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(cmd::workspace_root())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown commit".into();
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_report() {
        let run = parse_workload_report(
            "{\"progress\":5,\"elapsed_s\":0.1}\n{\"workload\":\"fork\",\"processes\":12,\
             \"threads\":0,\"workers\":4,\"failures\":0,\"elapsed_s\":0.5,\"cpu_s\":0.25}\n",
        )
        .unwrap();
        assert_eq!((run.processes, run.tasks()), (12, 12));
        assert!((run.elapsed_s - 0.5).abs() < 1e-9);
        assert!(parse_workload_report("").is_err());
    }
}
