//! The side-by-side section of BENCHMARKS.md: method, targets, one table per workload, the
//! tracers, and every traced run.

use std::fmt::Write as _;

use super::{
    side_baseline, side_targets,
    stats::{median, tracer_cpu_text, tracer_cpu_unit, Row, SideBySide},
    values::lost_text,
    Meta,
};
use crate::bench::{side_by_side::TracedRun, workload::Workload};

pub fn side_markdown(meta: &Meta, side: &SideBySide) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Side by side\n");
    meta.header(&mut out);
    method(&mut out, meta);
    other_load(&mut out, side);
    let _ = writeln!(
        out,
        "- Raw numbers: the table at the end of this section, and `target/bench/raw.json`."
    );
    side_targets::write(&mut out, side);
    side_baseline::write(&mut out, side);
    for w in side.workloads {
        workload_section(&mut out, meta, side, w);
    }
    tracers_section(&mut out, side);
    raw_numbers(&mut out, side);
    out
}

/// How the numbers were taken.
fn method(out: &mut String, meta: &Meta) {
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
         that other programs running meanwhile count on both sides (the syscall tax, which \
         creates no tasks, gives it per second of workload instead); the BPF programs \
         themselves run in the workload's context and show up in the slowdown. Peak RSS is \
         VmHWM (it includes start-up). Events/s: \
         records written per second of workload (every process on the host counts). Records \
         per process: records naming the workload's processes, per process (or thread) \
         created. Every tracer writes to a file. Workload sizes x{}.",
        meta.runs, meta.scale
    );
}

/// The load and the other BPF users while the traced runs started.
fn other_load(out: &mut String, side: &SideBySide) {
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
}

/// One workload: what it does, its untraced speed, one row per tracer.
fn workload_section(out: &mut String, meta: &Meta, side: &SideBySide, w: &Workload) {
    let (elapsed, _) = side.baseline(w.key);
    let rate = side.untraced_rate(w);
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
        w.counts.plural()
    );
    if !w.counts.per_tasks() {
        let _ = writeln!(
            out,
            "It creates no tasks to divide the tracers' CPU by: their CPU is given per second \
             of workload, which is what they cost a host that does no churn.\n"
        );
    }
    let rows = side.rows(w.key);
    let background = median(rows.iter().map(|r| r.background_tasks).collect());
    let _ = writeln!(
        out,
        "Other programs created a median {background:.0} tasks during each traced run.\n"
    );
    tracer_table(out, side, w, rows);
}

/// The workload's table: one row per tracer that ran it.
fn tracer_table(out: &mut String, side: &SideBySide, w: &Workload, rows: Vec<Row>) {
    let _ = writeln!(
        out,
        "| tracer | records | slowdown (min–max) | workload CPU × | tracer CPU {} | peak RSS MiB | events/s | lost | records per workload {} | ready after s |",
        tracer_cpu_unit(w.counts),
        w.counts.task()
    );
    let _ = writeln!(
        out,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let status = side.statuses.iter().find(|s| s.key == row.tracer);
        let _ = writeln!(
            out,
            "| {} | {} | {:.3}× ({:.3}–{:.3}) | {:.3}× | {} | {:.1} | {:.0} | {} | {:.2} | {:.2} |",
            side.label(row.tracer),
            status.map_or("", |s| s.records),
            row.slowdown,
            row.slowdown_min,
            row.slowdown_max,
            row.cpu_slowdown,
            tracer_cpu_text(w.counts, row.tracer_cpu),
            row.hwm_mib,
            row.events_per_s,
            lost_text(row.lost),
            row.records_per_task,
            row.ready_s
        );
    }
}

/// Every tracer with its version, what it records and whether it ran.
fn tracers_section(out: &mut String, side: &SideBySide) {
    let _ = writeln!(out, "\n### Tracers\n");
    let _ = writeln!(out, "| tracer | version | records | status |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for s in side.statuses {
        let status = match &s.error {
            None => "ran".to_owned(),
            Some(err) => did_not_run(err),
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
}

/// A tracer's error in one table cell. The first line says what happened, the last ones why.
fn did_not_run(err: &str) -> String {
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

/// Every traced run, the untraced runs and the problems, folded away.
fn raw_numbers(out: &mut String, side: &SideBySide) {
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
        traced_row(out, r);
    }
    untraced_runs(out, side);
    problems(out, side);
    let _ = writeln!(out, "\n</details>");
}

/// One traced run in the raw table.
fn traced_row(out: &mut String, r: &TracedRun) {
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

/// Every untraced run's wall and CPU time, per workload in order.
fn untraced_runs(out: &mut String, side: &SideBySide) {
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
}

/// What was off with the tracers' output, run by run.
fn problems(out: &mut String, side: &SideBySide) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{
        report::stats::tests::traced,
        side_by_side::TracerStatus,
        workload::{WorkloadRun, WORKLOADS},
    };

    #[test]
    fn syscall_tax_gives_tracer_cpu_per_second() {
        let syscall = WORKLOADS.iter().find(|w| w.key == "syscall").unwrap();
        let untraced = WorkloadRun {
            elapsed_s: 0.5,
            cpu_s: 1.0,
            processes: 4,
            threads: 0,
            syscalls: 5_000_000,
        };
        let mut run = traced("syscall", "proctrace", 0.55);
        run.cpu_ns = 11_000_000;
        run.baseline_s = 0.5;
        run.baseline_cpu_s = 0.5;
        run.host_tasks = 30;
        let statuses = [TracerStatus {
            key: "proctrace",
            label: "proctrace",
            records: "fork",
            version: String::new(),
            error: None,
        }];
        let side = SideBySide {
            workloads: &[syscall],
            statuses: &statuses,
            baselines: &[("syscall", 0, untraced)],
            traced: &[run],
            workers: None,
        };
        let meta = Meta {
            command: String::new(),
            machine: String::new(),
            commit: String::new(),
            date: String::new(),
            total_s: 0.0,
            runs: 1,
            scale: 1.0,
        };
        let mut out = String::new();
        workload_section(&mut out, &meta, &side, syscall);
        assert!(out.contains("### syscall tax"), "{out}");
        assert!(
            out.contains("Untraced: median 0.500 s, 10000000 syscalls/s."),
            "{out}"
        );
        assert!(out.contains("| tracer CPU ms / s of workload |"), "{out}");
        // 11 ms over 0.55 s of workload, not 11 ms over 30 host tasks.
        assert!(
            out.contains("| 1.100× (1.100–1.100) | 1.100× | 20.00 |"),
            "{out}"
        );
        assert!(out.contains("records per workload process"), "{out}");
    }
}
