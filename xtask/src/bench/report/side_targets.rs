//! The `### Targets` table of the side-by-side section: the goals of issue #5 and whether
//! this run met them.

use std::fmt::Write as _;

use super::{
    stats::{sum_lost, Row, SideBySide},
    values::lost_text,
};
use crate::bench::{
    side_by_side::TracedRun,
    tracers::{Lost, BASELINE},
};

/// Slowdown targets of issue #5, per workload.
const EXEC_SLOWDOWN_TARGET: f64 = 1.03;
const FORK_SLOWDOWN_TARGET: f64 = 1.05;
/// proctrace's CPU per process, as a fraction of bpftrace's.
const CPU_VS_BPFTRACE_TARGET: f64 = 1.0 / 3.0;
/// A slowdown verdict is flagged as noisy when single runs spread wider than this.
const NOISY_SPREAD: f64 = 0.10;

/// The table; the soak's own target row only points to its section.
pub fn write(out: &mut String, side: &SideBySide) {
    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "| --- | --- | --- |");
    slowdown_rows(out, side);
    lost_row(out, side);
    cpu_vs_bpftrace_row(out, side);
    let _ = writeln!(
        out,
        "| RSS ≤ 32 MiB after 1,000,000 processes, flat in the second half | see [Soak](#soak) | |"
    );
}

/// exec and fork storm: proctrace's slowdown within its limit and below every peer's.
fn slowdown_rows(out: &mut String, side: &SideBySide) {
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
}

/// No losses over all of proctrace's runs (named with the highest-churn workload).
fn lost_row(out: &mut String, side: &SideBySide) {
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
}

/// proctrace's CPU per process against bpftrace's, on every workload both ran.
fn cpu_vs_bpftrace_row(out: &mut String, side: &SideBySide) {
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
}

/// The slowdown target on one workload: proctrace at most `limit` and below every peer.
fn slowdown_target(side: &SideBySide, workload: &str, limit: f64) -> Option<(String, String)> {
    let rows = side.rows(workload);
    let ours = rows.iter().find(|r| r.tracer == "proctrace")?;
    // The baseline build is proctrace itself, not a peer.
    let peers: Vec<&Row> = rows
        .iter()
        .filter(|r| r.tracer != "proctrace" && r.tracer != BASELINE)
        .collect();
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
