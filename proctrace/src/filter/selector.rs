//! The per-record decision: what the filter flags ask for ([`Criteria`]), what a record says
//! of its process ([`Subject`]), and whether the record is kept, given what is remembered of
//! that process ([`Known`], lineage.rs). Pure: no I/O.
use std::{collections::HashSet, sync::Arc};

use crate::output::record::{ProcId, Record, RecordType, Where};

use super::{glob::Glob, lineage::Known};

/// Every filter flag's values. Within one flag any value matches (OR); a record must match
/// every flag given (AND). An empty list is a flag not given.
#[derive(Clone, Debug, Default)]
pub struct Criteria {
    pub pids: HashSet<u32>,
    pub trees: Vec<u32>,
    pub comms: Vec<Glob>,
    pub exes: Vec<Glob>,
    pub uids: HashSet<u32>,
    pub cgroups: Vec<CgroupPrefix>,
    pub containers: Vec<Arc<str>>,
    pub types: HashSet<RecordType>,
}

impl Criteria {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
            && self.trees.is_empty()
            && self.comms.is_empty()
            && self.exes.is_empty()
            && self.uids.is_empty()
            && self.cgroups.is_empty()
            && self.containers.is_empty()
            && self.types.is_empty()
    }

    /// Whether a process's attributes must be remembered between its records: its tree, its
    /// executable and its uid are not on all of them (a `reap` carries neither filename nor
    /// uid; no record says which tree it is in).
    pub fn needs_lineage(&self) -> bool {
        !self.trees.is_empty() || !self.exes.is_empty() || !self.uids.is_empty()
    }

    /// `--exe`, for an exec's filename (kept per process by lineage.rs).
    pub fn exe_matches(&self, filename: &str) -> bool {
        self.exes.iter().any(|g| g.matches(filename))
    }

    /// Whether a record about `s`, whose process is `known` as of this record, is written.
    pub fn keeps(&self, s: &Subject<'_>, known: &Known) -> bool {
        let any = |empty: bool, hit: &dyn Fn() -> bool| empty || hit();
        any(self.types.is_empty(), &|| self.types.contains(&s.ty))
            && any(self.pids.is_empty(), &|| self.pids.contains(&s.pid))
            && any(self.trees.is_empty(), &|| known.in_tree)
            && any(self.comms.is_empty(), &|| {
                self.comms.iter().any(|g| g.matches(s.comm))
            })
            && any(self.exes.is_empty(), &|| known.exe_match == Some(true))
            && any(self.uids.is_empty(), &|| {
                s.uid.or(known.uid).is_some_and(|u| self.uids.contains(&u))
            })
            && any(self.cgroups.is_empty(), &|| {
                let path = s.place.cgroup.as_deref();
                path.is_some_and(|p| self.cgroups.iter().any(|c| c.contains(p)))
            })
            && any(self.containers.is_empty(), &|| {
                let id = s.place.container_id.as_deref();
                id.is_some_and(|id| self.containers.iter().any(|c| id.starts_with(&**c)))
            })
    }
}

/// `--cgroup`: a cgroup path and everything below it, by whole components (`/a/b` holds
/// `/a/b` and `/a/b/c`, not `/a/bc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupPrefix(String);

impl CgroupPrefix {
    /// An absolute path without empty, `.` or `..` components (cgroup paths have none, so
    /// such a prefix could never match); a trailing `/` is dropped, `/` is every cgroup.
    pub fn parse(s: &str) -> Option<CgroupPrefix> {
        let rest = s.strip_prefix('/')?.trim_end_matches('/');
        if !rest.is_empty() && rest.split('/').any(|c| matches!(c, "" | "." | "..")) {
            return None;
        }
        Some(CgroupPrefix(format!("/{rest}")))
    }

    pub fn contains(&self, path: &str) -> bool {
        if self.0 == "/" {
            return path.starts_with('/');
        }
        path.strip_prefix(self.0.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// What one record says of the process it is about. `None` for `start`, `lost`, `proc_check`
/// and `summary`: they are about no process, and always written.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub ty: RecordType,
    pub pid: u32,
    pub ppid: u32,
    /// `None` on a `reap` of a process never seen before.
    pub proc_id: Option<ProcId>,
    pub comm: &'a str,
    /// `zombie` and `reap` records carry none: lineage.rs remembers it.
    pub uid: Option<u32>,
    /// `exec` records only.
    pub filename: Option<&'a str>,
    pub place: &'a Where,
}

impl<'a> Subject<'a> {
    pub fn of(record: &'a Record) -> Option<Subject<'a>> {
        let ty = record.record_type();
        let s = match record {
            Record::Fork(r) => Subject {
                ty,
                pid: r.pid,
                ppid: r.ppid,
                proc_id: Some(r.proc_id),
                comm: &r.comm,
                uid: Some(r.uid),
                filename: None,
                place: &r.place,
            },
            Record::Exec(r) => Subject {
                ty,
                pid: r.pid,
                ppid: r.ppid,
                proc_id: Some(r.proc_id),
                comm: &r.comm,
                uid: Some(r.uid),
                filename: Some(&r.filename),
                place: &r.place,
            },
            Record::Exit(r) => Subject {
                ty,
                pid: r.pid,
                ppid: r.ppid,
                proc_id: Some(r.proc_id),
                comm: &r.comm,
                uid: Some(r.uid),
                filename: None,
                place: &r.place,
            },
            Record::Zombie(r) => Subject {
                ty,
                pid: r.pid,
                ppid: r.ppid,
                proc_id: Some(r.proc_id),
                comm: &r.comm,
                uid: None,
                filename: None,
                place: &r.place,
            },
            Record::Reap(r) => Subject {
                ty,
                pid: r.pid,
                ppid: r.ppid,
                proc_id: r.proc_id,
                comm: &r.comm,
                uid: None,
                filename: None,
                place: &r.place,
            },
            Record::Start(_) | Record::Lost(_) | Record::ProcCheck(_) | Record::Summary(_) => {
                return None
            }
        };
        Some(s)
    }
}
