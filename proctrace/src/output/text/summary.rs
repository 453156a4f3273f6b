//! The human summary: the `summary` record as a block of indented lines under its row.
use std::fmt::Write as _;

use super::{
    details::lost_causes,
    escape::quote,
    human::{bytes, duration, json_name},
};
use crate::output::record::{Consumer, Counts, SummaryRecord, Unreaped, ZombieStats};

/// Unreaped zombies listed one per line; the rest are counted (the JSON summary has all).
const MAX_UNREAPED_LINES: usize = 20;
/// Entries of each `top` list shown.
const MAX_TOP: usize = 5;
const INDENT: &str = "  ";

/// `traced for 12.3s`: the summary's own row.
pub fn headline(r: &SummaryRecord) -> String {
    format!("traced for {}", duration(r.duration_ns))
}

/// The lines under the summary's row, without their line ends.
pub fn block(r: &SummaryRecord) -> Vec<String> {
    let mut lines = vec![
        format!("{INDENT}records:  {}", counts(&r.counts)),
        format!("{INDENT}zombies:  {}", zombie_times(&r.zombie_ns)),
        format!("{INDENT}losses:   {}", losses(r)),
    ];
    lines.extend(unreaped(&r.unreaped));
    lines.extend(by_parent(r));
    lines.extend(top("top cpu:  ", &r.top.by_cpu, |c| duration(c.cpu_ns)));
    lines.extend(top("top rss:  ", &r.top.by_memory, |c| {
        c.max_rss_bytes.map_or_else(|| "?".to_owned(), bytes)
    }));
    lines
}

fn counts(c: &Counts) -> String {
    format!(
        "start {}, fork {}, exec {}, exit {}, zombie {}, reap {}, lost {}, proc_check {}",
        c.start, c.fork, c.exec, c.exit, c.zombie, c.reap, c.lost, c.proc_check
    )
}

fn zombie_times(z: &ZombieStats) -> String {
    match (z.p50, z.p99, z.max) {
        (Some(p50), Some(p99), Some(max)) => format!(
            "zombie time p50 {}, p99 {}, max {} over {} reaps",
            duration(p50),
            duration(p99),
            duration(max),
            z.count
        ),
        _ => "no reap with a known zombie time".to_owned(),
    }
}

fn losses(r: &SummaryRecord) -> String {
    let causes = lost_causes(&r.lost_causes);
    match (r.lost, causes.is_empty()) {
        (0, _) => "none".to_owned(),
        (n, true) => format!("{n} events"),
        (n, false) => format!("{n} events: {}", causes.join(", ")),
    }
}

fn unreaped(list: &[Unreaped]) -> Vec<String> {
    if list.is_empty() {
        return vec![format!("{INDENT}unreaped: none")];
    }
    let mut lines = vec![format!("{INDENT}unreaped: {}, oldest first:", list.len())];
    lines.extend(list.iter().take(MAX_UNREAPED_LINES).map(unreaped_line));
    if list.len() > MAX_UNREAPED_LINES {
        lines.push(format!(
            "{INDENT}{INDENT}… and {} more (all of them in --format json)",
            list.len() - MAX_UNREAPED_LINES
        ));
    }
    lines
}

fn unreaped_line(u: &Unreaped) -> String {
    let mut line = format!(
        "{INDENT}{INDENT}pid {} ({}): zombie for {}, parent {} ({})",
        u.pid,
        quote(&u.comm),
        duration(u.zombie_ns),
        u.ppid,
        u.parent_comm
            .as_deref()
            .map_or_else(|| "?".to_owned(), quote)
    );
    if u.reparented {
        line.push_str(", reparented");
    }
    if let Some(d) = &u.diagnosis {
        let _ = write!(line, ": {}", json_name(&d.verdict));
    }
    line
}

fn by_parent(r: &SummaryRecord) -> Vec<String> {
    let parents: Vec<String> = r
        .zombies_by_parent
        .iter()
        .take(MAX_TOP)
        .map(|p| {
            format!(
                "{} ({}) {} unreaped, {} reaped long-lived, max {}",
                p.ppid,
                p.parent_comm
                    .as_deref()
                    .map_or_else(|| "?".to_owned(), quote),
                p.tally.unreaped,
                p.tally.long_lived_reaped,
                duration(p.tally.max_zombie_ns)
            )
        })
        .collect();
    if parents.is_empty() {
        return Vec::new();
    }
    vec![format!("{INDENT}parents:  {}", parents.join("; "))]
}

fn top(label: &str, list: &[Consumer], amount: impl Fn(&Consumer) -> String) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    let entries: Vec<String> = list
        .iter()
        .take(MAX_TOP)
        .map(|c| format!("{} ×{} {}", quote(&c.comm), c.processes, amount(c)))
        .collect();
    vec![format!("{INDENT}{label}{}", entries.join(", "))]
}
