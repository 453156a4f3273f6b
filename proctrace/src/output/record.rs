//! Output records: the public JSON contract (one object per line on stdout).
//!
//! Every record starts with `type`, `time` (RFC 3339 UTC, nanoseconds) and `ktime_ns` (kernel
//! boot-time ns of the event), in that order; the other keys follow in declaration order. Field
//! names and types are stable: `Option` fields are always present, as `null` when unknown.
//! Process records carry `pid`, `ppid`, `comm` and `proc_id` (see [`ProcId`]).

use std::{fmt::Write as _, sync::Arc};

use serde::Serialize;

pub use crate::output::diagnosis::{ContainerZombies, Diagnosis, ParentZombies};
use crate::output::stack_str::StackStr;
pub use crate::output::timefmt::{Clock, WallTime};

/// The identity of one process across pid reuse, written `"{pid}-{start_ns}"`, where
/// `start_ns` is the kernel's `start_boottime` of the process (ns since boot). Every record of
/// one process carries the same value; a later process that gets the same pid has a different
/// one. `Copy`: records take it by value, and it is only formatted when written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcId {
    pid: u32,
    start_ns: u64,
}

impl ProcId {
    pub const fn new(pid: u32, start_ns: u64) -> Self {
        ProcId { pid, start_ns }
    }
}

impl std::fmt::Display for ProcId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.pid, self.start_ns)
    }
}

impl Serialize for ProcId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As `Display` writes it, through itoa on the stack (see `StackStr`): every process
        // record carries one or two.
        let (mut pid, mut start) = (itoa::Buffer::new(), itoa::Buffer::new());
        // 10 digits of u32, '-', 20 digits of u64.
        let mut text = StackStr::<32>::new();
        for piece in [pid.format(self.pid), "-", start.format(self.start_ns)] {
            text.write_str(piece).map_err(serde::ser::Error::custom)?;
        }
        s.serialize_str(text.as_str())
    }
}

/// Tests compare with the written form.
#[cfg(test)]
impl PartialEq<&str> for ProcId {
    fn eq(&self, other: &&str) -> bool {
        let parse = |(pid, start): (&str, &str)| Some((pid.parse().ok()?, start.parse().ok()?));
        other.split_once('-').and_then(parse) == Some((self.pid, self.start_ns))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Start(StartRecord),
    Fork(ForkRecord),
    Exec(ExecRecord),
    Exit(ExitRecord),
    Lost(LostRecord),
    Zombie(ZombieRecord),
    Reap(ReapRecord),
    ProcCheck(ProcCheckRecord),
    Summary(SummaryRecord),
}

/// The value of a record's `type` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    Start,
    Fork,
    Exec,
    Exit,
    Lost,
    Zombie,
    Reap,
    ProcCheck,
    Summary,
}

impl RecordType {
    /// The `type` field's value (the schema tests compare it with the README).
    #[cfg(test)]
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordType::Start => "start",
            RecordType::Fork => "fork",
            RecordType::Exec => "exec",
            RecordType::Exit => "exit",
            RecordType::Lost => "lost",
            RecordType::Zombie => "zombie",
            RecordType::Reap => "reap",
            RecordType::ProcCheck => "proc_check",
            RecordType::Summary => "summary",
        }
    }
}

impl Record {
    pub fn record_type(&self) -> RecordType {
        match self {
            Record::Start(_) => RecordType::Start,
            Record::Fork(_) => RecordType::Fork,
            Record::Exec(_) => RecordType::Exec,
            Record::Exit(_) => RecordType::Exit,
            Record::Lost(_) => RecordType::Lost,
            Record::Zombie(_) => RecordType::Zombie,
            Record::Reap(_) => RecordType::Reap,
            Record::ProcCheck(_) => RecordType::ProcCheck,
            Record::Summary(_) => RecordType::Summary,
        }
    }

    pub fn ktime_ns(&self) -> u64 {
        match self {
            Record::Start(r) => r.ktime_ns,
            Record::Fork(r) => r.ktime_ns,
            Record::Exec(r) => r.ktime_ns,
            Record::Exit(r) => r.ktime_ns,
            Record::Lost(r) => r.ktime_ns,
            Record::Zombie(r) => r.ktime_ns,
            Record::Reap(r) => r.ktime_ns,
            Record::ProcCheck(r) => r.ktime_ns,
            Record::Summary(r) => r.ktime_ns,
        }
    }
}

/// The kernel hook used for each lifecycle step, `null` when that step is not traced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hooks {
    pub fork: Option<String>,
    pub exec: Option<String>,
    pub exit: Option<String>,
    pub reap: Option<String>,
    /// What notes each process's wait-family calls for the zombie diagnosis
    /// (`parent_last_wait_ns`); it makes no record of its own.
    pub wait: Option<String>,
}

/// Emitted once by the daemon after the programs are attached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StartRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub version: String,
    pub hooks: Hooks,
    /// Output fields this kernel cannot measure (e.g. `lost.causes.recursion` before Linux
    /// 5.12): they stay 0 there, and this says it is not a measured 0. Empty on most kernels.
    pub unsupported: Vec<String>,
    pub ring_buffer_bytes: u64,
    /// How the reaps' moments are found (README "Reap timing").
    pub reap_timing: ReapTimingName,
    /// Processes found in /proc at start-up (alive and zombie), tracked from the start.
    pub seeded_processes: u64,
    /// Of those, zombies (each gets a `zombie` record with `source: "procfs"` after `start`).
    pub seeded_zombies: u64,
    /// The hierarchy the records' `cgroup` paths are in; `null` when no cgroup filesystem
    /// is mounted.
    pub cgroup_hierarchy: Option<CgroupHierarchy>,
}

/// `start.reap_timing`: whether the `reap` records' times are the reaps' own moments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReapTimingName {
    /// release_task() hooked, or the wait syscall tracepoints.
    Exact,
    /// Placed from the reaper's wait calls at the task's release (engine/bounded.rs).
    Bounded,
}

/// `start.cgroup_hierarchy` (README "Containers and namespaces").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CgroupHierarchy {
    /// 1 or 2.
    pub version: u8,
    /// The v1 controller, `null` for cgroup v2.
    pub controller: Option<String>,
    /// Where it is mounted.
    pub mount: String,
}

impl StartRecord {
    pub fn new(
        clock: &Clock,
        ktime_ns: u64,
        version: impl Into<String>,
        hooks: Hooks,
        unsupported: Vec<String>,
        ring_buffer_bytes: u64,
    ) -> Self {
        StartRecord {
            time: clock.wall(ktime_ns),
            ktime_ns,
            version: version.into(),
            unsupported,
            hooks,
            ring_buffer_bytes,
            reap_timing: ReapTimingName::Exact,
            seeded_processes: 0,
            seeded_zombies: 0,
            cgroup_hierarchy: None,
        }
    }
}

impl From<StartRecord> for Record {
    fn from(r: StartRecord) -> Self {
        Record::Start(r)
    }
}

/// Where a process lives (README "Containers and namespaces"), on every record about one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Where {
    /// Its cgroup path in the reported hierarchy (`start.cgroup_hierarchy`).
    pub cgroup: Option<Arc<str>>,
    /// The container that cgroup belongs to (cgroup/container_id.rs), `null` on the host.
    pub container_id: Option<Arc<str>>,
    /// Inode number of its pid namespace.
    pub pidns: Option<u32>,
    /// Its pid in that namespace.
    pub nspid: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForkRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub proc_id: ProcId,
    /// `null` when the parent's start time is unknown.
    pub parent_proc_id: Option<ProcId>,
    pub uid: u32,
    #[serde(flatten)]
    pub place: Where,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub pid: u32,
    pub ppid: u32,
    /// comm of the new image.
    pub comm: String,
    pub proc_id: ProcId,
    pub filename: String,
    pub argv: Vec<String>,
    pub argv_truncated: bool,
    /// Reading argv from the new image's memory failed: `argv` is empty, not known empty.
    pub argv_read_failed: bool,
    /// `filename` was cut to fit the kernel-side buffer (PATH_MAX).
    pub filename_truncated: bool,
    /// argv[0] is missing or empty: the signature of an exec with argc 0 (PwnKit,
    /// CVE-2021-4034). Linux 5.18+ inserts an empty argv[0] for it (fs/exec.c
    /// do_execveat_common()), which a caller passing `[""]` gives too: after the exec the two
    /// cannot be told apart, and both are suspect.
    pub argv0_empty: bool,
    /// Thread id that called exec (differs from `pid` when a non-leader thread exec'd).
    pub old_pid: u32,
    pub uid: u32,
    /// Effective uid of the new image (differs from `uid` after a setuid exec); `null` when
    /// the kernel read failed.
    pub euid: Option<u32>,
    #[serde(flatten)]
    pub place: Where,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExitRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub proc_id: ProcId,
    /// Exit status (0..=255), `null` when a signal killed the process.
    pub exit_code: Option<i32>,
    /// The killing signal, `null` for a normal exit.
    pub signal: Option<i32>,
    pub core_dumped: bool,
    /// `ktime_ns - start_ns`.
    pub lifetime_ns: u64,
    pub uid: u32,
    /// What it used; `null` when the kernel gave none of the figures.
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub place: Where,
}

/// What a process used, as its last thread exited (README "Resource usage"). Every figure is
/// `null` when this kernel lacks it. The `children_*` figures are those of the children it
/// reaped (getrusage(RUSAGE_CHILDREN) at that moment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// CPU time of all its threads, split into user and system as getrusage() does.
    pub cpu_user_ns: Option<u64>,
    pub cpu_system_ns: Option<u64>,
    /// Peak resident set of the program it last ran (its last exec's image, or the forked
    /// copy if it never exec'd); `null` when that cannot be told apart from an earlier image.
    pub max_rss_bytes: Option<u64>,
    /// The kernel's peak, which wait4() and getrusage() report: images replaced by exec
    /// included (fs/exec.c exec_mmap()).
    pub rusage_max_rss_bytes: Option<u64>,
    pub minor_faults: Option<u64>,
    pub major_faults: Option<u64>,
    pub voluntary_ctxt_switches: Option<u64>,
    pub involuntary_ctxt_switches: Option<u64>,
    /// Storage I/O (task I/O accounting), its reaped children's included, as
    /// /proc/<pid>/io counts it.
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    pub children_cpu_user_ns: Option<u64>,
    pub children_cpu_system_ns: Option<u64>,
    pub children_max_rss_bytes: Option<u64>,
    pub children_minor_faults: Option<u64>,
    pub children_major_faults: Option<u64>,
    pub children_voluntary_ctxt_switches: Option<u64>,
    pub children_involuntary_ctxt_switches: Option<u64>,
    /// In 512-byte blocks, as ru_inblock/ru_oublock (kernel/exit.c wait_task_zombie()).
    pub children_read_bytes: Option<u64>,
    pub children_write_bytes: Option<u64>,
    /// False when a thread may be missing from the own figures: it was released while they
    /// were summed, or more than 16 threads were still exiting (not yet released).
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LostRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    /// Events dropped since the previous `lost` record.
    pub count: u64,
    /// The same, by cause.
    pub causes: LostCauses,
}

/// Why events were lost, or came through incomplete. Each is a counter that only grows;
/// `lost` records carry differences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LostCauses {
    /// The ring buffer had no room (`--ring-buffer-size`).
    pub ring_buffer_full: u64,
    /// The kernel skipped one of our programs because another tracing program was running on
    /// the same CPU (see progstats.rs), by the job of the skipped program.
    pub recursion: HookCounts,
    /// A record from the kernel that could not be decoded.
    pub undecodable: u64,
    /// Records proctrace made but dropped because its reader did not keep up: the output
    /// queue (`--output-buffer-size`) was full.
    pub output_queue_full: u64,
    /// Records a program did not send because a kernel read it needed failed, by job; for
    /// `wait`, wait calls not noted (a read failed or the notes map refused the insert).
    pub dropped: HookCounts,
    /// Not events: kernel reads that failed. Each either dropped a record (also counted in
    /// `dropped`) or left a field of a sent record zero or empty.
    pub kernel_read_failed: u64,
    /// Not events: classic-tracepoint forks whose `task_newtask` pairing was missing, so
    /// their clone flags were unknown (the child was taken for a process).
    pub fork_unpaired: u64,
}

/// One count per job of the kernel programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HookCounts {
    pub fork: u64,
    pub exec: u64,
    pub exit: u64,
    pub reap: u64,
    /// Wait-family calls not noted for the zombie diagnosis (no record is missing: the
    /// diagnosis may take the parent for one that did not wait).
    pub wait: u64,
}

impl HookCounts {
    pub fn total(&self) -> u64 {
        [self.fork, self.exec, self.exit, self.reap, self.wait]
            .into_iter()
            .fold(0, u64::saturating_add)
    }

    fn zip(&self, other: &HookCounts, f: impl Fn(u64, u64) -> u64) -> HookCounts {
        HookCounts {
            fork: f(self.fork, other.fork),
            exec: f(self.exec, other.exec),
            exit: f(self.exit, other.exit),
            reap: f(self.reap, other.reap),
            wait: f(self.wait, other.wait),
        }
    }

    /// The counter for `job` (a loader job name), if it is one.
    pub fn get_mut(&mut self, job: &str) -> Option<&mut u64> {
        match job {
            "fork" => Some(&mut self.fork),
            "exec" => Some(&mut self.exec),
            "exit" => Some(&mut self.exit),
            "reap" => Some(&mut self.reap),
            "wait" => Some(&mut self.wait),
            _ => None,
        }
    }
}

impl LostCauses {
    /// Events lost: what `lost.count` reports. `kernel_read_failed` and `fork_unpaired`
    /// count damage to records that were still sent, not lost ones.
    pub fn total(&self) -> u64 {
        self.ring_buffer_full
            .saturating_add(self.recursion.total())
            .saturating_add(self.undecodable)
            .saturating_add(self.output_queue_full)
            .saturating_add(self.dropped.total())
    }

    /// Nothing at all to report.
    pub fn is_empty(&self) -> bool {
        *self == LostCauses::default()
    }

    /// What grew since `earlier`.
    pub fn since(&self, earlier: &LostCauses) -> LostCauses {
        self.zip(earlier, u64::saturating_sub)
    }

    pub fn add(&mut self, other: &LostCauses) {
        *self = self.zip(other, u64::saturating_add);
    }

    fn zip(&self, other: &LostCauses, f: impl Fn(u64, u64) -> u64 + Copy) -> LostCauses {
        LostCauses {
            ring_buffer_full: f(self.ring_buffer_full, other.ring_buffer_full),
            recursion: self.recursion.zip(&other.recursion, f),
            undecodable: f(self.undecodable, other.undecodable),
            output_queue_full: f(self.output_queue_full, other.output_queue_full),
            dropped: self.dropped.zip(&other.dropped, f),
            kernel_read_failed: f(self.kernel_read_failed, other.kernel_read_failed),
            fork_unpaired: f(self.fork_unpaired, other.fork_unpaired),
        }
    }
}

/// Who noticed the zombie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZombieSource {
    /// The trace engine: the exit was seen and no reap followed within the threshold.
    Trace,
    /// A /proc scan: a zombie from before the start, or one whose exit was lost.
    Procfs,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZombieRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub proc_id: ProcId,
    /// Zombie age so far.
    pub zombie_ns: u64,
    /// comm of the current parent, `null` if unknown.
    pub parent_comm: Option<String>,
    pub source: ZombieSource,
    /// How it died, as its parent will see it (for `procfs`: /proc/<pid>/stat `exit_code`);
    /// `null` when unknown.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub core_dumped: bool,
    /// Its parent now is not the one it was forked from (or first seen with).
    pub reparented: bool,
    /// The parent's other unreaped zombie children, as tracked.
    pub siblings_unreaped: u32,
    /// Why it is not reaped; made at the edge (session), where /proc is read.
    pub diagnosis: Option<Diagnosis>,
    #[serde(flatten)]
    pub place: Where,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReapHow {
    /// A wait-family syscall of the reaper collected it.
    Wait,
    /// Released at exit: the parent ignores SIGCHLD or set SA_NOCLDWAIT; no zombie period.
    Autoreap,
    /// Released without a wait seen by us (e.g. waited for from another pid namespace):
    /// `sched_process_free`, so the time is late by an RCU grace period.
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZombieClass {
    /// Zombie for less than the threshold.
    Transient,
    /// Zombie for the threshold or longer.
    LongLived,
}

impl ZombieClass {
    pub fn of(zombie_ns: u64, threshold_ns: u64) -> Self {
        if zombie_ns >= threshold_ns {
            ZombieClass::LongLived
        } else {
            ZombieClass::Transient
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReapRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub pid: u32,
    /// Parent at reap time (the reaper for `wait`).
    pub ppid: u32,
    /// `""` when the process was never seen before its reap.
    pub comm: String,
    /// `null` only when the process was never seen before its reap (start time unknown).
    pub proc_id: Option<ProcId>,
    /// Tgid that collected it; `null` for `autoreap` and `release`.
    pub reaper: Option<u32>,
    pub how: ReapHow,
    /// Time from the exit (group_dead) to the reap; `null` when the exit was not seen.
    pub zombie_ns: Option<u64>,
    /// `null` exactly when `zombie_ns` is `null`.
    pub zombie_class: Option<ZombieClass>,
    /// `null`: `time` is the reap's own moment. Otherwise `time` is placed from the reaper's
    /// wait calls (`--reap-timing bounded`) and the reap happened no later than `time` plus
    /// this (the kernel's release of the task).
    pub reap_window_ns: Option<u64>,
    /// The reaper (or parent at reap) is not the parent the process was forked from / first
    /// seen with. `false` when the process was never seen before its reap.
    pub reparented: bool,
    #[serde(flatten)]
    pub place: Where,
}

/// Records emitted per type (the summary itself is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub start: u64,
    pub fork: u64,
    pub exec: u64,
    pub exit: u64,
    pub lost: u64,
    pub zombie: u64,
    pub reap: u64,
    pub proc_check: u64,
}

impl Counts {
    pub fn bump(&mut self, t: RecordType) {
        let slot = match t {
            RecordType::Start => &mut self.start,
            RecordType::Fork => &mut self.fork,
            RecordType::Exec => &mut self.exec,
            RecordType::Exit => &mut self.exit,
            RecordType::Lost => &mut self.lost,
            RecordType::Zombie => &mut self.zombie,
            RecordType::Reap => &mut self.reap,
            RecordType::ProcCheck => &mut self.proc_check,
            RecordType::Summary => return,
        };
        *slot += 1;
    }

    #[cfg(test)]
    pub fn get(&self, t: RecordType) -> u64 {
        match t {
            RecordType::Start => self.start,
            RecordType::Fork => self.fork,
            RecordType::Exec => self.exec,
            RecordType::Exit => self.exit,
            RecordType::Lost => self.lost,
            RecordType::Zombie => self.zombie,
            RecordType::Reap => self.reap,
            RecordType::ProcCheck => self.proc_check,
            RecordType::Summary => 0,
        }
    }
}

/// Why a `proc_check` ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckReason {
    /// `--proc-check-interval` elapsed.
    Interval,
    /// Events were lost: checked at once.
    Lost,
}

/// One kind of disagreement between the engine and /proc.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Discrepancies {
    pub count: u64,
    /// Up to [`Discrepancies::MAX_PIDS`] example pids, ascending.
    pub pids: Vec<u32>,
}

impl Discrepancies {
    pub const MAX_PIDS: usize = 20;

    pub fn add(&mut self, pid: u32) {
        self.count += 1;
        if self.pids.len() < Self::MAX_PIDS {
            self.pids.push(pid);
        }
    }
}

/// The engine's live and zombie sets compared with /proc, then healed to /proc's truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcCheckRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub reason: CheckReason,
    /// Processes compared (in /proc or tracked).
    pub checked: u64,
    /// Tracked as alive or zombie, but not in /proc: a missed exit or reap.
    pub missing: Discrepancies,
    /// In /proc, never seen: a missed fork.
    pub unknown: Discrepancies,
    /// In both, but state (zombie or not) or parent disagree.
    pub mismatched: Discrepancies,
    /// Time spent reading /proc.
    pub scan_ns: u64,
}

/// Zombie durations over all reaps with a known `zombie_ns` (`null`s when there were none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ZombieStats {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
    pub count: u64,
}

/// A process still a zombie when the summary was made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unreaped {
    pub pid: u32,
    pub proc_id: ProcId,
    pub comm: String,
    pub ppid: u32,
    pub parent_comm: Option<String>,
    /// Zombie age at summary time.
    pub zombie_ns: u64,
    pub container_id: Option<Arc<str>>,
    pub siblings_unreaped: u32,
    pub reparented: bool,
    /// As on `zombie` records, made at the summary.
    pub diagnosis: Option<Diagnosis>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRecord {
    pub time: WallTime,
    pub ktime_ns: u64,
    pub counts: Counts,
    /// Total events lost.
    pub lost: u64,
    /// The same, by cause.
    pub lost_causes: LostCauses,
    pub zombie_ns: ZombieStats,
    /// Oldest first.
    pub unreaped: Vec<Unreaped>,
    /// Long-lived zombies by parent and by container (at most `--top` each).
    pub zombies_by_parent: Vec<ParentZombies>,
    pub zombies_by_container: Vec<ContainerZombies>,
    pub duration_ns: u64,
    /// The largest consumers among the processes that ended while traced (`--top`).
    pub top: TopConsumers,
}

/// The summary's `top` (README "Resource usage").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TopConsumers {
    /// By `cpu_ns`, largest first; at most `--top` entries.
    pub by_cpu: Vec<Consumer>,
    /// By `max_rss_bytes`, largest first; at most `--top` entries.
    pub by_memory: Vec<Consumer>,
    /// Distinct (`comm`, `filename`) groups seen.
    pub groups: u64,
    /// Ended processes not grouped because 10,000 groups were already kept.
    pub ungrouped_processes: u64,
}

/// The processes that ran one program: same `comm`, same exec'd path (`null`: not exec'd
/// while traced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Consumer {
    pub comm: String,
    pub filename: Option<String>,
    /// How many of them ended.
    pub processes: u64,
    /// Their CPU time, user and system, summed.
    pub cpu_ns: u64,
    /// The largest `usage.max_rss_bytes` among them.
    pub max_rss_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::diagnosis::{ParentRole, Sigchld, Verdict, ZombieTally};
    use serde_json::Value;

    const CLOCK: Clock = Clock::from_offset_ns(1_795_702_554_000_000_000 - 5_000_000_000);

    /// The keys of a JSON object in document order (serde_json's `Map` sorts them).
    fn keys_in_order(json: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some((k, _)) =
                            map.next_entry::<String, serde::de::IgnoredAny>()?
                        {
                            keys.push(k);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(V)
            }
        }
        serde_json::from_str::<Keys>(json).expect("a JSON object").0
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum T {
        Str,
        U64,
        I64,
        Bool,
        Null,
        Arr,
        Obj,
    }

    fn ty(v: &Value) -> T {
        match v {
            Value::String(_) => T::Str,
            Value::Number(n) if n.is_u64() => T::U64,
            Value::Number(_) => T::I64,
            Value::Bool(_) => T::Bool,
            Value::Null => T::Null,
            Value::Array(_) => T::Arr,
            Value::Object(_) => T::Obj,
        }
    }

    /// Asserts the exact key order and the JSON type of every value.
    fn assert_schema(json: &str, expected: &[(&str, T)]) {
        let keys = keys_in_order(json);
        let want: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, want, "key order of {json}");
        let v: Value = serde_json::from_str(json).expect("valid JSON");
        for (k, t) in expected {
            assert_eq!(ty(&v[*k]), *t, "type of {k} in {json}");
        }
    }

    /// A process in a container, with every place field known.
    fn place() -> Where {
        Where {
            cgroup: Some(Arc::from("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope")),
            container_id: Some(Arc::from("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")),
            pidns: Some(4_026_532_174),
            nspid: Some(7),
        }
    }

    fn diagnosis() -> Diagnosis {
        Diagnosis {
            verdict: Verdict::ParentBlocksSigchld,
            parent_state: Some("S".into()),
            parent_wchan: Some("hrtimer_nanosleep".into()),
            sigchld: Some(Sigchld::Handled),
            sigchld_blocked: Some(true),
            parent_last_wait_ns: Some(3),
            parent_role: Some(ParentRole::Parent),
        }
    }

    fn one_of_each() -> Vec<Record> {
        let t = CLOCK.wall(5_123_456_789);
        let k = 5_123_456_789;
        let mut start = StartRecord::new(
            &CLOCK,
            k,
            "0.1.0",
            Hooks {
                fork: Some("tracepoint/sched/sched_process_fork".into()),
                exec: Some("tracepoint/sched/sched_process_exec".into()),
                exit: Some("tracepoint/sched/sched_process_exit".into()),
                reap: None,
                wait: Some("tracepoint/sched/sched_process_wait".into()),
            },
            vec!["lost.causes.recursion".into()],
            8 << 20,
        );
        start.cgroup_hierarchy = Some(CgroupHierarchy {
            version: 1,
            controller: Some("pids".into()),
            mount: "/sys/fs/cgroup/pids".into(),
        });
        vec![
            start.into(),
            Record::Fork(ForkRecord {
                time: t,
                ktime_ns: k,
                pid: 100,
                ppid: 1,
                comm: "bash".into(),
                proc_id: ProcId::new(100, 42),
                parent_proc_id: None,
                uid: 1000,
                place: place(),
            }),
            Record::Exec(ExecRecord {
                time: t,
                ktime_ns: k,
                pid: 100,
                ppid: 1,
                comm: "ls".into(),
                proc_id: ProcId::new(100, 42),
                filename: "/bin/ls".into(),
                argv: vec!["ls".into(), "-l".into()],
                argv_truncated: false,
                argv_read_failed: false,
                filename_truncated: false,
                argv0_empty: false,
                old_pid: 100,
                uid: 1000,
                euid: Some(0),
                place: place(),
            }),
            Record::Exit(ExitRecord {
                time: t,
                ktime_ns: k,
                pid: 100,
                ppid: 1,
                comm: "ls".into(),
                proc_id: ProcId::new(100, 42),
                exit_code: None,
                signal: Some(9),
                core_dumped: false,
                lifetime_ns: 5,
                uid: 1000,
                usage: Some(Usage {
                    cpu_user_ns: Some(1),
                    max_rss_bytes: Some(4096),
                    ..Usage::default()
                }),
                place: place(),
            }),
            Record::Lost(LostRecord {
                time: t,
                ktime_ns: k,
                count: 5,
                causes: LostCauses {
                    ring_buffer_full: 1,
                    recursion: HookCounts {
                        reap: 1,
                        ..HookCounts::default()
                    },
                    undecodable: 1,
                    output_queue_full: 1,
                    dropped: HookCounts {
                        exec: 1,
                        ..HookCounts::default()
                    },
                    kernel_read_failed: 1,
                    fork_unpaired: 1,
                },
            }),
            Record::Zombie(ZombieRecord {
                time: t,
                ktime_ns: k,
                pid: 100,
                ppid: 1,
                comm: "ls".into(),
                proc_id: ProcId::new(100, 42),
                zombie_ns: 2_000_000_000,
                parent_comm: Some("init".into()),
                source: ZombieSource::Trace,
                exit_code: Some(0),
                signal: None,
                core_dumped: false,
                reparented: false,
                siblings_unreaped: 2,
                diagnosis: Some(diagnosis()),
                place: place(),
            }),
            Record::Reap(ReapRecord {
                time: t,
                ktime_ns: k,
                pid: 100,
                ppid: 1,
                comm: "ls".into(),
                proc_id: Some(ProcId::new(100, 42)),
                reaper: Some(1),
                how: ReapHow::Wait,
                zombie_ns: Some(2_500_000_000),
                zombie_class: Some(ZombieClass::LongLived),
                reap_window_ns: Some(1_500_000),
                reparented: true,
                place: place(),
            }),
            Record::ProcCheck(ProcCheckRecord {
                time: t,
                ktime_ns: k,
                reason: CheckReason::Interval,
                checked: 120,
                missing: Discrepancies {
                    count: 1,
                    pids: vec![42],
                },
                unknown: Discrepancies::default(),
                mismatched: Discrepancies::default(),
                scan_ns: 1_000_000,
            }),
            Record::Summary(SummaryRecord {
                time: t,
                ktime_ns: k,
                counts: Counts {
                    start: 1,
                    fork: 1,
                    exec: 1,
                    exit: 1,
                    lost: 1,
                    zombie: 1,
                    reap: 1,
                    proc_check: 1,
                },
                lost: 3,
                lost_causes: LostCauses {
                    ring_buffer_full: 1,
                    recursion: HookCounts {
                        reap: 1,
                        ..HookCounts::default()
                    },
                    undecodable: 1,
                    ..LostCauses::default()
                },
                zombie_ns: ZombieStats {
                    p50: Some(1),
                    p99: Some(2),
                    max: Some(3),
                    count: 4,
                },
                unreaped: vec![Unreaped {
                    pid: 7,
                    proc_id: ProcId::new(7, 8),
                    comm: "z".into(),
                    ppid: 1,
                    parent_comm: None,
                    zombie_ns: 9,
                    container_id: None,
                    siblings_unreaped: 0,
                    reparented: true,
                    diagnosis: Some(diagnosis()),
                }],
                zombies_by_parent: vec![ParentZombies {
                    ppid: 1,
                    parent_proc_id: Some(ProcId::new(1, 2)),
                    parent_comm: Some("init".into()),
                    tally: ZombieTally {
                        unreaped: 1,
                        long_lived_reaped: 2,
                        max_zombie_ns: 9,
                    },
                }],
                zombies_by_container: vec![ContainerZombies {
                    container_id: None,
                    tally: ZombieTally::default(),
                }],
                duration_ns: 10,
                top: TopConsumers {
                    by_cpu: vec![Consumer {
                        comm: "cc1".into(),
                        filename: Some("/usr/lib/gcc/cc1".into()),
                        processes: 2,
                        cpu_ns: 3,
                        max_rss_bytes: Some(4096),
                    }],
                    ..TopConsumers::default()
                },
            }),
        ]
    }

    /// The public contract: exact keys, their order and their JSON types, for every record type.
    #[test]
    fn json_schema_of_every_record_type() {
        use T::*;
        let head = [("type", Str), ("time", Str), ("ktime_ns", U64)];
        let proc_ = [("pid", U64), ("ppid", U64), ("comm", Str), ("proc_id", Str)];
        let place = [
            ("cgroup", Str),
            ("container_id", Str),
            ("pidns", U64),
            ("nspid", U64),
        ];
        let cat = |parts: &[&[(&'static str, T)]]| -> Vec<(&'static str, T)> {
            parts.iter().flat_map(|p| p.iter().copied()).collect()
        };
        let expected: Vec<(&str, Vec<(&str, T)>)> = vec![
            (
                "start",
                cat(&[
                    &head,
                    &[
                        ("version", Str),
                        ("hooks", Obj),
                        ("unsupported", Arr),
                        ("ring_buffer_bytes", U64),
                        ("reap_timing", Str),
                        ("seeded_processes", U64),
                        ("seeded_zombies", U64),
                        ("cgroup_hierarchy", Obj),
                    ],
                ]),
            ),
            (
                "fork",
                cat(&[
                    &head,
                    &proc_,
                    &[("parent_proc_id", Null), ("uid", U64)],
                    &place,
                ]),
            ),
            (
                "exec",
                cat(&[
                    &head,
                    &proc_,
                    &[
                        ("filename", Str),
                        ("argv", Arr),
                        ("argv_truncated", Bool),
                        ("argv_read_failed", Bool),
                        ("filename_truncated", Bool),
                        ("argv0_empty", Bool),
                        ("old_pid", U64),
                        ("uid", U64),
                        ("euid", U64),
                    ],
                    &place,
                ]),
            ),
            (
                "exit",
                cat(&[
                    &head,
                    &proc_,
                    &[
                        ("exit_code", Null),
                        ("signal", U64),
                        ("core_dumped", Bool),
                        ("lifetime_ns", U64),
                        ("uid", U64),
                        ("usage", Obj),
                    ],
                    &place,
                ]),
            ),
            ("lost", cat(&[&head, &[("count", U64), ("causes", Obj)]])),
            (
                "zombie",
                cat(&[
                    &head,
                    &proc_,
                    &[
                        ("zombie_ns", U64),
                        ("parent_comm", Str),
                        ("source", Str),
                        ("exit_code", U64),
                        ("signal", Null),
                        ("core_dumped", Bool),
                        ("reparented", Bool),
                        ("siblings_unreaped", U64),
                        ("diagnosis", Obj),
                    ],
                    &place,
                ]),
            ),
            (
                "reap",
                cat(&[
                    &head,
                    &proc_,
                    &[
                        ("reaper", U64),
                        ("how", Str),
                        ("zombie_ns", U64),
                        ("zombie_class", Str),
                        ("reap_window_ns", U64),
                        ("reparented", Bool),
                    ],
                    &place,
                ]),
            ),
            (
                "proc_check",
                cat(&[
                    &head,
                    &[
                        ("reason", Str),
                        ("checked", U64),
                        ("missing", Obj),
                        ("unknown", Obj),
                        ("mismatched", Obj),
                        ("scan_ns", U64),
                    ],
                ]),
            ),
            (
                "summary",
                cat(&[
                    &head,
                    &[
                        ("counts", Obj),
                        ("lost", U64),
                        ("lost_causes", Obj),
                        ("zombie_ns", Obj),
                        ("unreaped", Arr),
                        ("zombies_by_parent", Arr),
                        ("zombies_by_container", Arr),
                        ("duration_ns", U64),
                        ("top", Obj),
                    ],
                ]),
            ),
        ];
        let records = one_of_each();
        assert_eq!(records.len(), expected.len());
        for (rec, (name, schema)) in records.iter().zip(&expected) {
            let json = serde_json::to_string(rec).expect("serializable");
            assert_eq!(rec.record_type().as_str(), *name);
            assert_schema(&json, schema);
            let v: Value = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(v["type"], *name);
            assert_eq!(v["time"], "2026-11-26T14:15:54.123456789Z");
            assert_eq!(v["ktime_ns"], 5_123_456_789u64);
        }

        // Nested objects.
        let Record::Start(start) = &records[0] else {
            panic!("start first")
        };
        assert_schema(
            &serde_json::to_string(&start.hooks).expect("serializable"),
            &[
                ("fork", Str),
                ("exec", Str),
                ("exit", Str),
                ("reap", Null),
                ("wait", Str),
            ],
        );
        // What the kernel cannot measure is written beside the hooks.
        let json: Value = serde_json::to_value(&records[0]).expect("serializable");
        assert_eq!(
            json["unsupported"],
            serde_json::json!(["lost.causes.recursion"])
        );
        let Some(Record::Summary(summary)) = records.last() else {
            panic!("summary last")
        };
        let Some(Record::ProcCheck(check)) =
            records.iter().find(|r| matches!(r, Record::ProcCheck(_)))
        else {
            panic!("a proc_check")
        };
        assert_schema(
            &serde_json::to_string(&check.missing).expect("serializable"),
            &[("count", U64), ("pids", Arr)],
        );
        let diagnosis_keys = [
            ("verdict", Str),
            ("parent_state", Str),
            ("parent_wchan", Str),
            ("sigchld", Str),
            ("sigchld_blocked", Bool),
            ("parent_last_wait_ns", U64),
            ("parent_role", Str),
        ];
        assert_schema(
            &serde_json::to_string(&diagnosis()).expect("serializable"),
            &diagnosis_keys,
        );
        assert_schema(
            &serde_json::to_string(&summary.unreaped[0]).expect("serializable"),
            &[
                ("pid", U64),
                ("proc_id", Str),
                ("comm", Str),
                ("ppid", U64),
                ("parent_comm", Null),
                ("zombie_ns", U64),
                ("container_id", Null),
                ("siblings_unreaped", U64),
                ("reparented", Bool),
                ("diagnosis", Obj),
            ],
        );
        let tally = [
            ("unreaped", U64),
            ("long_lived_reaped", U64),
            ("max_zombie_ns", U64),
        ];
        let by_parent = [("ppid", U64), ("parent_proc_id", Str), ("parent_comm", Str)];
        assert_schema(
            &serde_json::to_string(&summary.zombies_by_parent[0]).expect("serializable"),
            &[&by_parent[..], &tally[..]].concat(),
        );
        assert_schema(
            &serde_json::to_string(&summary.zombies_by_container[0]).expect("serializable"),
            &[&[("container_id", Null)][..], &tally[..]].concat(),
        );
        assert_schema(
            &serde_json::to_string(&summary.counts).expect("serializable"),
            &[
                ("start", U64),
                ("fork", U64),
                ("exec", U64),
                ("exit", U64),
                ("lost", U64),
                ("zombie", U64),
                ("reap", U64),
                ("proc_check", U64),
            ],
        );
        let causes = [
            ("ring_buffer_full", U64),
            ("recursion", Obj),
            ("undecodable", U64),
            ("output_queue_full", U64),
            ("dropped", Obj),
            ("kernel_read_failed", U64),
            ("fork_unpaired", U64),
        ];
        assert_schema(
            &serde_json::to_string(&summary.lost_causes).expect("serializable"),
            &causes,
        );
        let Some(Record::Lost(lost)) = records.iter().find(|r| matches!(r, Record::Lost(_))) else {
            panic!("a lost record")
        };
        assert_schema(
            &serde_json::to_string(&lost.causes).expect("serializable"),
            &causes,
        );
        assert_eq!(lost.count, lost.causes.total());
        for by_job in [&lost.causes.recursion, &lost.causes.dropped] {
            assert_schema(
                &serde_json::to_string(by_job).expect("serializable"),
                &[
                    ("fork", U64),
                    ("exec", U64),
                    ("exit", U64),
                    ("reap", U64),
                    ("wait", U64),
                ],
            );
        }
        assert_schema(
            &serde_json::to_string(&summary.zombie_ns).expect("serializable"),
            &[("p50", U64), ("p99", U64), ("max", U64), ("count", U64)],
        );
        // ... and they are what the record itself contains.
        let whole = serde_json::to_string(records.last().expect("summary")).expect("serializable");
        let counts = serde_json::to_string(&summary.counts).expect("serializable");
        assert!(whole.contains(&format!("\"counts\":{counts}")), "{whole}");
    }

    #[test]
    fn enum_values_and_nulls() {
        let records = one_of_each();
        let exit: Value = serde_json::to_value(&records[3]).expect("serializable");
        assert_eq!(exit["exit_code"], Value::Null);
        assert_eq!(exit["signal"], 9);
        let reap: Value = serde_json::to_value(&records[6]).expect("serializable");
        assert_eq!(reap["how"], "wait");
        assert_eq!(reap["zombie_class"], "long_lived");
        let zombie: Value = serde_json::to_value(&records[5]).expect("serializable");
        assert_eq!(zombie["source"], "trace");
        for (v, s) in [
            (serde_json::to_value(ReapHow::Autoreap), "autoreap"),
            (serde_json::to_value(ReapHow::Release), "release"),
            (serde_json::to_value(ZombieClass::Transient), "transient"),
            (serde_json::to_value(ZombieSource::Procfs), "procfs"),
        ] {
            assert_eq!(v.expect("serializable"), *s);
        }
        // An unknown process's reap: proc_id, reaper, zombie_ns, zombie_class are null, not absent.
        let unknown = Record::Reap(ReapRecord {
            time: CLOCK.wall(0),
            ktime_ns: 0,
            pid: 5,
            ppid: 1,
            comm: String::new(),
            proc_id: None,
            reaper: None,
            how: ReapHow::Release,
            zombie_ns: None,
            zombie_class: None,
            reap_window_ns: None,
            reparented: false,
            place: Default::default(),
        });
        let json = serde_json::to_string(&unknown).expect("serializable");
        let v: Value = serde_json::from_str(&json).expect("valid JSON");
        for k in ["proc_id", "reaper", "zombie_ns", "zombie_class"] {
            assert_eq!(v.get(k), Some(&Value::Null), "{k} in {json}");
        }
    }

    #[test]
    fn zombie_class_threshold_is_inclusive() {
        assert_eq!(ZombieClass::of(999, 1000), ZombieClass::Transient);
        assert_eq!(ZombieClass::of(1000, 1000), ZombieClass::LongLived);
        assert_eq!(ZombieClass::of(0, 0), ZombieClass::LongLived);
    }

    #[test]
    fn counts_bump_by_type() {
        let mut c = Counts::default();
        for r in one_of_each() {
            c.bump(r.record_type());
        }
        assert_eq!(
            c,
            Counts {
                start: 1,
                fork: 1,
                exec: 1,
                exit: 1,
                lost: 1,
                zombie: 1,
                reap: 1,
                proc_check: 1,
            }
        );
        assert_eq!(c.get(RecordType::Summary), 0);
        assert_eq!(ProcId::new(4242, 123), "4242-123");
    }

    /// The README documents every record type and field: the table under `### \`<type>\``
    /// must list exactly the keys the record serializes (after the three common keys).
    #[test]
    fn readme_documents_every_field() {
        let readme = include_str!("../../../README.md");
        for record in one_of_each() {
            let json = serde_json::to_string(&record).expect("serialize");
            let keys = keys_in_order(&json);
            let ty = record.record_type().as_str();
            let heading = format!("### `{ty}`");
            let section = readme
                .split_once(&heading)
                .unwrap_or_else(|| panic!("README has no {heading} section"))
                .1;
            let section = section.split("\n### ").next().unwrap_or_default();
            let documented: Vec<String> = section
                .lines()
                .filter_map(|l| l.strip_prefix("| `"))
                .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_owned()))
                .collect();
            assert_eq!(
                &keys[3..],
                &documented[..],
                "README table for {ty} differs from the record's keys"
            );
        }
    }
}
