//! `--baseline`: proctrace against a build of another commit, measured in the same run (the
//! cost of a change), one row per workload.

use std::fmt::Write as _;

use super::stats::{tracer_cpu_text, tracer_cpu_unit, SideBySide};
use crate::bench::tracers::BASELINE;

/// The comparison table, when the run had a baseline build.
pub fn write(out: &mut String, side: &SideBySide) {
    let rows: Vec<_> = side
        .workloads
        .iter()
        .filter_map(|w| Some((w, side.row(w.key, "proctrace")?, side.row(w.key, BASELINE)?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Against the baseline build\n\n`proctrace` is this commit, `{BASELINE}` the \
         binary given to `--baseline`, run the same way in the same rounds. A ratio above 1 \
         is what this commit costs more.\n"
    );
    let _ = writeln!(
        out,
        "| workload | slowdown: proctrace / baseline | workload CPU ×: proctrace / baseline | ratio | tracer CPU: proctrace / baseline | ratio |"
    );
    let _ = writeln!(out, "| --- | --- | --- | ---: | --- | ---: |");
    for (w, ours, base) in rows {
        let _ = writeln!(
            out,
            "| {} | {:.3}× / {:.3}× | {:.3}× / {:.3}× | {:.3} | {} / {} {} | {:.2} |",
            w.title,
            ours.slowdown,
            base.slowdown,
            ours.cpu_slowdown,
            base.cpu_slowdown,
            ours.cpu_slowdown / base.cpu_slowdown,
            tracer_cpu_text(w.counts, ours.tracer_cpu),
            tracer_cpu_text(w.counts, base.tracer_cpu),
            tracer_cpu_unit(w.counts),
            ours.tracer_cpu / base.tracer_cpu,
        );
    }
}
