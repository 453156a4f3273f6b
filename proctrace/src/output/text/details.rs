//! The DETAILS column of each record type: one line, escaped (it is the last column, so it may
//! be as long as it needs).
use std::fmt::Write as _;

use super::{
    escape::{escape, quote},
    human::{bytes, duration, json_name, status},
};
use crate::output::record::{
    Discrepancies, ExecRecord, ExitRecord, ForkRecord, HookCounts, LostCauses, ProcCheckRecord,
    ReapHow, ReapRecord, StartRecord, ZombieRecord, ZombieSource,
};

pub fn fork(r: &ForkRecord) -> String {
    format!("child {} of {}, uid {}", r.pid, r.ppid, r.uid)
}

/// `/bin/sh [sh -c "exit 3"]`, then what is unusual about it.
pub fn exec(r: &ExecRecord) -> String {
    let argv: Vec<String> = r.argv.iter().map(|a| quote(a)).collect();
    let mut text = format!("{} [{}", quote(&r.filename), argv.join(" "));
    if r.argv_truncated {
        text.push_str(" …");
    }
    text.push(']');
    let notes = [
        (r.argv_truncated, "argv truncated".to_owned()),
        (r.argv_read_failed, "argv unreadable".to_owned()),
        (r.filename_truncated, "filename truncated".to_owned()),
        (r.argv0_empty, "argv[0] empty".to_owned()),
        (
            r.euid.is_some_and(|e| e != r.uid),
            format!("uid {} euid {}", r.uid, r.euid.unwrap_or_default()),
        ),
    ];
    for (_, note) in notes.iter().filter(|(on, _)| *on) {
        let _ = write!(text, " ({note})");
    }
    text
}

/// `exit 3 after 1.2s`, `signal 11 (SEGV), core dumped, after 1.2s`, and what it used.
pub fn exit(r: &ExitRecord) -> String {
    let how = status(r.exit_code, r.signal, r.core_dumped);
    let comma = if r.core_dumped { "," } else { "" };
    let mut text = format!("{how}{comma} after {}", duration(r.lifetime_ns));
    let usage = r.usage.as_ref();
    let cpu = usage.and_then(|u| Some(u.cpu_user_ns?.saturating_add(u.cpu_system_ns?)));
    let rss = usage.and_then(|u| u.max_rss_bytes);
    match (cpu, rss) {
        (Some(cpu), Some(rss)) => {
            let _ = write!(text, " (cpu {}, rss {})", duration(cpu), bytes(rss));
        }
        (Some(cpu), None) => {
            let _ = write!(text, " (cpu {})", duration(cpu));
        }
        (None, Some(rss)) => {
            let _ = write!(text, " (rss {})", bytes(rss));
        }
        (None, None) => {}
    }
    text
}

/// `zombie for 2.0s (exit 0), parent 1 (init), 2 siblings unreaped: parent_blocks_sigchld`.
pub fn zombie(r: &ZombieRecord) -> String {
    let mut text = format!(
        "zombie for {} ({}), parent {} ({})",
        duration(r.zombie_ns),
        status(r.exit_code, r.signal, r.core_dumped),
        r.ppid,
        r.parent_comm
            .as_deref()
            .map_or_else(|| "?".to_owned(), quote)
    );
    if r.reparented {
        text.push_str(", reparented");
    }
    if r.siblings_unreaped > 0 {
        let _ = write!(text, ", {} siblings unreaped", r.siblings_unreaped);
    }
    if r.source == ZombieSource::Procfs {
        text.push_str(", found in /proc");
    }
    if let Some(diagnosis) = &r.diagnosis {
        let _ = write!(text, ": {}", json_name(&diagnosis.verdict));
    }
    text
}

/// `reaped by 1 (wait), zombie for 2.5s (long_lived)`.
pub fn reap(r: &ReapRecord) -> String {
    let mut text = match (r.how, r.reaper) {
        (ReapHow::Wait, Some(reaper)) => format!("reaped by {reaper} (wait)"),
        (ReapHow::Wait, None) => "reaped (wait)".to_owned(),
        (ReapHow::Autoreap, _) => "autoreaped (the parent ignores SIGCHLD)".to_owned(),
        (ReapHow::Release, _) => "released (no wait seen)".to_owned(),
    };
    match (r.zombie_ns, r.zombie_class) {
        (Some(ns), Some(class)) => {
            let _ = write!(
                text,
                ", zombie for {} ({})",
                duration(ns),
                json_name(&class)
            );
        }
        (Some(ns), None) => {
            let _ = write!(text, ", zombie for {}", duration(ns));
        }
        (None, _) => text.push_str(", zombie time unknown"),
    }
    if r.reparented {
        text.push_str(", reparented");
    }
    text
}

/// `proctrace 0.1.0, 2026-11-26 UTC+00:00; hooks: fork …, exec …; 312 processes (2 zombies)
/// in /proc at start`, then the fields this kernel cannot measure, if any.
pub fn start(r: &StartRecord, date: &str) -> String {
    let hook = |h: &Option<String>| h.as_deref().map_or_else(|| "off".to_owned(), escape);
    let mut text = format!(
        "proctrace {}, {date}; hooks: fork {}, exec {}, exit {}, reap {}, wait {}; \
         {} processes ({} zombies) in /proc at start",
        escape(&r.version),
        hook(&r.hooks.fork),
        hook(&r.hooks.exec),
        hook(&r.hooks.exit),
        hook(&r.hooks.reap),
        hook(&r.hooks.wait),
        r.seeded_processes,
        r.seeded_zombies
    );
    if !r.unsupported.is_empty() {
        let fields: Vec<String> = r.unsupported.iter().map(|f| escape(f)).collect();
        let _ = write!(text, "; not measured here: {}", fields.join(", "));
    }
    text
}

/// `5 events lost: ring_buffer_full 1, recursion.reap 1; kernel_read_failed 1`: the non-zero
/// causes by their JSON names.
pub fn lost(count: u64, causes: &LostCauses) -> String {
    let mut text = format!("{count} events lost");
    let lost = lost_causes(causes);
    if !lost.is_empty() {
        let _ = write!(text, ": {}", lost.join(", "));
    }
    let damage = nonzero(&[
        ("kernel_read_failed", causes.kernel_read_failed),
        ("fork_unpaired", causes.fork_unpaired),
    ]);
    if !damage.is_empty() {
        let _ = write!(text, "; {}", damage.join(", "));
    }
    text
}

/// The causes of losses that are not zero, `name count` each.
pub fn lost_causes(c: &LostCauses) -> Vec<String> {
    let mut parts = nonzero(&[
        ("ring_buffer_full", c.ring_buffer_full),
        ("undecodable", c.undecodable),
        ("output_queue_full", c.output_queue_full),
    ]);
    parts.extend(by_job("recursion", &c.recursion));
    parts.extend(by_job("dropped", &c.dropped));
    parts
}

fn by_job(cause: &str, c: &HookCounts) -> Vec<String> {
    let jobs = [
        ("fork", c.fork),
        ("exec", c.exec),
        ("exit", c.exit),
        ("reap", c.reap),
        ("wait", c.wait),
    ];
    jobs.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(job, n)| format!("{cause}.{job} {n}"))
        .collect()
}

fn nonzero(counts: &[(&str, u64)]) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect()
}

/// `interval: 120 checked in 1.0ms, all agree` or `…: 1 missing (42)`.
pub fn proc_check(r: &ProcCheckRecord) -> String {
    let mut text = format!(
        "{}: {} checked in {}",
        json_name(&r.reason),
        r.checked,
        duration(r.scan_ns)
    );
    let kinds = [
        ("missing", &r.missing),
        ("unknown", &r.unknown),
        ("mismatched", &r.mismatched),
    ];
    let found: Vec<String> = kinds
        .iter()
        .filter(|(_, d)| d.count > 0)
        .map(|(name, d)| format!("{} {name} ({})", d.count, pids(d)))
        .collect();
    if found.is_empty() {
        text.push_str(", all agree");
    } else {
        let _ = write!(text, ": {}", found.join(", "));
    }
    text
}

fn pids(d: &Discrepancies) -> String {
    let mut list: Vec<String> = d.pids.iter().map(u32::to_string).collect();
    if d.count > d.pids.len() as u64 {
        list.push("…".to_owned());
    }
    list.join(" ")
}
