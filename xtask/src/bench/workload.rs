//! The workload generator (`proctrace-workload`, built from
//! proctrace-tests/src/bin/proctrace-workload.rs): the workloads of the side-by-side run,
//! how to build and run it, and what it reports.

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, ensure, Context as _, Result};

use super::Context;
use crate::cmd;

/// A workload of the side-by-side run.
pub struct Workload {
    pub key: &'static str,
    pub title: &'static str,
    /// `proctrace-workload` arguments, without `--count`.
    pub args: &'static [&'static str],
    /// `--count` at scale 1 (about one second untraced on 2 CPUs).
    pub count: u64,
    /// What `--count` counts.
    pub counts: Counts,
    pub what: &'static str,
}

/// What a workload's `--count` counts: its rates are given in these, and it decides what a
/// tracer's own CPU time is divided by ([`Counts::per_tasks`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Counts {
    Processes,
    Threads,
    /// Syscalls, with no task created but the workers.
    Syscalls,
}

impl Counts {
    /// The unit of the rates, plural: "processes/s".
    pub fn plural(self) -> &'static str {
        match self {
            Counts::Processes => "processes",
            Counts::Threads => "threads",
            Counts::Syscalls => "syscalls",
        }
    }

    /// The task a workload's records are counted per (a syscall workload's records are
    /// its workers').
    pub fn task(self) -> &'static str {
        match self {
            Counts::Threads => "thread",
            Counts::Processes | Counts::Syscalls => "process",
        }
    }

    /// Whether a tracer's CPU time is given per 1,000 tasks created. A tracer's work
    /// follows the tasks created and ended, so that is the fair measure of the churn
    /// workloads; a workload that creates only its few workers would divide by a handful of
    /// tasks (and mostly by other programs' tasks on the host), a ratio that means nothing.
    /// Its tracer CPU is given per second of workload instead: what the tracer costs while
    /// the host does no churn.
    pub fn per_tasks(self) -> bool {
        self != Counts::Syscalls
    }
}

pub const WORKLOADS: [Workload; 5] = [
    Workload {
        key: "exec",
        title: "exec storm",
        args: &["exec"],
        count: 3_000,
        counts: Counts::Processes,
        what: "fork + execve of a tiny program (a copy of /bin/true) + waitpid",
    },
    Workload {
        key: "fork",
        title: "fork storm",
        args: &["fork"],
        count: 12_000,
        counts: Counts::Processes,
        what: "fork + _exit(0) + waitpid",
    },
    Workload {
        key: "thread",
        title: "thread storm",
        args: &["thread", "--batch", "8"],
        count: 40_000,
        counts: Counts::Threads,
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
        counts: Counts::Processes,
        what: "batches of 32 children (half exec, half exit) left unreaped 20 ms, then \
               reaped; 4 per worker left as zombies for 1.2 s",
    },
    Workload {
        key: "syscall",
        title: "syscall tax",
        args: &["syscall"],
        // About 1.3 s untraced on the 2-CPU development machine (0.5 µs per call).
        count: 5_000_000,
        counts: Counts::Syscalls,
        what: "getppid() through syscall(2) in a tight loop, no process created but the \
               workers: what a tracer's hooks add to every syscall of every program",
    },
];

/// The workloads named by `--workloads` (all of them when none is).
pub fn select(keys: &[String]) -> Result<Vec<&'static Workload>> {
    if keys.is_empty() {
        return Ok(WORKLOADS.iter().collect());
    }
    keys.iter()
        .map(|key| {
            WORKLOADS
                .iter()
                .find(|w| w.key == key)
                .with_context(|| format!("unknown workload {key:?}"))
        })
        .collect()
}

impl Workload {
    /// `--count` at `scale`: at least 1.
    pub fn count_at(&self, scale: f64) -> u64 {
        ((self.count as f64) * scale).round().max(1.0) as u64
    }
}

/// What one workload run reported.
#[derive(Clone, Copy, Debug)]
pub struct WorkloadRun {
    pub elapsed_s: f64,
    /// CPU time of the workload's whole process tree (user + system).
    pub cpu_s: f64,
    pub processes: u64,
    pub threads: u64,
    /// Syscalls made by the `syscall` workload (0 for the others).
    pub syscalls: u64,
}

impl WorkloadRun {
    /// Processes + threads created.
    pub fn tasks(&self) -> u64 {
        self.processes + self.threads
    }

    /// What `--count` counted, per second: the workload's rate in [`Counts::plural`].
    pub fn rate(&self, counts: Counts) -> f64 {
        let n = match counts {
            Counts::Processes | Counts::Threads => self.tasks(),
            Counts::Syscalls => self.syscalls,
        };
        n as f64 / self.elapsed_s
    }
}

/// Build the workload generator (release) and return its path.
pub fn build() -> Result<PathBuf> {
    cmd::run(cmd::cargo().args([
        "build",
        "-p",
        "proctrace-tests",
        "--release",
        "--bin",
        "proctrace-workload",
    ]))?;
    let bin = cmd::target_dir().join("release").join("proctrace-workload");
    ensure!(bin.is_file(), "{} was not built", bin.display());
    Ok(bin)
}

/// The program the workloads exec: a copy of /bin/true with a name that marks its records.
pub fn exec_target(bench_dir: &Path) -> Result<PathBuf> {
    let dir = bench_dir.join("bin");
    fs::create_dir_all(&dir)?;
    let target = dir.join("ptw-exec");
    fs::copy("/bin/true", &target).context("copying /bin/true for the exec workloads")?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
    Ok(target)
}

fn command(ctx: &Context, workload: &Workload, count: u64) -> Command {
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

/// Run `workload` `count` times to its end, untraced or under whatever tracer is running.
pub fn run(ctx: &Context, workload: &Workload, count: u64) -> Result<WorkloadRun> {
    let mut command = command(ctx, workload, count);
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
    parse_report(&stdout)
}

/// The workload's last stdout line: `{"processes":..,"threads":..,"syscalls":..,
/// "elapsed_s":..}`.
pub fn parse_report(stdout: &str) -> Result<WorkloadRun> {
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
        syscalls: v["syscalls"].as_u64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_report() {
        let run = parse_report(
            "{\"progress\":5,\"elapsed_s\":0.1}\n{\"workload\":\"fork\",\"processes\":12,\
             \"threads\":0,\"workers\":4,\"failures\":0,\"elapsed_s\":0.5,\"cpu_s\":0.25}\n",
        )
        .unwrap();
        assert_eq!((run.processes, run.tasks()), (12, 12));
        assert!((run.elapsed_s - 0.5).abs() < 1e-9);
        assert!(parse_report("").is_err());
        let run = parse_report(
            "{\"workload\":\"syscall\",\"processes\":4,\"threads\":0,\"syscalls\":1000,\
             \"workers\":4,\"failures\":0,\"elapsed_s\":0.5,\"cpu_s\":1.0}",
        )
        .unwrap();
        assert_eq!((run.tasks(), run.syscalls), (4, 1000));
        assert!((run.rate(Counts::Syscalls) - 2000.0).abs() < 1e-9);
        assert!((run.rate(Counts::Processes) - 8.0).abs() < 1e-9);
    }

    #[test]
    fn selects_workloads_by_key() {
        assert_eq!(select(&[]).unwrap().len(), WORKLOADS.len());
        let picked = select(&["fork".into(), "exec".into()]).unwrap();
        let keys: Vec<&str> = picked.iter().map(|w| w.key).collect();
        assert_eq!(keys, ["fork", "exec"]);
        assert!(select(&["nope".into()]).is_err());
        assert_eq!(WORKLOADS[0].count_at(1e-9), 1);
        assert_eq!(WORKLOADS[0].count_at(0.5), 1_500);
    }
}
