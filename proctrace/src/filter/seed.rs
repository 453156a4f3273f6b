//! The processes of the start-up /proc read, as the filter adopts them.
use crate::{output::record::ProcId, proc::reconcile::Snapshot};

use super::lineage::SeedEntry;

/// What to read beyond the snapshot (one more /proc read per process each).
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    pub exe: bool,
    pub uid: bool,
}

/// One entry per process of `snapshot`, with its `proc_id` as the engine seeds it
/// (reconcile::seed: /proc's start time), its executable when `with.exe`, and its real uid
/// when `with.uid` (the snapshot's is the effective one: the owner of /proc/<pid>).
pub fn entries(snapshot: &Snapshot, with: Wanted) -> Vec<SeedEntry> {
    snapshot
        .procs
        .iter()
        .map(|p| SeedEntry {
            pid: p.pid,
            ppid: p.ppid,
            proc_id: ProcId::new(p.pid, p.start_ns),
            uid: with
                .uid
                .then(|| real_uid_of(p.pid))
                .flatten()
                .unwrap_or(p.uid),
            exe: with.exe.then(|| exe_of(p.pid)).flatten(),
        })
        .collect()
}

/// /proc/<pid>/exe: the path of its executable, symbolic links resolved. Unreadable for
/// kernel threads and zombies (no mm: fs/proc/base.c proc_exe_link()); a deleted binary shows
/// ` (deleted)` after its path (d_path()), which is dropped.
fn exe_of(pid: u32) -> Option<String> {
    let path = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let path = path.to_string_lossy();
    Some(path.strip_suffix(" (deleted)").unwrap_or(&path).to_owned())
}

/// The real uid: the first of the four on /proc/<pid>/status's `Uid:` line (real, effective,
/// saved, filesystem), what records' `uid` is (`cred->uid`).
fn real_uid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}
