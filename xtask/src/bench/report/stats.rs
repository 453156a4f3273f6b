//! The side-by-side measurements and their per-tracer, per-workload medians.

use crate::bench::{
    side_by_side::{Baseline, TracedRun, TracerStatus},
    tracers::Lost,
    workload::{Counts, Workload, WorkloadRun},
};

pub struct SideBySide<'a> {
    pub workloads: &'a [&'a Workload],
    pub statuses: &'a [TracerStatus],
    pub baselines: &'a [Baseline],
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
    /// Tracer CPU as the tables give it: [`tracer_cpu`].
    pub tracer_cpu: f64,
    /// Tasks created by other programs during a run (median).
    pub background_tasks: f64,
    pub hwm_mib: f64,
    pub events_per_s: f64,
    pub lost: Lost,
    pub records_per_task: f64,
    pub ready_s: f64,
    pub runs: usize,
}

pub fn median(mut v: Vec<f64>) -> f64 {
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

/// A traced run's tracer CPU as the tables give it: seconds per 1,000 tasks created on the
/// host, or milliseconds per second of workload for a workload that creates no tasks to
/// divide by (see [`Counts::per_tasks`]).
pub fn tracer_cpu(counts: Counts, r: &TracedRun) -> f64 {
    if counts.per_tasks() {
        r.cpu_ns as f64 / 1e9 / (r.host_tasks.max(1) as f64 / 1000.0)
    } else {
        r.cpu_ns as f64 / 1e6 / r.run.elapsed_s
    }
}

/// The unit of [`tracer_cpu`], for table headings.
pub fn tracer_cpu_unit(counts: Counts) -> &'static str {
    if counts.per_tasks() {
        "s / 1,000 tasks"
    } else {
        "ms / s of workload"
    }
}

/// A [`tracer_cpu`] value for a table: seconds per 1,000 tasks are small (4 decimals),
/// milliseconds per second are not (2).
pub fn tracer_cpu_text(counts: Counts, value: f64) -> String {
    if counts.per_tasks() {
        format!("{value:.4}")
    } else {
        format!("{value:.2}")
    }
}

pub fn sum_lost(runs: &[&TracedRun]) -> Lost {
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

impl SideBySide<'_> {
    fn runs_of(&self, workload: &str, tracer: &str) -> Vec<&TracedRun> {
        self.traced
            .iter()
            .filter(|r| r.workload == workload && r.tracer == tracer)
            .collect()
    }

    pub fn row(&self, workload: &str, tracer: &'static str) -> Option<Row> {
        let runs = self.runs_of(workload, tracer);
        if runs.is_empty() {
            return None;
        }
        let slowdowns: Vec<f64> = runs.iter().map(|r| r.slowdown()).collect();
        let counts = self.counts(workload);
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
            tracer_cpu: median(runs.iter().map(|r| tracer_cpu(counts, r)).collect()),
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

    pub fn rows(&self, workload: &str) -> Vec<Row> {
        self.statuses
            .iter()
            .filter_map(|s| self.row(workload, s.key))
            .collect()
    }

    pub fn baseline(&self, workload: &str) -> (f64, f64) {
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

    /// The untraced runs' median rate in what the workload's `--count` counts
    /// (syscalls/s for the syscall tax, tasks/s for the others).
    pub fn untraced_rate(&self, w: &Workload) -> f64 {
        median(
            self.baselines
                .iter()
                .filter(|(k, _, _)| *k == w.key)
                .map(|(_, _, run)| run.rate(w.counts))
                .collect(),
        )
    }

    /// What the workload `key` counts (processes for one not in this run).
    pub fn counts(&self, key: &str) -> Counts {
        self.workloads
            .iter()
            .find(|w| w.key == key)
            .map_or(Counts::Processes, |w| w.counts)
    }

    pub fn label(&self, key: &str) -> &'static str {
        self.statuses
            .iter()
            .find(|s| s.key == key)
            .map_or("?", |s| s.label)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    /// A traced run of `tracer` on `workload`: 1 s untraced, `elapsed_s` traced.
    pub fn traced(workload: &'static str, tracer: &'static str, elapsed_s: f64) -> TracedRun {
        TracedRun {
            workload,
            tracer,
            round: 0,
            run: WorkloadRun {
                elapsed_s,
                cpu_s: elapsed_s,
                processes: 10,
                threads: 0,
                syscalls: 0,
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
            lost: Lost::Count(0),
            problem: None,
            load: 0.0,
            other_bpf: Vec::new(),
        }
    }

    #[test]
    fn tracer_cpu_per_tasks_or_per_second() {
        let mut r = traced("syscall", "x", 2.0);
        r.cpu_ns = 40_000_000;
        r.host_tasks = 4_000;
        // Churn: 0.04 s over 4 thousand tasks.
        assert!((tracer_cpu(Counts::Processes, &r) - 0.01).abs() < 1e-12);
        assert!((tracer_cpu(Counts::Threads, &r) - 0.01).abs() < 1e-12);
        // No churn: 40 ms over 2 s of workload, whatever else the host created.
        assert!((tracer_cpu(Counts::Syscalls, &r) - 20.0).abs() < 1e-12);
        r.host_tasks = 0;
        assert!((tracer_cpu(Counts::Processes, &r) - 40.0).abs() < 1e-12);
        assert_eq!(tracer_cpu_unit(Counts::Syscalls), "ms / s of workload");
        assert_eq!(tracer_cpu_unit(Counts::Threads), "s / 1,000 tasks");
        assert_eq!(tracer_cpu_text(Counts::Syscalls, 20.0), "20.00");
        assert_eq!(tracer_cpu_text(Counts::Processes, 0.0191), "0.0191");
    }

    #[test]
    fn lost_sums() {
        let run = |lost| TracedRun {
            lost,
            ..traced("exec", "x", 1.0)
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
