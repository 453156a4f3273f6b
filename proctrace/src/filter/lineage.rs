//! What the filter remembers of each process between its records: whether it descends from
//! a `--tree` root, whether its executable matches `--exe`, its uid. A `reap` carries neither
//! filename nor uid, and no record says which tree its process is in, so these come from
//! the process's earlier records (or from /proc, for processes alive at start).
//!
//! Keyed by pid, with the record's `proc_id` telling a later process that reuses the pid
//! from a stale entry (its reap lost): like the engine's table. An entry goes at the
//! process's reap, and the table holds at most [`MAX_ENTRIES`]: past that the oldest entry
//! is forgotten, so lost reaps cannot make it grow without end.
use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt as _};

use thiserror::Error;

use crate::output::record::{ProcId, RecordType};

use super::selector::{Criteria, Subject};

/// 131,072 processes: 15 MiB measured when full (the order queue can take 6 MiB more, up
/// to twice the table); far more processes than hosts run at once. A pid is reused only after its reap, which removes its entry, so only lost reaps
/// (or more live processes than this) fill it.
pub const MAX_ENTRIES: usize = 1 << 17;

/// A process's attributes as of its latest record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Descends (at its fork) from a `--tree` root, or is one.
    pub in_tree: bool,
    /// `--exe` matched the filename of its latest exec (or, never exec'd while traced, its
    /// parent's at its fork, or /proc/<pid>/exe at start); `None` when unknown.
    pub exe_match: Option<bool>,
    /// The real uid of its latest fork, exec or exit record (/proc's at start).
    pub uid: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    proc_id: ProcId,
    known: Known,
}

/// A process alive (or a zombie) when proctrace started, from /proc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedEntry {
    pub pid: u32,
    pub ppid: u32,
    /// As the engine seeds it (reconcile::seed): the `proc_id` of its records.
    pub proc_id: ProcId,
    pub uid: u32,
    /// /proc/<pid>/exe, when `--exe` asks for it.
    pub exe: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SeedError {
    #[error(
        "--tree {0}: process {0} ended before proctrace read /proc; start proctrace again with \
         the pid of a running process"
    )]
    TreeRootGone(u32),
}

pub struct Lineage {
    by_pid: HashMap<u32, Entry>,
    /// Insertion order, for forgetting the oldest when full; entries removed since are
    /// skipped then (and swept out when this grows to twice the table).
    order: VecDeque<(u32, ProcId)>,
    max_entries: usize,
    forgotten: u64,
}

impl Lineage {
    pub fn new(max_entries: usize) -> Self {
        Lineage {
            by_pid: HashMap::new(),
            order: VecDeque::new(),
            max_entries: max_entries.max(1),
            forgotten: 0,
        }
    }

    /// Adopts the processes /proc showed at start; the `--tree` roots and everything below
    /// them (by /proc's parent links) are in the tree. A root not among them is an error.
    pub fn seed(&mut self, procs: &[SeedEntry], criteria: &Criteria) -> Result<(), SeedError> {
        let in_tree = descendants(procs, &criteria.trees)?;
        for p in procs {
            let known = Known {
                in_tree: in_tree.contains(&p.pid),
                exe_match: p.exe.as_deref().map(|e| criteria.exe_matches(e)),
                uid: Some(p.uid),
            };
            self.insert(p.pid, p.proc_id, known);
        }
        Ok(())
    }

    /// Updates the process of `s` from its record and returns what is known of it now. A
    /// fork's child inherits its parent's tree and executable; an exec sets the executable.
    pub fn observe(&mut self, s: &Subject<'_>, criteria: &Criteria) -> Known {
        let Some(proc_id) = s.proc_id else {
            // A reap of a process never seen: nothing is known of it.
            return Known::default();
        };
        let mut known = match self.by_pid.get(&s.pid) {
            Some(e) if e.proc_id == proc_id && s.ty != RecordType::Fork => e.known,
            // First seen (fork, or a process whose fork was lost): by descent from its
            // parent, the one the record names.
            _ => self.inherited(s.ppid),
        };
        if let Some(filename) = s.filename {
            known.exe_match = Some(criteria.exe_matches(filename));
        }
        known.uid = s.uid.or(known.uid);
        if s.ty == RecordType::Reap {
            self.forget(s.pid, proc_id);
        } else {
            self.insert(s.pid, proc_id, known);
        }
        known
    }

    /// Processes forgotten because the table was full.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    fn inherited(&self, ppid: u32) -> Known {
        let parent = self.by_pid.get(&ppid).map(|e| e.known).unwrap_or_default();
        Known {
            in_tree: parent.in_tree,
            exe_match: parent.exe_match,
            uid: None,
        }
    }

    fn forget(&mut self, pid: u32, proc_id: ProcId) {
        if self.by_pid.get(&pid).is_some_and(|e| e.proc_id == proc_id) {
            self.by_pid.remove(&pid);
        }
    }

    fn insert(&mut self, pid: u32, proc_id: ProcId, known: Known) {
        let entry = Entry { proc_id, known };
        if let Some(old) = self.by_pid.insert(pid, entry) {
            if old.proc_id == proc_id {
                return;
            }
        }
        while self.by_pid.len() > self.max_entries {
            self.forget_oldest();
        }
        // Swept before the push, so the queue never outgrows twice the table.
        if self.order.len() >= 2 * self.max_entries {
            let by_pid = &self.by_pid;
            self.order
                .retain(|(pid, id)| by_pid.get(pid).is_some_and(|e| e.proc_id == *id));
        }
        self.order.push_back((pid, proc_id));
    }

    fn forget_oldest(&mut self) {
        while let Some((pid, proc_id)) = self.order.pop_front() {
            if self.by_pid.get(&pid).is_some_and(|e| e.proc_id == proc_id) {
                self.by_pid.remove(&pid);
                self.forgotten += 1;
                return;
            }
        }
    }
}

/// The pids of `roots` and of every process below them in `procs` (by `ppid`).
fn descendants(
    procs: &[SeedEntry],
    roots: &[u32],
) -> Result<std::collections::HashSet<u32>, SeedError> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found = std::collections::HashSet::new();
    for &root in roots {
        if !procs.iter().any(|p| p.pid == root) {
            return Err(SeedError::TreeRootGone(root));
        }
        let mut todo = vec![root];
        while let Some(pid) = todo.pop() {
            // `insert` is false for a pid already walked: no loop even if /proc changed
            // under the read.
            if found.insert(pid) {
                todo.extend(children.get(&pid).into_iter().flatten().copied());
            }
        }
    }
    Ok(found)
}
