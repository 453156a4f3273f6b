//! Kernel events after decoding: the lifecycle engine's input.
//!
//! `pid`/`ppid` are always thread-group ids; `tid` is a thread id. Times are kernel boot-time
//! nanoseconds (CLOCK_BOOTTIME), the clock of `task->start_boottime`.

use std::sync::Arc;

use crate::output::record::Usage;

/// Where a process lives (README "Containers and namespaces"): what the kernel sent, and the
/// cgroup path and container the pipeline resolved the cgroup id to (cgroup/resolve.rs)
/// before the engine sees the event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// kernfs ids of the task's cgroups: on the default (v2) hierarchy and on the v1
    /// hierarchy chosen at start; 0 when unknown or not asked for.
    pub cgroup_ids: CgroupIds,
    pub cgroup: Option<Arc<str>>,
    pub container_id: Option<Arc<str>>,
    /// Inode number of the process's pid namespace.
    pub pidns: Option<u32>,
    /// Its pid in that namespace.
    pub nspid: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupIds {
    pub v2: u64,
    pub v1: u64,
}

impl Place {
    /// The record fields (output/record.rs `Where`).
    pub fn fields(&self) -> crate::output::record::Where {
        crate::output::record::Where {
            cgroup: self.cgroup.clone(),
            container_id: self.container_id.clone(),
            pidns: self.pidns,
            nspid: self.nspid,
        }
    }

    /// Fields this place does not know taken from `older` (a fork record in classic mode has
    /// no namespace pid; an id that could not be resolved keeps the path known for that same
    /// id, never the path of another cgroup).
    pub fn or(self, older: &Place) -> Place {
        let (cgroup, container_id) = if self.cgroup.is_some() || self.cgroup_ids != older.cgroup_ids
        {
            (self.cgroup, self.container_id)
        } else {
            (older.cgroup.clone(), older.container_id.clone())
        };
        Place {
            cgroup_ids: self.cgroup_ids,
            cgroup,
            container_id,
            pidns: self.pidns.or(older.pidns),
            nspid: self.nspid.or(older.nspid),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvent {
    Fork(Fork),
    Exec(Exec),
    Exit(Exit),
    Wait(Wait),
    Free(Free),
    FreeWaits(FreeWaits),
    Release(Release),
}

impl KernelEvent {
    pub fn ktime_ns(&self) -> u64 {
        match self {
            KernelEvent::Fork(e) => e.ktime_ns,
            KernelEvent::Exec(e) => e.ktime_ns,
            KernelEvent::Exit(e) => e.ktime_ns,
            KernelEvent::Wait(e) => e.ktime_ns,
            KernelEvent::Free(e) => e.ktime_ns,
            KernelEvent::FreeWaits(e) => e.ktime_ns,
            KernelEvent::Release(e) => e.ktime_ns,
        }
    }

    /// Where the process lives, for the events that carry it.
    pub fn place_mut(&mut self) -> Option<&mut Place> {
        match self {
            KernelEvent::Fork(e) => Some(&mut e.place),
            KernelEvent::Exec(e) => Some(&mut e.place),
            KernelEvent::Exit(e) => Some(&mut e.place),
            KernelEvent::Wait(_)
            | KernelEvent::Free(_)
            | KernelEvent::FreeWaits(_)
            | KernelEvent::Release(_) => None,
        }
    }
}

/// A new process (never a thread: the kernel side drops CLONE_THREAD children).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    pub ktime_ns: u64,
    pub pid: u32,
    /// Tgid of the child's `real_parent` (differs from the caller with CLONE_PARENT).
    pub ppid: u32,
    /// Thread id of the thread that called fork/clone.
    pub parent_tid: u32,
    pub uid: u32,
    /// `start_boottime` of the child (or the fork time when `start_approx`).
    pub start_ns: u64,
    pub start_approx: bool,
    /// `start_boottime` of the parent process (its group leader).
    pub parent_start_ns: u64,
    pub comm: String,
    pub place: Place,
}

/// A successful exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    pub ktime_ns: u64,
    pub pid: u32,
    /// Thread id that called exec; differs from `pid` when a non-leader thread exec'd.
    pub old_pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// Effective uid of the new image; `None` when the kernel read failed.
    pub euid: Option<u32>,
    /// `signal->maxrss` in bytes right after the exec: the replaced images' peak.
    pub maxrss_bytes: Option<u64>,
    /// `start_boottime` of the process (unchanged by exec).
    pub start_ns: u64,
    /// comm of the new image.
    pub comm: String,
    pub filename: String,
    pub argv: Vec<String>,
    pub argv_truncated: bool,
    pub argv_read_failed: bool,
    pub filename_truncated: bool,
    pub place: Place,
}

/// How a process ended, decoded from the wait status the parent will see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// WEXITSTATUS, or None when a signal killed it.
    pub code: Option<i32>,
    /// WTERMSIG, or None for a normal exit.
    pub signal: Option<i32>,
    pub core_dumped: bool,
}

impl ExitStatus {
    /// Decode a raw wait status (include/uapi/linux/wait.h encoding, as built by
    /// kernel/exit.c `do_exit`/`do_group_exit`: `(code & 0xff) << 8` or `signo | 0x80`).
    pub fn from_raw(status: u32) -> Self {
        let sig = (status & 0x7f) as i32;
        if sig == 0 {
            ExitStatus {
                code: Some(((status >> 8) & 0xff) as i32),
                signal: None,
                core_dumped: false,
            }
        } else {
            ExitStatus {
                code: None,
                signal: Some(sig),
                core_dumped: status & 0x80 != 0,
            }
        }
    }
}

/// The last thread of a process is gone (`group_dead`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub ktime_ns: u64,
    pub pid: u32,
    /// The thread whose exit ended the group.
    pub tid: u32,
    /// Parent at exit time: after a reparenting, the new parent.
    pub ppid: u32,
    pub uid: u32,
    pub start_ns: u64,
    pub comm: String,
    pub status: ExitStatus,
    /// Parent ignores SIGCHLD / SA_NOCLDWAIT: released at once, no zombie period.
    pub autoreap: bool,
    /// exit_signal is not SIGCHLD.
    pub non_sigchld: bool,
    /// A thread of the parent's group was blocked in a wait call (woken by this exit).
    pub parent_waiting: bool,
    /// What it used, `None` when the kernel gave no figure at all. Boxed: the largest part of
    /// the event, and every event is moved through the pipeline.
    pub usage: Option<Box<ExitUsage>>,
    pub place: Place,
}

/// The usage figures of an exit, the ones that need the engine kept apart: the CPU split
/// (cputime_adjust) and the peak of the last image (which depends on the process's execs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitUsage {
    pub cpu: Option<CpuTimes>,
    /// `signal->maxrss` in bytes: every image's peak.
    pub maxrss_bytes: Option<u64>,
    /// The last image's own peak, read from its mm (6.16+).
    pub mm_hiwater_bytes: Option<u64>,
    /// Everything else, final; `cpu_*` and `max_rss_bytes` still `None`.
    pub rest: Usage,
}

/// The kernel's CPU figures for a process (see proctrace_common::Usage), ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub runtime: u64,
    pub utime: u64,
    pub stime: u64,
    /// signal->prev_cputime, `None` when the kernel has none.
    pub prev: Option<(u64, u64)>,
}

/// A wait-family syscall returned `reaped` in the context of `reaper` (a tgid).
/// Not every such return is a reap (stopped/continued children are reported too): the engine
/// only treats it as one when `reaped` is a zombie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub ktime_ns: u64,
    pub reaper: u32,
    pub reaper_tid: u32,
    pub reaped: u32,
    /// Raw wait status if it could be read.
    pub status: Option<u32>,
    /// The waiter is in a child pid namespace: `reaped` is a pid of that namespace, not a
    /// global one, and names nothing we track.
    pub ns_local: bool,
}

/// `sched_process_free` of a thread-group leader: released (fires an RCU grace period after
/// `release_task()`, so the time is late by milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Free {
    pub ktime_ns: u64,
    pub pid: u32,
    pub start_ns: u64,
}

/// `sched_process_free` of a process with the reaper and its latest wait calls
/// (`--reap-timing bounded`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeWaits {
    pub ktime_ns: u64,
    pub pid: u32,
    pub start_ns: u64,
    /// The task's real parent at its release: the process whose wait released it.
    pub reaper: u32,
    /// The reaper's latest wait calls, oldest first (fewer when it made fewer, none when
    /// proctrace noted none).
    pub calls: Vec<WaitCallSeen>,
}

/// One wait-family call of a reaper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitCallSeen {
    pub ktime_ns: u64,
    pub tid: u32,
    /// The pid waited for (global numbering), 0 for any child.
    pub target: u32,
}

/// `release_task()` of a process (fentry/kprobe): the reap itself, exactly timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub ktime_ns: u64,
    pub pid: u32,
    /// Parent at release time.
    pub ppid: u32,
    pub start_ns: u64,
    /// Tgid of the task that called release_task().
    pub releaser: u32,
    /// The releaser was exiting itself: released by exit_notify() without a waiter (autoreap);
    /// otherwise a waiter collected it.
    pub releaser_exiting: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_decodes_normal_signal_and_core() {
        assert_eq!(
            ExitStatus::from_raw(7 << 8),
            ExitStatus {
                code: Some(7),
                signal: None,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_raw(0),
            ExitStatus {
                code: Some(0),
                signal: None,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_raw(9),
            ExitStatus {
                code: None,
                signal: Some(9),
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_raw(11 | 0x80),
            ExitStatus {
                code: None,
                signal: Some(11),
                core_dumped: true
            }
        );
        assert_eq!(
            ExitStatus::from_raw(255 << 8),
            ExitStatus {
                code: Some(255),
                signal: None,
                core_dumped: false
            }
        );
    }
}
