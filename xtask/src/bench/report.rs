//! Turning the measurements into BENCHMARKS.md sections and raw JSON.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use super::{tracers::Lost, Soak, TracedRun, TracerStatus, Workload, WorkloadRun};

/// Slowdown targets of issue #5, per workload.
const EXEC_SLOWDOWN_TARGET: f64 = 1.03;
const FORK_SLOWDOWN_TARGET: f64 = 1.05;
/// proctrace's CPU per process, as a fraction of bpftrace's.
const CPU_VS_BPFTRACE_TARGET: f64 = 1.0 / 3.0;
/// RSS after the soak, MiB.
const SOAK_RSS_TARGET_MIB: f64 = 32.0;
/// A slowdown verdict is flagged as noisy when single runs spread wider than this.
const NOISY_SPREAD: f64 = 0.10;
/// "Flat": second-half growth at most this, or 1 % of the RSS, whichever is larger.
const FLAT_SLACK_KB: u64 = 256;

pub struct Meta {
    pub command: String,
    pub machine: String,
    pub commit: String,
    pub date: String,
    pub total_s: f64,
    pub runs: usize,
    pub scale: f64,
}

impl Meta {
    fn json(&self) -> Value {
        json!({
            "command": self.command,
            "machine": self.machine,
            "commit": self.commit,
            "date": self.date,
            "total_s": self.total_s,
            "runs": self.runs,
            "scale": self.scale,
        })
    }

    fn header(&self, out: &mut String) {
        let _ = writeln!(out, "- Command: `{}`", self.command);
        let _ = writeln!(
            out,
            "- Date: {}; proctrace commit {}; took {:.1} min",
            self.date,
            self.commit,
            self.total_s / 60.0
        );
        let _ = writeln!(out, "- Machine: {}", self.machine);
    }
}

pub struct SideBySide<'a> {
    pub workloads: &'a [&'a Workload],
    pub statuses: &'a [TracerStatus],
    pub baselines: &'a [(&'static str, usize, WorkloadRun)],
    pub traced: &'a [TracedRun],
    pub workers: Option<u64>,
}

/// One tracer on one workload, over all rounds.
#[derive(Debug, Clone)]
pub struct Row {
    pub tracer: &'static str,
    pub slowdown: f64,
    pub slowdown_min: f64,
    pub slowdown_max: f64,
    /// Median of the workload's CPU time ratios.
    pub cpu_slowdown: f64,
    /// Tracer CPU seconds per 1,000 tasks created on the host while it was measured.
    pub cpu_per_1k: f64,
    /// The same per 1,000 of the workload's own tasks.
    pub cpu_per_1k_workload: f64,
    /// Tasks created by other programs during a run (median).
    pub background_tasks: f64,
    pub hwm_mib: f64,
    pub events_per_s: f64,
    pub lost: Lost,
    pub records_per_task: f64,
    pub ready_s: f64,
    pub runs: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn sum_lost(runs: &[&TracedRun]) -> Lost {
    let mut count = None;
    let mut overflows = 0;
    for run in runs {
        match run.lost {
            Lost::Count(n) => *count.get_or_insert(0) += n,
            Lost::Overflows(n) => overflows += n,
            Lost::NotReported => {}
        }
    }
    match (count, overflows) {
        (_, n) if n > 0 => Lost::Overflows(n),
        (Some(n), _) => Lost::Count(n),
        (None, _) => Lost::NotReported,
    }
}

fn lost_text(lost: Lost) -> String {
    match lost {
        Lost::Count(n) => n.to_string(),
        Lost::Overflows(n) => format!("{n} overflow notices"),
        Lost::NotReported => "not reported".into(),
    }
}

impl SideBySide<'_> {
    fn runs_of(&self, workload: &str, tracer: &str) -> Vec<&TracedRun> {
        self.traced
            .iter()
            .filter(|r| r.workload == workload && r.tracer == tracer)
            .collect()
    }

    fn row(&self, workload: &str, tracer: &'static str) -> Option<Row> {
        let runs = self.runs_of(workload, tracer);
        if runs.is_empty() {
            return None;
        }
        let slowdowns: Vec<f64> = runs.iter().map(|r| r.slowdown()).collect();
        Some(Row {
            tracer,
            slowdown: median(slowdowns.clone()),
            slowdown_min: slowdowns.iter().copied().fold(f64::INFINITY, f64::min),
            slowdown_max: slowdowns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            cpu_slowdown: median(runs.iter().map(|r| r.cpu_slowdown()).collect()),
            cpu_per_1k: median(
                runs.iter()
                    .map(|r| r.cpu_ns as f64 / 1e9 / (r.host_tasks.max(1) as f64 / 1000.0))
                    .collect(),
            ),
            cpu_per_1k_workload: median(
                runs.iter()
                    .map(|r| r.cpu_ns as f64 / 1e9 / (r.run.tasks() as f64 / 1000.0))
                    .collect(),
            ),
            background_tasks: median(
                runs.iter()
                    .map(|r| r.host_tasks.saturating_sub(r.run.tasks()) as f64)
                    .collect(),
            ),
            hwm_mib: runs.iter().map(|r| r.hwm_kb).max().unwrap_or(0) as f64 / 1024.0,
            events_per_s: median(
                runs.iter()
                    .map(|r| r.events as f64 / r.run.elapsed_s)
                    .collect(),
            ),
            lost: sum_lost(&runs),
            records_per_task: median(
                runs.iter()
                    .map(|r| r.workload_records as f64 / r.run.tasks() as f64)
                    .collect(),
            ),
            ready_s: median(runs.iter().map(|r| r.ready_s).collect()),
            runs: runs.len(),
        })
    }

    fn rows(&self, workload: &str) -> Vec<Row> {
        self.statuses
            .iter()
            .filter_map(|s| self.row(workload, s.key))
            .collect()
    }

    fn baseline(&self, workload: &str) -> (f64, f64) {
        let runs: Vec<&WorkloadRun> = self
            .baselines
            .iter()
            .filter(|(w, _, _)| *w == workload)
            .map(|(_, _, run)| run)
            .collect();
        let elapsed = median(runs.iter().map(|r| r.elapsed_s).collect());
        let rate = median(
            runs.iter()
                .map(|r| r.tasks() as f64 / r.elapsed_s)
                .collect(),
        );
        (elapsed, rate)
    }

    fn label(&self, key: &str) -> &'static str {
        self.statuses
            .iter()
            .find(|s| s.key == key)
            .map_or("?", |s| s.label)
    }
}

/// The slowdown target on one workload: proctrace at most `limit` and below every peer.
fn slowdown_target(side: &SideBySide, workload: &str, limit: f64) -> Option<(String, String)> {
    let rows = side.rows(workload);
    let ours = rows.iter().find(|r| r.tracer == "proctrace")?;
    let peers: Vec<&Row> = rows.iter().filter(|r| r.tracer != "proctrace").collect();
    let mut measured = format!(
        "proctrace {:.3}× (workload CPU {:.3}×)",
        ours.slowdown, ours.cpu_slowdown
    );
    for peer in &peers {
        let _ = write!(
            measured,
            "; {} {:.3}× ({:.3}×)",
            side.label(peer.tracer),
            peer.slowdown,
            peer.cpu_slowdown
        );
    }
    let beaten: Vec<&str> = peers
        .iter()
        .filter(|p| p.slowdown <= ours.slowdown)
        .map(|p| side.label(p.tracer))
        .collect();
    let verdict = match (ours.slowdown <= limit, beaten.is_empty()) {
        (true, true) => "**met**".to_owned(),
        (within, _) => {
            let mut why = Vec::new();
            if !within {
                why.push(format!(
                    "{:.3}× is {:.3} above {limit:.2}×",
                    ours.slowdown,
                    ours.slowdown - limit
                ));
            }
            if !beaten.is_empty() {
                why.push(format!("not cheaper than {}", beaten.join(", ")));
            }
            format!("**NOT met**: {}", why.join("; "))
        }
    };
    // On a busy machine single runs scatter widely: say so next to the verdict.
    let verdict = if ours.slowdown_max - ours.slowdown_min > NOISY_SPREAD {
        format!(
            "{verdict} (noisy: proctrace's single runs ranged {:.3}–{:.3}×)",
            ours.slowdown_min, ours.slowdown_max
        )
    } else {
        verdict
    };
    Some((measured, verdict))
}

pub fn side_markdown(meta: &Meta, side: &SideBySide) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Side by side\n");
    meta.header(&mut out);
    let _ = writeln!(
        out,
        "- Method: every workload runs untraced and traced, interleaved `B T1 B T2 … B` in \
         each of {} rounds (the tracer order rotates between rounds); a traced run's \
         slowdown is its time over the mean of the untraced runs right before and after it, \
         and the table shows the median (min–max) over the rounds. \"Workload CPU ×\" is the \
         same ratio for the CPU time of the workload's process tree (getrusage): it holds the \
         in-kernel cost of the tracer's programs and moves much less than wall time when \
         other programs compete for the CPUs. Each tracer is started, \
         the workload starts once it is attached, and it is stopped with SIGINT once its CPU \
         time stops growing. Tracer CPU is its user + system time (scheduler run time of all \
         its threads) from the workload's start until then, per 1,000 tasks (processes and \
         threads: `processes` in /proc/stat) created on the host over the same window, so \
         that other programs running meanwhile count on both sides; the BPF programs \
         themselves run in the workload's context and show up in the slowdown. Peak RSS is \
         VmHWM (it includes start-up). Events/s: \
         records written per second of workload (every process on the host counts). Records \
         per process: records naming the workload's processes, per process (or thread) \
         created. Every tracer writes to a file. Workload sizes x{}.",
        meta.runs, meta.scale
    );
    let loads: Vec<f64> = side.traced.iter().map(|r| r.load).collect();
    let max_load = loads.iter().copied().fold(f64::NAN, f64::max);
    let disturbed: Vec<&TracedRun> = side
        .traced
        .iter()
        .filter(|r| !r.other_bpf.is_empty())
        .collect();
    let mut others: Vec<String> = disturbed
        .iter()
        .flat_map(|r| r.other_bpf.iter())
        .map(|user| user.split('[').next().unwrap_or(user).to_owned())
        .collect();
    others.sort();
    others.dedup();
    let _ = writeln!(
        out,
        "- Other load: 1-minute load average {:.2} median, {max_load:.2} max when traced runs \
         started; other processes with BPF programs attached were running at the start of \
         {} of {} traced runs{}.",
        median(loads),
        disturbed.len(),
        side.traced.len(),
        if others.is_empty() {
            String::new()
        } else {
            format!(
                " ({}: their programs slow the untraced runs too)",
                others.join(", ")
            )
        }
    );
    let _ = writeln!(
        out,
        "- Raw numbers: the table at the end of this section, and `target/bench/raw.json`."
    );

    // Targets.
    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "| --- | --- | --- |");
    for (workload, limit, text) in [
        ("exec", EXEC_SLOWDOWN_TARGET, "exec storm slowdown"),
        ("fork", FORK_SLOWDOWN_TARGET, "fork storm slowdown"),
    ] {
        if let Some((measured, verdict)) = slowdown_target(side, workload, limit) {
            let _ = writeln!(
                out,
                "| {text} (wall time) ≤ {limit:.2}×, below every peer | {measured} | {verdict} |"
            );
        }
    }
    let ours: Vec<&TracedRun> = side
        .traced
        .iter()
        .filter(|r| r.tracer == "proctrace")
        .collect();
    if !ours.is_empty() {
        let lost = sum_lost(&ours);
        let busiest = side
            .workloads
            .iter()
            .map(|w| (w, side.baseline(w.key).1))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let busiest = busiest.map_or(String::new(), |(w, rate)| {
            format!(
                "; highest churn: {} at {:.0} tasks/s untraced",
                w.title, rate
            )
        });
        let verdict = if lost == Lost::Count(0) {
            "**met**".to_owned()
        } else {
            format!("**NOT met**: {} lost", lost_text(lost))
        };
        let _ = writeln!(
            out,
            "| 0 lost events at the highest churn, default ring buffer (4 MiB) | {} lost over all {} proctrace runs{busiest} | {verdict} |",
            lost_text(lost),
            ours.len()
        );
    }
    let mut ratios = Vec::new();
    for w in side.workloads {
        if let (Some(p), Some(b)) = (side.row(w.key, "proctrace"), side.row(w.key, "bpftrace")) {
            ratios.push((w.title, p.cpu_per_1k / b.cpu_per_1k));
        }
    }
    if !ratios.is_empty() {
        let measured: Vec<String> = ratios
            .iter()
            .map(|(title, r)| format!("{title}: {r:.2} of bpftrace's"))
            .collect();
        let over: Vec<String> = ratios
            .iter()
            .filter(|(_, r)| *r > CPU_VS_BPFTRACE_TARGET || !r.is_finite())
            .map(|(title, r)| format!("{title} {r:.2} (> 0.33)"))
            .collect();
        let verdict = if over.is_empty() {
            "**met**".to_owned()
        } else {
            format!("**NOT met**: {}", over.join(", "))
        };
        let _ = writeln!(
            out,
            "| tracer CPU per process ≤ ⅓ of bpftrace's | {} | {verdict} |",
            measured.join("; ")
        );
    }
    let _ = writeln!(
        out,
        "| RSS ≤ 32 MiB after 1,000,000 processes, flat in the second half | see [Soak](#soak) | |"
    );

    // Per workload.
    for w in side.workloads {
        let (elapsed, rate) = side.baseline(w.key);
        let _ = writeln!(out, "\n### {}\n", w.title);
        let count = ((w.count as f64) * meta.scale).round();
        let workers = side
            .workers
            .map_or_else(|| "2 per CPU".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{}: {count:.0} per run, {workers} workers. Untraced: median {elapsed:.3} s, \
             {rate:.0} {}/s.\n",
            w.what,
            if w.key == "thread" {
                "threads"
            } else {
                "processes"
            }
        );
        let rows = side.rows(w.key);
        let background = median(rows.iter().map(|r| r.background_tasks).collect());
        let _ = writeln!(
            out,
            "Other programs created a median {background:.0} tasks during each traced run.\n"
        );
        let unit = if w.key == "thread" {
            "thread"
        } else {
            "process"
        };
        let _ = writeln!(
            out,
            "| tracer | records | slowdown (min–max) | workload CPU × | tracer CPU s / 1,000 tasks | peak RSS MiB | events/s | lost | records per workload {unit} | ready after s |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for row in rows {
            let status = side.statuses.iter().find(|s| s.key == row.tracer);
            let _ = writeln!(
                out,
                "| {} | {} | {:.3}× ({:.3}–{:.3}) | {:.3}× | {:.4} | {:.1} | {:.0} | {} | {:.2} | {:.2} |",
                side.label(row.tracer),
                status.map_or("", |s| s.records),
                row.slowdown,
                row.slowdown_min,
                row.slowdown_max,
                row.cpu_slowdown,
                row.cpu_per_1k,
                row.hwm_mib,
                row.events_per_s,
                lost_text(row.lost),
                row.records_per_task,
                row.ready_s
            );
        }
    }

    let _ = writeln!(out, "\n### Tracers\n");
    let _ = writeln!(out, "| tracer | version | records | status |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for s in side.statuses {
        let status = match &s.error {
            None => "ran".to_owned(),
            Some(err) => {
                // The first line says what happened, the last ones why.
                let lines: Vec<String> = err
                    .lines()
                    .map(|l| l.trim().replace('|', "\\|").replace('`', "'"))
                    .filter(|l| !l.is_empty())
                    .collect();
                let first = lines.first().cloned().unwrap_or_default();
                let why = &lines[lines.len().saturating_sub(3).max(1).min(lines.len())..];
                if why.is_empty() {
                    format!("**did not run**: {first}")
                } else {
                    format!("**did not run**: {first} … {}", why.join(" / "))
                }
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {status} |",
            s.label, s.version, s.records
        );
    }
    let _ = writeln!(
        out,
        "\nThe bpftrace script (`target/bench/proctrace-equivalent.bt`, from \
         `xtask/src/bench/tracers.rs`) prints fork, exec (argv from `sys_enter_execve`) and \
         exit (once per process) as JSON with `bpftrace -f json`. execsnoop and exitsnoop are \
         the libbpf-tools (CO-RE) builds and their bcc (Python + clang at run time) builds; \
         each does one job. forkstat reads the proc connector (netlink), not BPF."
    );

    // Raw.
    let _ = writeln!(
        out,
        "\n<details><summary>Raw numbers (every traced run)</summary>\n"
    );
    let _ = writeln!(
        out,
        "| workload | round | tracer | traced s | untraced s (mean of neighbours) | slowdown | workload CPU s | untraced CPU s | tracer CPU ms | VmHWM KiB | VmRSS KiB | events | workload records | workload tasks | host tasks | lost |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in side.traced {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.3} | {:.3} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.round + 1,
            r.tracer,
            r.run.elapsed_s,
            r.baseline_s,
            r.slowdown(),
            r.run.cpu_s,
            r.baseline_cpu_s,
            r.cpu_ns as f64 / 1e6,
            r.hwm_kb,
            r.rss_kb,
            r.events,
            r.workload_records,
            r.run.tasks(),
            r.host_tasks,
            lost_text(r.lost)
        );
    }
    let _ = writeln!(
        out,
        "\nUntraced runs, in order (wall s / workload CPU s):\n"
    );
    for w in side.workloads {
        let times: Vec<String> = side
            .baselines
            .iter()
            .filter(|(k, _, _)| *k == w.key)
            .map(|(_, _, r)| format!("{:.4}/{:.3}", r.elapsed_s, r.cpu_s))
            .collect();
        let _ = writeln!(out, "- {}: {}", w.key, times.join(", "));
    }
    let problems: Vec<String> = side
        .traced
        .iter()
        .filter_map(|r| {
            r.problem
                .as_ref()
                .map(|p| format!("- {} {} round {}: {p}", r.workload, r.tracer, r.round + 1))
        })
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\nProblems:\n\n{}", problems.join("\n"));
    }
    let _ = writeln!(out, "\n</details>");
    out
}

fn lost_json(lost: Lost) -> Value {
    match lost {
        Lost::Count(n) => json!(n),
        Lost::Overflows(n) => json!({ "overflow_notices": n }),
        Lost::NotReported => Value::Null,
    }
}

pub fn side_json(meta: &Meta, side: &SideBySide) -> Value {
    let workloads: Vec<Value> = side
        .workloads
        .iter()
        .map(|w| {
            let rows: Vec<Value> = side
                .rows(w.key)
                .iter()
                .map(|r| {
                    json!({
                        "tracer": r.tracer,
                        "slowdown_median": r.slowdown,
                        "slowdown_min": r.slowdown_min,
                        "slowdown_max": r.slowdown_max,
                        "workload_cpu_ratio_median": r.cpu_slowdown,
                        "cpu_s_per_1000_host_tasks": r.cpu_per_1k,
                        "cpu_s_per_1000_workload_tasks": r.cpu_per_1k_workload,
                        "background_tasks": r.background_tasks,
                        "peak_rss_mib": r.hwm_mib,
                        "events_per_s": r.events_per_s,
                        "lost": lost_json(r.lost),
                        "records_per_task": r.records_per_task,
                        "ready_s": r.ready_s,
                        "runs": r.runs,
                    })
                })
                .collect();
            let (elapsed, rate) = side.baseline(w.key);
            json!({
                "key": w.key,
                "title": w.title,
                "what": w.what,
                "count": ((w.count as f64) * meta.scale).round(),
                "untraced_median_s": elapsed,
                "untraced_tasks_per_s": rate,
                "summary": rows,
            })
        })
        .collect();
    let tracers: Vec<Value> = side
        .statuses
        .iter()
        .map(|s| {
            json!({
                "key": s.key,
                "label": s.label,
                "version": s.version,
                "records": s.records,
                "error": s.error,
            })
        })
        .collect();
    let baselines: Vec<Value> = side
        .baselines
        .iter()
        .map(|(w, round, r)| {
            json!({
                "workload": w,
                "round": round,
                "elapsed_s": r.elapsed_s,
                "cpu_s": r.cpu_s,
                "processes": r.processes,
                "threads": r.threads,
            })
        })
        .collect();
    let traced: Vec<Value> = side
        .traced
        .iter()
        .map(|r| {
            json!({
                "workload": r.workload,
                "tracer": r.tracer,
                "round": r.round,
                "elapsed_s": r.run.elapsed_s,
                "processes": r.run.processes,
                "threads": r.run.threads,
                "baseline_s": r.baseline_s,
                "slowdown": r.slowdown(),
                "cpu_s": r.run.cpu_s,
                "baseline_cpu_s": r.baseline_cpu_s,
                "cpu_slowdown": r.cpu_slowdown(),
                "ready_s": r.ready_s,
                "cpu_ns": r.cpu_ns,
                "host_tasks": r.host_tasks,
                "vm_hwm_kb": r.hwm_kb,
                "vm_rss_kb": r.rss_kb,
                "events": r.events,
                "workload_records": r.workload_records,
                "lost": lost_json(r.lost),
                "problem": r.problem,
                "load": r.load,
                "other_bpf": r.other_bpf,
            })
        })
        .collect();
    json!({
        "meta": meta.json(),
        "workers": side.workers,
        "workloads": workloads,
        "tracers": tracers,
        "untraced": baselines,
        "traced": traced,
    })
}

/// RSS growth over the second half of the soak: (RSS at half, RSS at the end, growth KiB,
/// least-squares slope in KiB per 100,000 processes).
fn second_half(soak: &Soak) -> Option<(u64, u64, i64, f64)> {
    let total = soak.run.processes.max(1);
    let half: Vec<_> = soak
        .samples
        .iter()
        .filter(|s| s.processes * 2 >= total && s.rss_kb > 0)
        .collect();
    let first = half.first()?;
    let last = half.last()?;
    let n = half.len() as f64;
    let mx = half.iter().map(|s| s.processes as f64).sum::<f64>() / n;
    let my = half.iter().map(|s| s.rss_kb as f64).sum::<f64>() / n;
    let sxx: f64 = half.iter().map(|s| (s.processes as f64 - mx).powi(2)).sum();
    let sxy: f64 = half
        .iter()
        .map(|s| (s.processes as f64 - mx) * (s.rss_kb as f64 - my))
        .sum();
    let slope = if sxx > 0.0 {
        sxy / sxx * 100_000.0
    } else {
        0.0
    };
    Some((
        first.rss_kb,
        last.rss_kb,
        last.rss_kb as i64 - first.rss_kb as i64,
        slope,
    ))
}

pub fn soak_markdown(meta: &Meta, soak: &Soak) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Soak\n");
    meta.header(&mut out);
    let rate = soak.run.processes as f64 / soak.run.elapsed_s;
    let workers = soak
        .workers
        .map_or_else(|| "2 per CPU".to_owned(), |n| n.to_string());
    let _ = writeln!(
        out,
        "- Workload: {} processes churned (`proctrace-workload mix`: fork + waitpid, every \
         10th child execs a copy of /bin/true, the others exit at once), {workers} workers, \
         in {:.0} s ({rate:.0} processes/s), under proctrace with default flags writing to a \
         file ({:.2} GB of JSON). proctrace's VmRSS sampled every second.",
        thousands(soak.run.processes),
        soak.run.elapsed_s,
        soak.output_bytes as f64 / 1e9
    );
    let _ = writeln!(
        out,
        "- Other load: 1-minute load average {:.2} at the start, {:.2} at the end; other \
         processes with BPF programs attached at the start: {}.",
        soak.load.0,
        soak.load.1,
        if soak.other_bpf.is_empty() {
            "none".to_owned()
        } else {
            soak.other_bpf.join(", ")
        }
    );
    let rss_end = soak.samples.last().map_or(0, |s| s.rss_kb);
    let end_mib = rss_end as f64 / 1024.0;
    let hwm_mib = soak.hwm_kb as f64 / 1024.0;
    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "| --- | --- | --- |");
    let verdict = if end_mib <= SOAK_RSS_TARGET_MIB {
        "**met**".to_owned()
    } else {
        format!(
            "**NOT met**: {:.1} MiB above",
            end_mib - SOAK_RSS_TARGET_MIB
        )
    };
    let start_mib = soak
        .samples
        .iter()
        .find(|s| s.rss_kb > 0)
        .map_or(0.0, |s| s.rss_kb as f64 / 1024.0);
    let _ = writeln!(
        out,
        "| RSS ≤ 32 MiB after {} processes | VmRSS {end_mib:.1} MiB at the end ({start_mib:.1} MiB when the churn began); the peak, VmHWM {hwm_mib:.1} MiB, is reached during start-up, before the first process | {verdict} |",
        thousands(soak.run.processes)
    );
    if let Some((at_half, at_end, growth, slope)) = second_half(soak) {
        let slack = FLAT_SLACK_KB.max(at_half / 100) as i64;
        let verdict = if growth <= slack {
            "**met**".to_owned()
        } else {
            format!("**NOT met**: grew {growth} KiB (allowed {slack} KiB)")
        };
        let _ = writeln!(
            out,
            "| flat in the second half (growth ≤ max(256 KiB, 1 %)) | VmRSS {at_half} KiB at half, {at_end} KiB at the end: {growth:+} KiB; slope {slope:+.1} KiB per 100,000 processes | {verdict} |"
        );
    }
    let lost_verdict = if soak.lost == Lost::Count(0) {
        "**met**"
    } else {
        "**NOT met**"
    };
    let _ = writeln!(
        out,
        "| 0 lost events | {} lost | {lost_verdict} |",
        lost_text(soak.lost)
    );
    let _ = writeln!(
        out,
        "\nproctrace wrote {} event records ({:.2} per workload process named in them: {}), \
         {:.0} events/s, and used {:.2} s of CPU ({:.4} s per 1,000 workload processes; \
         {} tasks were created on the host meanwhile: {:.4} s per 1,000).",
        soak.events,
        soak.workload_records as f64 / soak.run.processes.max(1) as f64,
        soak.workload_records,
        soak.events as f64 / soak.run.elapsed_s,
        soak.cpu_ns as f64 / 1e9,
        soak.cpu_ns as f64 / 1e9 / (soak.run.processes.max(1) as f64 / 1000.0),
        soak.host_tasks,
        soak.cpu_ns as f64 / 1e9 / (soak.host_tasks.max(1) as f64 / 1000.0)
    );
    if let Some(problem) = &soak.problem {
        let _ = writeln!(out, "\nProblem: {problem}");
    }
    let _ = writeln!(out, "\n### RSS along the way\n");
    let _ = writeln!(
        out,
        "| processes churned | time s | proctrace VmRSS MiB | proctrace CPU s |"
    );
    let _ = writeln!(out, "| ---: | ---: | ---: | ---: |");
    let total = soak.run.processes.max(1);
    let mut shown = Vec::new();
    for tenth in 0..=10u64 {
        let goal = total * tenth / 10;
        if let Some(s) = soak.samples.iter().find(|s| s.processes >= goal) {
            if shown.last().is_some_and(|t: &f64| *t == s.t_s) {
                continue;
            }
            shown.push(s.t_s);
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.2} | {:.2} |",
                thousands(s.processes),
                s.t_s,
                s.rss_kb as f64 / 1024.0,
                s.cpu_ns as f64 / 1e9
            );
        }
    }
    let _ = writeln!(
        out,
        "\nEvery sample (one per second) is in `target/bench/soak.json`."
    );
    out
}

pub fn soak_json(meta: &Meta, soak: &Soak) -> Value {
    let samples: Vec<Value> = soak
        .samples
        .iter()
        .map(|s| json!([s.t_s, s.processes, s.rss_kb, s.cpu_ns]))
        .collect();
    json!({
        "meta": meta.json(),
        "processes_target": soak.processes_target,
        "processes": soak.run.processes,
        "elapsed_s": soak.run.elapsed_s,
        "workers": soak.workers,
        "vm_hwm_kb": soak.hwm_kb,
        "cpu_ns": soak.cpu_ns,
        "host_tasks": soak.host_tasks,
        "events": soak.events,
        "workload_records": soak.workload_records,
        "lost": lost_json(soak.lost),
        "output_bytes": soak.output_bytes,
        "load_start_end": [soak.load.0, soak.load.1],
        "other_bpf": soak.other_bpf,
        "problem": soak.problem,
        "samples_columns": ["t_s", "processes", "vm_rss_kb", "cpu_ns"],
        "samples": samples,
    })
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const INTRO: &str = "# Benchmarks

proctrace side by side with the tracers a user would pick instead, on process-churn
workloads, measured by `cargo xtask bench` (code: `xtask/src/bench/`; workloads:
`xtask/src/bin/proctrace-workload.rs`). Both sections below are generated: `cargo xtask
bench` rewrites the first, `cargo xtask bench --soak` the second; text outside them is kept.
";

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- bench:{name} begin (generated) -->"),
        format!("<!-- bench:{name} end -->"),
    )
}

/// Replace the generated section `name` of the report (creating the file, or appending the
/// section, when missing) and keep everything else.
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<()> {
    let existing = fs::read_to_string(path).unwrap_or_default();
    let text = replace_section(&existing, name, body);
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn replace_section(existing: &str, name: &str, body: &str) -> String {
    let (begin, end) = markers(name);
    let section = format!("{begin}\n{}\n{end}", body.trim_end());
    let mut text = if existing.trim().is_empty() {
        let mut text = INTRO.to_owned();
        for (other, placeholder) in [
            (
                "quick",
                "## Side by side\n\nNot run yet: `cargo xtask bench`.",
            ),
            (
                "soak",
                "## Soak\n\nNot run yet: `cargo xtask bench --soak`.",
            ),
        ] {
            let (b, e) = markers(other);
            let _ = write!(text, "\n{b}\n{placeholder}\n{e}\n");
        }
        text
    } else {
        existing.to_owned()
    };
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            text.replace_range(b..e + end.len(), &section);
        }
        _ => {
            let _ = write!(text, "\n{section}\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_004), "1,000,004");
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn sections_are_replaced_and_kept() {
        let first = replace_section("", "quick", "## Side by side\n\nA");
        assert!(first.starts_with("# Benchmarks"));
        assert!(first.contains("\nA\n"));
        assert!(first.contains("cargo xtask bench --soak`."));
        let notes = format!("{first}\n## Profile\n\nnotes\n");
        let second = replace_section(&notes, "soak", "## Soak\n\nB");
        assert!(second.contains("\nA\n") && second.contains("\nB\n"));
        assert!(second.contains("## Profile\n\nnotes"));
        assert!(!second.contains("Not run yet: `cargo xtask bench --soak`"));
        let third = replace_section(&second, "quick", "## Side by side\n\nC");
        assert!(!third.contains("\nA\n") && third.contains("\nC\n") && third.contains("\nB\n"));
    }

    #[test]
    fn lost_sums() {
        let run = |lost| TracedRun {
            workload: "exec",
            tracer: "x",
            round: 0,
            run: WorkloadRun {
                elapsed_s: 1.0,
                cpu_s: 1.0,
                processes: 10,
                threads: 0,
            },
            baseline_s: 1.0,
            baseline_cpu_s: 1.0,
            ready_s: 0.0,
            cpu_ns: 0,
            host_tasks: 0,
            hwm_kb: 0,
            rss_kb: 0,
            events: 0,
            workload_records: 0,
            lost,
            problem: None,
            load: 0.0,
            other_bpf: Vec::new(),
        };
        let a = run(Lost::Count(2));
        let b = run(Lost::Count(3));
        let c = run(Lost::NotReported);
        assert_eq!(sum_lost(&[&a, &b, &c]), Lost::Count(5));
        assert_eq!(sum_lost(&[&c]), Lost::NotReported);
        let d = run(Lost::Overflows(1));
        assert_eq!(sum_lost(&[&a, &d]), Lost::Overflows(1));
    }
}
