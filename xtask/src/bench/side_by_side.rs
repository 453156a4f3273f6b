//! The side-by-side measurement: every tracer started once, then per workload and round
//! the untraced and traced runs interleaved `B T1 B T2 … B`, each traced run compared with
//! the untraced runs right before and after it.

use std::{
    fs,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, ensure, Context as _, Result};

use super::{
    procfs,
    tracers::{self, Lost, Tracer},
    workload::{self, Workload, WorkloadRun},
    Context,
};
use crate::cmd::note;

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

/// An untraced run: workload key, round, what it reported.
pub type Baseline = (&'static str, usize, WorkloadRun);

/// Everything the side-by-side run measured.
#[derive(Default)]
pub struct Measured {
    /// Untraced runs, in order.
    pub baselines: Vec<Baseline>,
    pub traced: Vec<TracedRun>,
}

/// How many rounds, at which workload scale.
#[derive(Clone, Copy)]
pub struct Rounds {
    pub runs: usize,
    pub scale: f64,
}

/// Start and stop every tracer once: it warms caches up, and peers that cannot run here
/// are reported instead of failing the benchmark. Returns every tracer's status and the
/// tracers that started.
pub fn probe_all(all: &[Tracer], ctx: &Context) -> Result<(Vec<TracerStatus>, Vec<Tracer>)> {
    let mut statuses = Vec::new();
    let mut usable = Vec::new();
    for tracer in all {
        let status = probe(tracer, ctx)?;
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
    Ok((statuses, usable))
}

/// Start and stop `tracer` once.
pub fn probe(tracer: &Tracer, ctx: &Context) -> Result<TracerStatus> {
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

/// Every workload, `rounds.runs` rounds each, with the `usable` tracers. A peer that fails
/// is marked in `statuses` and left out from then on; proctrace failing ends the benchmark.
pub fn measure(
    ctx: &Context,
    workloads: &[&Workload],
    usable: &[Tracer],
    statuses: &mut [TracerStatus],
    rounds: Rounds,
) -> Result<Measured> {
    let mut measured = Measured::default();
    for workload in workloads {
        let count = workload.count_at(rounds.scale);
        note(format_args!(
            "bench: {} ({count} per run), {} rounds x ({} tracers + untraced)",
            workload.title,
            rounds.runs,
            usable.len()
        ));
        // Warm-up, not recorded.
        workload::run(ctx, workload, count)?;
        for round in 0..rounds.runs {
            let job = Round {
                ctx,
                workload,
                count,
                round,
                rounds: rounds.runs,
            };
            job.run(usable, statuses, &mut measured)?;
        }
    }
    Ok(measured)
}

/// One round of one workload: `B T1 B T2 … B`, the tracer order rotated by `round`.
struct Round<'a> {
    ctx: &'a Context,
    workload: &'a Workload,
    count: u64,
    round: usize,
    /// Rounds in all, for the progress notes.
    rounds: usize,
}

impl Round<'_> {
    fn run(
        &self,
        usable: &[Tracer],
        statuses: &mut [TracerStatus],
        measured: &mut Measured,
    ) -> Result<()> {
        let mut before = workload::run(self.ctx, self.workload, self.count)?;
        measured
            .baselines
            .push((self.workload.key, self.round, before));
        let n = usable.len();
        for i in 0..n {
            let tracer = &usable[(i + self.round) % n];
            if statuses
                .iter()
                .any(|s| s.key == tracer.key && s.error.is_some())
            {
                continue;
            }
            let result = traced_run(tracer, self.ctx, self.workload, self.count, self.round);
            let after = workload::run(self.ctx, self.workload, self.count)?;
            measured
                .baselines
                .push((self.workload.key, self.round, after));
            match result {
                Ok(mut run) => {
                    run.baseline_s = (before.elapsed_s + after.elapsed_s) / 2.0;
                    run.baseline_cpu_s = (before.cpu_s + after.cpu_s) / 2.0;
                    self.note_traced(tracer, &run);
                    measured.traced.push(run);
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
        Ok(())
    }

    fn note_traced(&self, tracer: &Tracer, run: &TracedRun) {
        note(format_args!(
            "  round {}/{}: {:<26} {:.3} s vs {:.3} s untraced (x{:.3}, \
             workload CPU x{:.3}), tracer CPU {:.3} s, {} events, lost {:?}",
            self.round + 1,
            self.rounds,
            tracer.label,
            run.run.elapsed_s,
            run.baseline_s,
            run.slowdown(),
            run.cpu_slowdown(),
            run.cpu_ns as f64 / 1e9,
            run.events,
            run.lost
        ));
    }
}

/// The workload under `tracer`; `baseline_s` and `baseline_cpu_s` are left for the caller.
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
    let run = workload::run(ctx, workload, count);
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
