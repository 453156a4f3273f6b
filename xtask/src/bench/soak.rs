//! The soak (`--soak`): processes churned under proctrace, its RSS sampled every second.

use std::{
    fs,
    io::{BufRead as _, BufReader},
    process::{Child, ChildStdout, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _, Result};

use super::{
    procfs,
    tracers::{self, Lost, Tracer},
    workload::{self, WorkloadRun},
    Context,
};
use crate::cmd::{self, note};

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
pub fn soak(tracer: &Tracer, ctx: &Context, processes: u64) -> Result<Soak> {
    let program = tracers::find_program(&tracer.program).context("proctrace binary")?;
    let load_start = procfs::loadavg();
    let other_bpf = procfs::bpf_users(&[]);
    let out = ctx.out_dir.join("soak-proctrace.out");
    let err = ctx.out_dir.join("soak-proctrace.err");
    let running = tracers::start(tracer, &program, &out, &err, Duration::from_secs(120))?;
    let pid = running.pid;
    let forks_before = procfs::host_forks();
    let cpu_before = procfs::cpu_ns(pid);
    let mut child = mix_command(ctx, processes)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the soak workload")?;
    let stdout = child.stdout.take().context("workload stdout")?;
    let progress = Arc::new(AtomicU64::new(0));
    let reader = read_progress(stdout, Arc::clone(&progress));
    let start = Instant::now();
    let mut samples = sample_until_exit(&mut child, pid, cpu_before, &progress, start)?;
    let status = child.wait()?;
    let last = reader.join().unwrap_or_default();
    ensure!(
        status.success(),
        "the soak workload failed ({status}): {last}"
    );
    let run = workload::parse_report(&last)?;
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

/// `proctrace-workload mix`, printing its progress every second (announced).
fn mix_command(ctx: &Context, processes: u64) -> Command {
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
    command
}

/// Reads the workload's stdout: `{"progress":N,...}` lines into `progress`; the thread
/// returns the last other line (the workload's report).
fn read_progress(stdout: ChildStdout, progress: Arc<AtomicU64>) -> JoinHandle<String> {
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
}

/// One sample of proctrace (`pid`) a second until the workload exits, the last one taken
/// after it did; a progress note every 30 s.
fn sample_until_exit(
    child: &mut Child,
    pid: u32,
    cpu_before: u64,
    progress: &AtomicU64,
    start: Instant,
) -> Result<Vec<SoakSample>> {
    let mut samples = Vec::new();
    let mut next_note = Duration::from_secs(30);
    loop {
        let done = child.try_wait()?.is_some();
        let sample = SoakSample {
            t_s: start.elapsed().as_secs_f64(),
            processes: progress.load(Ordering::Relaxed),
            rss_kb: procfs::status_kb(pid, "VmRSS").unwrap_or(0),
            cpu_ns: procfs::cpu_ns(pid).saturating_sub(cpu_before),
        };
        samples.push(sample);
        if done {
            return Ok(samples);
        }
        if start.elapsed() >= next_note {
            note(format_args!(
                "  soak: {:.0} s, {} processes, proctrace RSS {:.1} MiB",
                sample.t_s,
                sample.processes,
                sample.rss_kb as f64 / 1024.0
            ));
            next_note += Duration::from_secs(30);
        }
        thread::sleep(Duration::from_secs(1));
    }
}
