//! The soak section of BENCHMARKS.md and `target/bench/soak.json`.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{
    values::{lost_json, lost_text, thousands},
    Meta,
};
use crate::bench::{soak::Soak, tracers::Lost};

/// RSS after the soak, MiB.
const SOAK_RSS_TARGET_MIB: f64 = 32.0;
/// "Flat": second-half growth at most this, or 1 % of the RSS, whichever is larger.
const FLAT_SLACK_KB: u64 = 256;

pub fn soak_markdown(meta: &Meta, soak: &Soak) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Soak\n");
    meta.header(&mut out);
    workload_lines(&mut out, soak);
    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "| --- | --- | --- |");
    rss_at_end_row(&mut out, soak);
    flat_row(&mut out, soak);
    lost_row(&mut out, soak);
    records_and_cpu(&mut out, soak);
    rss_table(&mut out, soak);
    out
}

/// What was churned, and what else ran meanwhile.
fn workload_lines(out: &mut String, soak: &Soak) {
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
}

/// VmRSS at the end within [`SOAK_RSS_TARGET_MIB`].
fn rss_at_end_row(out: &mut String, soak: &Soak) {
    let rss_end = soak.samples.last().map_or(0, |s| s.rss_kb);
    let end_mib = rss_end as f64 / 1024.0;
    let hwm_mib = soak.hwm_kb as f64 / 1024.0;
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
}

/// No growth in the second half beyond the slack.
fn flat_row(out: &mut String, soak: &Soak) {
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
}

fn lost_row(out: &mut String, soak: &Soak) {
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
}

/// proctrace's records and CPU time, and what went wrong.
fn records_and_cpu(out: &mut String, soak: &Soak) {
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
}

/// VmRSS and CPU at every tenth of the churn.
fn rss_table(out: &mut String, soak: &Soak) {
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
