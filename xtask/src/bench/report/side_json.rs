//! `target/bench/raw.json`: the side-by-side summary and every run.

use serde_json::{json, Value};

use super::{
    stats::{tracer_cpu_unit, Row, SideBySide},
    values::lost_json,
    Meta,
};
use crate::bench::{
    side_by_side::{Baseline, TracedRun, TracerStatus},
    workload::Workload,
};

pub fn side_json(meta: &Meta, side: &SideBySide) -> Value {
    let workloads: Vec<Value> = side
        .workloads
        .iter()
        .map(|w| workload_json(meta, side, w))
        .collect();
    let tracers: Vec<Value> = side.statuses.iter().map(tracer_json).collect();
    let baselines: Vec<Value> = side.baselines.iter().map(baseline_json).collect();
    let traced: Vec<Value> = side.traced.iter().map(traced_json).collect();
    json!({
        "meta": meta.json(),
        "workers": side.workers,
        "workloads": workloads,
        "tracers": tracers,
        "untraced": baselines,
        "traced": traced,
    })
}

/// A workload, its untraced speed and its per-tracer summary rows.
fn workload_json(meta: &Meta, side: &SideBySide, w: &Workload) -> Value {
    let rows: Vec<Value> = side.rows(w.key).iter().map(row_json).collect();
    let (elapsed, rate) = side.baseline(w.key);
    json!({
        "key": w.key,
        "title": w.title,
        "what": w.what,
        "count": ((w.count as f64) * meta.scale).round(),
        "untraced_median_s": elapsed,
        "untraced_tasks_per_s": rate,
        "counts": w.counts.plural(),
        "untraced_per_s": side.untraced_rate(w),
        "tracer_cpu_unit": tracer_cpu_unit(w.counts),
        "summary": rows,
    })
}

fn row_json(r: &Row) -> Value {
    json!({
        "tracer": r.tracer,
        "slowdown_median": r.slowdown,
        "slowdown_min": r.slowdown_min,
        "slowdown_max": r.slowdown_max,
        "workload_cpu_ratio_median": r.cpu_slowdown,
        "cpu_s_per_1000_host_tasks": r.cpu_per_1k,
        "cpu_s_per_1000_workload_tasks": r.cpu_per_1k_workload,
        "tracer_cpu": r.tracer_cpu,
        "background_tasks": r.background_tasks,
        "peak_rss_mib": r.hwm_mib,
        "events_per_s": r.events_per_s,
        "lost": lost_json(r.lost),
        "records_per_task": r.records_per_task,
        "ready_s": r.ready_s,
        "runs": r.runs,
    })
}

fn tracer_json(s: &TracerStatus) -> Value {
    json!({
        "key": s.key,
        "label": s.label,
        "version": s.version,
        "records": s.records,
        "error": s.error,
    })
}

fn baseline_json((w, round, r): &Baseline) -> Value {
    json!({
        "workload": w,
        "round": round,
        "elapsed_s": r.elapsed_s,
        "cpu_s": r.cpu_s,
        "processes": r.processes,
        "threads": r.threads,
    })
}

fn traced_json(r: &TracedRun) -> Value {
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
}
