//! Builds the [`Config`] of offsets handed to the eBPF programs, from tracefs format files
//! (tracepoint records) and kernel BTF (struct members).

use std::path::Path;

use proctrace_common::{Config, ABSENT, COMM_LEN};
use serde::Serialize;
use thiserror::Error;

use crate::kernel::{
    btf::{self, BtfError, MemberLookup},
    place_offsets::{self, PlaceLayout},
    tracefs::{self, FieldKind, TracefsError, TracepointFormat},
    usage_offsets::{self, UsageLayout},
};

const FORK: (&str, &str) = ("sched", "sched_process_fork");
const EXEC: (&str, &str) = ("sched", "sched_process_exec");
const EXIT: (&str, &str) = ("sched", "sched_process_exit");
const NEWTASK: (&str, &str) = ("task", "task_newtask");
const FREE: (&str, &str) = ("sched", "sched_process_free");
const WAIT4_ENTER: (&str, &str) = ("syscalls", "sys_enter_wait4");
const WAIT4_EXIT: (&str, &str) = ("syscalls", "sys_exit_wait4");
const WAITID_ENTER: (&str, &str) = ("syscalls", "sys_enter_waitid");
const WAITID_EXIT: (&str, &str) = ("syscalls", "sys_exit_waitid");

/// Errors of this module. BTF errors already name the struct and member.
#[derive(Debug, Error)]
pub enum OffsetsError {
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error("tracepoint {tracepoint} has no field {field:?}")]
    MissingField {
        tracepoint: String,
        field: &'static str,
    },
    #[error("tracepoint {tracepoint} field {field:?}: expected {expected}, found {found}")]
    FieldLayout {
        tracepoint: String,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("tracepoints {a} and {b} disagree on the offset of {field:?} ({a_off} vs {b_off})")]
    Disagree {
        a: String,
        b: String,
        field: &'static str,
        a_off: u32,
        b_off: u32,
    },
    #[error("{what}: offset does not fit in 32 bits")]
    Overflow { what: &'static str },
}

/// The format files [`config_from`] reads. The `Option`s are tracepoints a kernel may lack:
/// their Config fields are then [`ABSENT`] and the loader's fallbacks apply.
#[derive(Debug, Clone)]
pub struct Formats {
    /// sched:sched_process_fork
    pub fork: TracepointFormat,
    /// sched:sched_process_exec
    pub exec: TracepointFormat,
    /// sched:sched_process_exit
    pub exit: TracepointFormat,
    /// task:task_newtask
    pub newtask: Option<TracepointFormat>,
    /// sched:sched_process_free
    pub free: Option<TracepointFormat>,
    /// syscalls:sys_enter_wait4 (the syscalls events need CONFIG_FTRACE_SYSCALLS)
    pub wait4_enter: Option<TracepointFormat>,
    /// syscalls:sys_exit_wait4
    pub wait4_exit: Option<TracepointFormat>,
    /// syscalls:sys_enter_waitid
    pub waitid_enter: Option<TracepointFormat>,
    /// syscalls:sys_exit_waitid
    pub waitid_exit: Option<TracepointFormat>,
}

impl Formats {
    /// Reads the format files from a mounted tracefs. A missing required tracepoint is a
    /// [`TracefsError::TracepointMissing`]; a missing optional one is `None`.
    pub fn read(tracefs_root: &Path) -> Result<Self, OffsetsError> {
        let read =
            |(category, name): (&str, &str)| tracefs::read_format(tracefs_root, category, name);
        let optional = |tp: (&str, &str)| -> Result<Option<TracepointFormat>, OffsetsError> {
            if tracefs::tracepoint_exists(tracefs_root, tp.0, tp.1) {
                Ok(Some(read(tp)?))
            } else {
                Ok(None)
            }
        };
        Ok(Self {
            fork: read(FORK)?,
            exec: read(EXEC)?,
            exit: read(EXIT)?,
            newtask: optional(NEWTASK)?,
            free: optional(FREE)?,
            wait4_enter: optional(WAIT4_ENTER)?,
            wait4_exit: optional(WAIT4_EXIT)?,
            waitid_enter: optional(WAITID_ENTER)?,
            waitid_exit: optional(WAITID_EXIT)?,
        })
    }

    /// The optional tracepoints that are missing, as `category:name`.
    pub fn missing(&self) -> Vec<String> {
        [
            (NEWTASK, self.newtask.is_some()),
            (FREE, self.free.is_some()),
            (WAIT4_ENTER, self.wait4_enter.is_some()),
            (WAIT4_EXIT, self.wait4_exit.is_some()),
            (WAITID_ENTER, self.waitid_enter.is_some()),
            (WAITID_EXIT, self.waitid_exit.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|((category, name), _)| format!("{category}:{name}"))
        .collect()
    }
}

/// Layout of `sched_process_fork`'s comms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommLayout {
    /// `char[16]` inline (before 6.16).
    Array,
    /// `__data_loc char[]` (6.16+).
    DataLoc,
}

/// What was found, for logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffsetsReport {
    pub fork_comm_layout: CommLayout,
    /// `sched_process_exit` has `group_dead` (6.16+); otherwise the eBPF side uses
    /// `signal->live`.
    pub exit_has_group_dead: bool,
    /// `task:task_newtask` exists (gives clone_flags to classic-tracepoint mode).
    pub has_task_newtask: bool,
    /// `start_boottime`, or `real_start_time` before 5.5.
    pub task_start_time_member: &'static str,
    /// `sizeof(struct k_sigaction)`.
    pub sigaction_size: u32,
    /// Optional tracepoints this kernel lacks (their Config fields are ABSENT).
    pub missing_tracepoints: Vec<String>,
    /// The counters behind exit records' `usage`.
    pub usage: UsageLayout,
}

/// Reads the format files under `tracefs_root` and the BTF at `btf_path`, and fills every
/// [`Config`] field.
///
/// Fields of optional tracepoints ([`Formats`]) are [`ABSENT`] when the tracepoint is missing,
/// as is `exit_group_dead` before 6.16. Everything else is required: its absence is an error
/// naming the tracepoint field or struct member.
///
/// `v1_controller` names the cgroup v1 hierarchy whose paths the records carry (`None`: the
/// v2 one), see place_offsets.rs.
pub fn build_config(
    tracefs_root: &Path,
    btf_path: &Path,
    v1_controller: Option<&str>,
) -> Result<(Config, OffsetsReport, PlaceLayout), OffsetsError> {
    let formats = Formats::read(tracefs_root)?;
    let btf = btf::CachedBtf::new(btf::open(btf_path)?);
    let (mut config, report) = config_from(&formats, &btf)?;
    let place = place_offsets::fill(&mut config, &btf, v1_controller)?;
    Ok((config, report, place))
}

/// The pure part of [`build_config`].
pub fn config_from(
    formats: &Formats,
    btf: &impl MemberLookup,
) -> Result<(Config, OffsetsReport), OffsetsError> {
    let mut c = Config::absent();

    // sched_process_fork: include/trace/events/sched.h. 6.16 turned the comms into
    // `__string()`s, which moved child_pid (44 → 20); the eBPF side branches on the flag.
    let fork = Tp::new(FORK, &formats.fork);
    c.fork_child_pid = fork.scalar("child_pid", 4)?;
    let comm = fork.field("child_comm")?;
    let fork_comm_layout = match comm.kind {
        FieldKind::Array { len } if len as usize == COMM_LEN && comm.size as usize == COMM_LEN => {
            CommLayout::Array
        }
        FieldKind::DataLoc => CommLayout::DataLoc,
        _ => {
            return Err(fork.layout(
                "child_comm",
                "char[16] or __data_loc char[]",
                describe(comm),
            ))
        }
    };
    c.fork_child_comm = comm.offset;
    c.fork_child_comm_data_loc = u32::from(fork_comm_layout == CommLayout::DataLoc);

    // task_newtask fires from copy_process() (kernel/fork.c) with the child and clone_flags,
    // which sched_process_fork lacks. Optional: without it, forks are still seen.
    if let Some(newtask) = &formats.newtask {
        let tp = Tp::new(NEWTASK, newtask);
        c.newtask_pid = tp.scalar("pid", 4)?;
        // `unsigned long` on older kernels, `u64` on newer (6.18 here): 8 bytes either way on
        // the 64-bit kernels we support.
        c.newtask_clone_flags = tp.scalar("clone_flags", 8)?;
    }

    // sched_process_exec: filename is bprm->filename copied as a __string().
    let exec = Tp::new(EXEC, &formats.exec);
    c.exec_filename = exec.data_loc("filename")?;
    c.exec_old_pid = exec.scalar("old_pid", 4)?;

    // sched_process_exit: `group_dead` was added in 6.16 (do_exit() passes the result of
    // atomic_dec_and_test(&tsk->signal->live)). Absent before: the eBPF side reads
    // signal->live itself.
    let exit = Tp::new(EXIT, &formats.exit);
    c.exit_group_dead = match formats.exit.field("group_dead") {
        Some(_) => exit.scalar("group_dead", 1)?,
        None => ABSENT,
    };

    // sched_process_free: only `pid` is used (classic mode: the task is gone, its tid is all
    // the record has). On older kernels the record is sched_process_template's (comm[16],
    // pid @24, as on 6.1); on 6.18 comm is a __data_loc string and pid is at 12.
    if let Some(free) = &formats.free {
        c.free_pid = Tp::new(FREE, free).scalar("pid", 4)?;
    }

    // Syscall tracepoints (kernel/trace/trace_syscalls.c): every argument is stored as an
    // unsigned long (8 bytes) whatever its C type (`int options` too), after the int
    // `__syscall_nr`; exits store `long ret`. The eBPF side reads u64/i64.
    if let Some(f) = &formats.wait4_enter {
        c.wait4_stat_addr = Tp::new(WAIT4_ENTER, f).scalar("stat_addr", 8)?;
    }
    if let Some(f) = &formats.waitid_enter {
        let tp = Tp::new(WAITID_ENTER, f);
        c.waitid_infop = tp.scalar("infop", 8)?;
        c.waitid_options = tp.scalar("options", 8)?;
    }
    // One Config field serves both exits: struct syscall_trace_exit has the same layout for
    // every syscall, so they must agree.
    let mut ret: Option<(String, u32)> = None;
    for (name, f) in [
        (WAIT4_EXIT, &formats.wait4_exit),
        (WAITID_EXIT, &formats.waitid_exit),
    ] {
        let Some(f) = f else { continue };
        let tp = Tp::new(name, f);
        let off = tp.scalar("ret", 8)?;
        match &ret {
            Some((prev_tp, prev)) if *prev != off => {
                return Err(OffsetsError::Disagree {
                    a: prev_tp.clone(),
                    b: tp.name,
                    field: "ret",
                    a_off: *prev,
                    b_off: off,
                })
            }
            _ => ret = Some((tp.name, off)),
        }
    }
    if let Some((_, off)) = ret {
        c.sys_exit_ret = off;
    }

    // task_struct (include/linux/sched.h).
    let task = |m: &str| btf.member_offset("task_struct", m);
    c.task_pid = task("pid")?;
    c.task_tgid = task("tgid")?;
    c.task_real_parent = task("real_parent")?;
    c.task_group_leader = task("group_leader")?;
    c.task_comm = task("comm")?;
    // Renamed from real_start_time in 5.5 ("time: Rename tsk->real_start_time to
    // ->start_boottime"); same meaning, CLOCK_BOOTTIME ns set in copy_process().
    let (start, task_start_time_member) = match task("start_boottime") {
        Ok(off) => (off, "start_boottime"),
        Err(BtfError::MemberNotFound { .. }) => (task("real_start_time")?, "real_start_time"),
        Err(e) => return Err(e.into()),
    };
    c.task_start_boottime = start;
    // exit_code is the leader's wait status unless the group was killed, see
    // signal_group_exit_code below (kernel/exit.c wait_task_zombie()).
    c.task_exit_code = task("exit_code")?;
    // exit_signal != SIGCHLD changes who may wait for the task (kernel/exit.c
    // eligible_child(), __WCLONE).
    c.task_exit_signal = task("exit_signal")?;
    c.task_signal = task("signal")?;
    c.task_sighand = task("sighand")?;
    c.task_mm = task("mm")?;
    // A ptraced child notifies the tracer first (kernel/exit.c exit_notify()).
    c.task_ptrace = task("ptrace")?;
    // PF_EXITING tells an exiting releaser (autoreap in exit_notify()) from a waiter
    // (wait_task_zombie()) in release_task().
    c.task_flags = task("flags")?;
    // A waiter in a child pid namespace gets that namespace's pid back from wait4/waitid
    // (kernel/exit.c wait_task_zombie(): task_pid_vnr()); its level tells (struct pid in
    // include/linux/pid.h; thread_pid since 4.19).
    c.task_thread_pid = task("thread_pid")?;
    c.pid_level = btf.member_offset("pid", "level")?;
    // The effective uid on exec (include/linux/cred.h; `kuid_t` is a struct of one uid_t):
    // begin_new_exec() has committed the new credentials (setuid bits, fs/exec.c
    // bprm_creds_from_file()) before sched_process_exec fires.
    c.task_cred = task("cred")?;
    c.cred_euid = btf.member_offset("cred", "euid")?;

    // signal_struct (include/linux/sched/signal.h): `live` counts the group's live threads
    // (do_exit()); `flags & SIGNAL_GROUP_EXIT` selects group_exit_code as the wait status.
    let signal = |m: &str| btf.member_offset("signal_struct", m);
    c.signal_live = signal("live")?;
    c.signal_flags = signal("flags")?;
    c.signal_group_exit_code = signal("group_exit_code")?;
    // do_wait() (kernel/exit.c) sleeps on `wait_chldexit` for the whole call: a non-empty
    // list at a child's exit is a waiter that exit_notify() wakes. Only the bounded reap
    // timing uses it, and it degrades without it (engine/bounded.rs): optional.
    c.signal_wait_chldexit = signal("wait_chldexit.head").unwrap_or(ABSENT);
    // A wait call's syscall number and waitid()'s options (arch/x86/include/asm/ptrace.h),
    // to leave out the calls that cannot collect a zombie: optional, x86-64 only.
    c.regs_orig_ax = btf.member_offset("pt_regs", "orig_ax").unwrap_or(ABSENT);
    c.regs_r10 = btf.member_offset("pt_regs", "r10").unwrap_or(ABSENT);

    // do_notify_parent() (kernel/signal.c) autoreaps when the parent's
    // `sighand->action[SIGCHLD-1].sa.sa_handler == SIG_IGN` or `.sa.sa_flags & SA_NOCLDWAIT`.
    // Both offsets are from the start of sighand_struct, for action[0]; the eBPF side adds
    // (sig-1) * sigaction_size.
    let action = btf.member_offset("sighand_struct", "action")?;
    let sa = btf.member_offset("k_sigaction", "sa")?;
    let sa_handler = btf.member_offset("sigaction", "sa_handler")?;
    let sa_flags = btf.member_offset("sigaction", "sa_flags")?;
    c.sighand_action = checked_sum(
        &[action, sa, sa_handler],
        "sighand_struct.action[0].sa.sa_handler",
    )?;
    c.sigaction_flags = checked_sum(
        &[action, sa, sa_flags],
        "sighand_struct.action[0].sa.sa_flags",
    )?;
    c.sigaction_size = btf.struct_size("k_sigaction")?;

    // mm_struct (include/linux/mm_types.h): the argv area, as /proc/<pid>/cmdline reads it
    // (fs/proc/base.c get_mm_cmdline()). Both sit in mm_struct's anonymous struct.
    c.mm_arg_start = btf.member_offset("mm_struct", "arg_start")?;
    c.mm_arg_end = btf.member_offset("mm_struct", "arg_end")?;

    // linux_binprm (include/linux/binfmts.h): the exec path, an argument of the
    // sched_process_exec raw tracepoint (fs/exec.c exec_binprm()).
    c.bprm_filename = btf.member_offset("linux_binprm", "filename")?;

    let usage = usage_offsets::fill(&mut c, btf)?;

    let report = OffsetsReport {
        fork_comm_layout,
        exit_has_group_dead: c.exit_group_dead != ABSENT,
        has_task_newtask: formats.newtask.is_some(),
        task_start_time_member,
        sigaction_size: c.sigaction_size,
        missing_tracepoints: formats.missing(),
        usage,
    };
    Ok((c, report))
}

fn checked_sum(parts: &[u32], what: &'static str) -> Result<u32, OffsetsError> {
    parts
        .iter()
        .try_fold(0u32, |acc, p| acc.checked_add(*p))
        .filter(|v| *v != ABSENT)
        .ok_or(OffsetsError::Overflow { what })
}

fn describe(f: &tracefs::Field) -> String {
    format!(
        "{:?} {} of {} bytes at offset {}",
        f.kind, f.c_type, f.size, f.offset
    )
}

/// A format file with the tracepoint's name, for error messages.
struct Tp<'a> {
    name: String,
    format: &'a TracepointFormat,
}

impl<'a> Tp<'a> {
    fn new((category, name): (&str, &str), format: &'a TracepointFormat) -> Self {
        Self {
            name: format!("{category}:{name}"),
            format,
        }
    }

    fn field(&self, field: &'static str) -> Result<&'a tracefs::Field, OffsetsError> {
        self.format
            .field(field)
            .ok_or_else(|| OffsetsError::MissingField {
                tracepoint: self.name.clone(),
                field,
            })
    }

    fn layout(&self, field: &'static str, expected: &'static str, found: String) -> OffsetsError {
        OffsetsError::FieldLayout {
            tracepoint: self.name.clone(),
            field,
            expected,
            found,
        }
    }

    /// Offset of a scalar of exactly `size` bytes: the eBPF side reads that many bytes, so a
    /// changed width must fail here rather than produce garbage.
    fn scalar(&self, field: &'static str, size: u32) -> Result<u32, OffsetsError> {
        let f = self.field(field)?;
        if f.kind != FieldKind::Scalar || f.size != size {
            let expected = match size {
                1 => "a 1-byte scalar",
                4 => "a 4-byte scalar",
                8 => "an 8-byte scalar",
                _ => "a scalar",
            };
            return Err(self.layout(field, expected, describe(f)));
        }
        Ok(f.offset)
    }

    /// Offset of the u32 `__data_loc` descriptor of a dynamic string.
    fn data_loc(&self, field: &'static str) -> Result<u32, OffsetsError> {
        let f = self.field(field)?;
        if f.kind != FieldKind::DataLoc {
            return Err(self.layout(field, "a __data_loc string", describe(f)));
        }
        Ok(f.offset)
    }
}

#[cfg(test)]
fn parse_fixture(text: &str) -> TracepointFormat {
    match tracefs::parse_format(text) {
        Ok(f) => f,
        Err(e) => panic!("fixture: {e}"),
    }
}

/// Every format of this host (6.18), from tests/data/formats/6.18.
#[cfg(test)]
pub(crate) fn fixture_formats_6_18() -> Formats {
    Formats {
        fork: parse_fixture(fixture!("6.18", "sched_process_fork")),
        exec: parse_fixture(fixture!("6.18", "sched_process_exec")),
        exit: parse_fixture(fixture!("6.18", "sched_process_exit")),
        newtask: Some(parse_fixture(fixture!("6.18", "task_newtask"))),
        free: Some(parse_fixture(fixture!("6.18", "sched_process_free"))),
        wait4_enter: Some(parse_fixture(fixture!("6.18", "sys_enter_wait4"))),
        wait4_exit: Some(parse_fixture(fixture!("6.18", "sys_exit_wait4"))),
        waitid_enter: Some(parse_fixture(fixture!("6.18", "sys_enter_waitid"))),
        waitid_exit: Some(parse_fixture(fixture!("6.18", "sys_exit_waitid"))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(text: &str) -> TracepointFormat {
        parse_fixture(text)
    }

    /// Only the required tracepoints.
    fn bare(fork: &str, exec: &str, exit: &str) -> Formats {
        Formats {
            fork: parse(fork),
            exec: parse(exec),
            exit: parse(exit),
            newtask: None,
            free: None,
            wait4_enter: None,
            wait4_exit: None,
            waitid_enter: None,
            waitid_exit: None,
        }
    }

    /// On 6.1, sched_process_free and sched_process_exit are both DEFINE_EVENTs of
    /// sched_process_template (include/trace/events/sched.h), so the exit fixture with the
    /// name changed is the free format. There is no 6.1 fixture of the syscall events.
    fn free_6_1() -> String {
        fixture!("6.1", "sched_process_exit")
            .replace("name: sched_process_exit", "name: sched_process_free")
    }

    fn formats_6_1() -> Formats {
        let mut f = bare(
            fixture!("6.1", "sched_process_fork"),
            fixture!("6.1", "sched_process_exec"),
            fixture!("6.1", "sched_process_exit"),
        );
        f.free = Some(parse(&free_6_1()));
        f
    }

    fn formats_6_18() -> Formats {
        fixture_formats_6_18()
    }

    /// BTF lookups from a table. Offsets are arbitrary but distinct, to catch mix-ups.
    struct FakeBtf {
        members: HashMap<(&'static str, &'static str), u32>,
        sizes: HashMap<&'static str, u32>,
    }

    impl FakeBtf {
        fn new() -> Self {
            let members = [
                (("task_struct", "pid"), 1000),
                (("task_struct", "tgid"), 1004),
                (("task_struct", "real_parent"), 1008),
                (("task_struct", "group_leader"), 1024),
                (("task_struct", "comm"), 1800),
                (("task_struct", "start_boottime"), 1500),
                (("task_struct", "exit_code"), 1100),
                (("task_struct", "exit_signal"), 1104),
                (("task_struct", "signal"), 2000),
                (("task_struct", "sighand"), 2008),
                (("task_struct", "mm"), 900),
                (("task_struct", "ptrace"), 36),
                (("task_struct", "flags"), 44),
                (("task_struct", "thread_pid"), 1400),
                (("pid", "level"), 4),
                (("task_struct", "cred"), 1900),
                (("cred", "euid"), 20),
                (("signal_struct", "live"), 20),
                (("signal_struct", "flags"), 112),
                (("signal_struct", "group_exit_code"), 108),
                (("signal_struct", "wait_chldexit.head"), 48),
                (("pt_regs", "orig_ax"), 120),
                (("pt_regs", "r10"), 56),
                (("sighand_struct", "action"), 24),
                (("k_sigaction", "sa"), 0),
                (("sigaction", "sa_handler"), 0),
                (("sigaction", "sa_flags"), 8),
                (("mm_struct", "arg_start"), 344),
                (("mm_struct", "arg_end"), 352),
                (("linux_binprm", "filename"), 96),
            ];
            Self {
                members: members.into_iter().collect(),
                sizes: [("k_sigaction", 32)].into_iter().collect(),
            }
        }

        fn without(mut self, s: &'static str, m: &'static str) -> Self {
            self.members.remove(&(s, m));
            self
        }

        fn with(mut self, s: &'static str, m: &'static str, off: u32) -> Self {
            self.members.insert((s, m), off);
            self
        }
    }

    impl MemberLookup for FakeBtf {
        fn enum_value(&self, _: &str, _: &str) -> Result<Option<u32>, BtfError> {
            Ok(None)
        }

        fn member_offset(&self, s: &str, m: &str) -> Result<u32, BtfError> {
            crate::kernel::btf::member_in_table(&self.members, s, m)
        }

        fn struct_size(&self, s: &str) -> Result<u32, BtfError> {
            self.sizes
                .get(s)
                .copied()
                .ok_or_else(|| BtfError::StructNotFound(s.to_owned()))
        }

        fn array_member(&self, _: &str, _: &str) -> Result<Option<btf::Array>, BtfError> {
            Ok(None)
        }
    }

    fn build(formats: &Formats, btf: &FakeBtf) -> (Config, OffsetsReport) {
        match config_from(formats, btf) {
            Ok(r) => r,
            Err(e) => panic!("config_from: {e}"),
        }
    }

    #[test]
    fn kernel_6_1() {
        let (c, r) = build(&formats_6_1(), &FakeBtf::new());
        assert_eq!(c.fork_child_pid, 44);
        assert_eq!(c.fork_child_comm, 28);
        assert_eq!(c.fork_child_comm_data_loc, 0);
        assert_eq!(c.exit_group_dead, ABSENT);
        assert_eq!((c.newtask_pid, c.newtask_clone_flags), (ABSENT, ABSENT));
        assert_eq!((c.exec_filename, c.exec_old_pid), (8, 16));
        assert_eq!(c.free_pid, 24);
        for v in [
            c.sys_exit_ret,
            c.wait4_stat_addr,
            c.waitid_infop,
            c.waitid_options,
        ] {
            assert_eq!(v, ABSENT);
        }
        assert_eq!(r.fork_comm_layout, CommLayout::Array);
        assert!(!r.exit_has_group_dead);
        assert!(!r.has_task_newtask);
        assert_eq!(
            r.missing_tracepoints,
            [
                "task:task_newtask",
                "syscalls:sys_enter_wait4",
                "syscalls:sys_exit_wait4",
                "syscalls:sys_enter_waitid",
                "syscalls:sys_exit_waitid"
            ]
        );
    }

    #[test]
    fn kernel_6_18() {
        let (c, r) = build(&formats_6_18(), &FakeBtf::new());
        assert_eq!(c.fork_child_pid, 20);
        assert_eq!(c.fork_child_comm, 16);
        assert_eq!(c.fork_child_comm_data_loc, 1);
        assert_eq!(c.exit_group_dead, 32);
        assert_eq!((c.newtask_pid, c.newtask_clone_flags), (8, 32));
        assert_eq!((c.exec_filename, c.exec_old_pid), (8, 16));
        assert_eq!(r.fork_comm_layout, CommLayout::DataLoc);
        assert!(r.exit_has_group_dead && r.has_task_newtask);
        assert!(r.missing_tracepoints.is_empty());
        // self_tgid is for the caller; everything else is an offset.
        let expected = Config {
            fork_child_pid: 20,
            fork_child_comm: 16,
            fork_child_comm_data_loc: 1,
            newtask_pid: 8,
            newtask_clone_flags: 32,
            exec_filename: 8,
            exec_old_pid: 16,
            exit_group_dead: 32,
            task_pid: 1000,
            task_tgid: 1004,
            task_real_parent: 1008,
            task_group_leader: 1024,
            task_comm: 1800,
            task_start_boottime: 1500,
            task_exit_code: 1100,
            task_exit_signal: 1104,
            task_signal: 2000,
            task_sighand: 2008,
            task_mm: 900,
            task_ptrace: 36,
            task_flags: 44,
            task_thread_pid: 1400,
            task_cred: 1900,
            cred_euid: 20,
            pid_level: 4,
            signal_live: 20,
            signal_flags: 112,
            signal_group_exit_code: 108,
            signal_wait_chldexit: 48,
            regs_orig_ax: 120,
            regs_r10: 56,
            sighand_action: 24,
            sigaction_flags: 24 + 8,
            sigaction_size: 32,
            mm_arg_start: 344,
            mm_arg_end: 352,
            bprm_filename: 96,
            sys_exit_ret: 16,
            wait4_stat_addr: 24,
            waitid_infop: 32,
            waitid_options: 40,
            free_pid: 12,
            // FakeBtf has none of the usage members: each is optional (usage_offsets.rs).
            ..Config::absent()
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn other_kernels() {
        for (kernel, fork, exit, exec, pid, data_loc, group_dead) in [
            (
                "6.12",
                fixture!("6.12", "sched_process_fork"),
                fixture!("6.12", "sched_process_exit"),
                fixture!("6.12", "sched_process_exec"),
                44,
                0,
                ABSENT,
            ),
            (
                "7.3",
                fixture!("7.3", "sched_process_fork"),
                fixture!("7.3", "sched_process_exit"),
                fixture!("7.3", "sched_process_exec"),
                20,
                1,
                32,
            ),
        ] {
            let (c, _) = build(&bare(fork, exec, exit), &FakeBtf::new());
            assert_eq!(
                (
                    c.fork_child_pid,
                    c.fork_child_comm_data_loc,
                    c.exit_group_dead
                ),
                (pid, data_loc, group_dead),
                "{kernel}"
            );
        }
    }

    #[test]
    fn sigaction_offsets_add_up() {
        let btf = FakeBtf::new()
            .with("sighand_struct", "action", 24)
            .with("k_sigaction", "sa", 4)
            .with("sigaction", "sa_handler", 2)
            .with("sigaction", "sa_flags", 16);
        let (c, r) = build(&formats_6_18(), &btf);
        assert_eq!(c.sighand_action, 24 + 4 + 2);
        assert_eq!(c.sigaction_flags, 24 + 4 + 16);
        assert_eq!((c.sigaction_size, r.sigaction_size), (32, 32));
        let huge = FakeBtf::new()
            .with("sighand_struct", "action", u32::MAX - 1)
            .with("sigaction", "sa_handler", 8);
        assert!(matches!(
            config_from(&formats_6_18(), &huge),
            Err(OffsetsError::Overflow { .. })
        ));
    }

    #[test]
    fn real_start_time_fallback() {
        let btf = FakeBtf::new()
            .without("task_struct", "start_boottime")
            .with("task_struct", "real_start_time", 1496);
        let (c, r) = build(&formats_6_1(), &btf);
        assert_eq!(c.task_start_boottime, 1496);
        assert_eq!(r.task_start_time_member, "real_start_time");
        let neither = FakeBtf::new().without("task_struct", "start_boottime");
        match config_from(&formats_6_1(), &neither) {
            Err(e) => assert_eq!(
                e.to_string(),
                "struct task_struct has no member \"real_start_time\""
            ),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn missing_btf_members_are_named() {
        for (s, m) in [
            ("mm_struct", "arg_end"),
            ("signal_struct", "live"),
            ("linux_binprm", "filename"),
            ("sigaction", "sa_flags"),
        ] {
            match config_from(&formats_6_18(), &FakeBtf::new().without(s, m)) {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(s) && msg.contains(m), "{msg}");
                }
                Ok(_) => panic!("{s}.{m}: expected an error"),
            }
        }
        let mut no_size = FakeBtf::new();
        no_size.sizes.clear();
        assert!(matches!(
            config_from(&formats_6_18(), &no_size),
            Err(OffsetsError::Btf(BtfError::StructNotFound(_)))
        ));
    }

    #[test]
    fn missing_or_wrong_tracepoint_fields() {
        let mut f = formats_6_18();
        f.fork.fields.retain(|x| x.name != "child_pid");
        match config_from(&f, &FakeBtf::new()) {
            Err(e) => assert_eq!(
                e.to_string(),
                "tracepoint sched:sched_process_fork has no field \"child_pid\""
            ),
            Ok(_) => panic!("expected an error"),
        }

        // filename as a fixed array instead of __data_loc.
        let mut f = formats_6_18();
        f.exec = parse(&fixture!("6.18", "sched_process_exec").replace(
            "__data_loc char[] filename;\toffset:8;\tsize:4;",
            "char filename[4];\toffset:8;\tsize:4;",
        ));
        assert!(matches!(
            config_from(&f, &FakeBtf::new()),
            Err(OffsetsError::FieldLayout {
                field: "filename",
                ..
            })
        ));

        // group_dead of an unexpected width.
        let mut f = formats_6_18();
        f.exit = parse(&fixture!("6.18", "sched_process_exit").replace(
            "bool group_dead;\toffset:32;\tsize:1;",
            "int group_dead;\toffset:32;\tsize:4;",
        ));
        assert!(matches!(
            config_from(&f, &FakeBtf::new()),
            Err(OffsetsError::FieldLayout {
                field: "group_dead",
                ..
            })
        ));

        // A comm array that is not TASK_COMM_LEN long.
        let mut f = formats_6_1();
        f.fork = parse(&fixture!("6.1", "sched_process_fork").replace(
            "char child_comm[16];\toffset:28;\tsize:16;",
            "char child_comm[8];\toffset:28;\tsize:8;",
        ));
        assert!(matches!(
            config_from(&f, &FakeBtf::new()),
            Err(OffsetsError::FieldLayout {
                field: "child_comm",
                ..
            })
        ));
    }

    #[test]
    fn syscall_layouts_are_checked() {
        // The two exits must agree on `ret`.
        let mut f = formats_6_18();
        f.waitid_exit = Some(parse(
            &fixture!("6.18", "sys_exit_waitid")
                .replace("long ret;\toffset:16;", "long ret;\toffset:24;"),
        ));
        match config_from(&f, &FakeBtf::new()) {
            Err(e @ OffsetsError::Disagree { .. }) => assert!(e.to_string().contains("ret")),
            other => panic!("expected Disagree, got {other:?}"),
        }
        // One exit is enough.
        let mut f = formats_6_18();
        f.wait4_exit = None;
        let (c, r) = build(&f, &FakeBtf::new());
        assert_eq!(c.sys_exit_ret, 16);
        assert_eq!(r.missing_tracepoints, ["syscalls:sys_exit_wait4"]);
        // Arguments are 8 bytes in the record whatever their C type.
        let mut f = formats_6_18();
        f.waitid_enter = Some(parse(&fixture!("6.18", "sys_enter_waitid").replace(
            "int options;\toffset:40;\tsize:8;",
            "int options;\toffset:40;\tsize:4;",
        )));
        assert!(matches!(
            config_from(&f, &FakeBtf::new()),
            Err(OffsetsError::FieldLayout {
                field: "options",
                ..
            })
        ));
        // A free record without pid.
        let mut f = formats_6_18();
        if let Some(free) = f.free.as_mut() {
            free.fields.retain(|x| x.name != "pid");
        }
        match config_from(&f, &FakeBtf::new()) {
            Err(e) => assert_eq!(
                e.to_string(),
                "tracepoint sched:sched_process_free has no field \"pid\""
            ),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn report_serializes() {
        let (_, r) = build(&formats_6_18(), &FakeBtf::new());
        let json = serde_json::to_value(&r).expect("serialize");
        assert_eq!(json["fork_comm_layout"], "data_loc");
        assert_eq!(json["exit_has_group_dead"], true);
        assert_eq!(json["task_start_time_member"], "start_boottime");
        let (_, r) = build(&formats_6_1(), &FakeBtf::new());
        let json = serde_json::to_value(&r).expect("serialize");
        assert_eq!(json["fork_comm_layout"], "array");
    }

    /// build_config end to end: a fake tracefs tree and a BTF file written by the test encoder.
    #[test]
    fn build_config_from_files() {
        use crate::kernel::btf::test_btf::{Encoder, M};

        let dir = std::env::temp_dir().join(format!("proctrace-offsets-{}", std::process::id()));
        let write = |cat: &str, name: &str, text: &str| {
            let d = dir.join("events").join(cat).join(name);
            std::fs::create_dir_all(&d).expect("create temp tree");
            std::fs::write(d.join("format"), text).expect("write format");
        };
        write(
            "sched",
            "sched_process_fork",
            fixture!("6.1", "sched_process_fork"),
        );
        write(
            "sched",
            "sched_process_exec",
            fixture!("6.1", "sched_process_exec"),
        );
        write(
            "sched",
            "sched_process_exit",
            fixture!("6.1", "sched_process_exit"),
        );
        write("sched", "sched_process_free", &free_6_1());
        write(
            "syscalls",
            "sys_exit_wait4",
            fixture!("6.18", "sys_exit_wait4"),
        );

        let mut e = Encoder::new();
        let int = e.int("int", 4, true);
        let ulong = e.int("unsigned long", 8, false);
        let ptr = e.ptr(int);
        let char_t = e.int("char", 1, false);
        let comm = e.array(char_t, int, 16);
        e.structure(
            "task_struct",
            96,
            &[
                M("ptrace", int, 0, 0),
                M("pid", int, 32, 0),
                M("tgid", int, 64, 0),
                M("real_parent", ptr, 128, 0),
                M("group_leader", ptr, 192, 0),
                // A pre-5.5 kernel.
                M("real_start_time", ulong, 256, 0),
                M("exit_code", int, 320, 0),
                M("exit_signal", int, 352, 0),
                M("signal", ptr, 384, 0),
                M("sighand", ptr, 448, 0),
                M("mm", ptr, 512, 0),
                M("comm", comm, 576, 0),
                M("flags", int, 704, 0),
                M("thread_pid", ptr, 768, 0),
                M("cred", ptr, 832, 0),
            ],
        );
        e.structure("cred", 24, &[M("uid", int, 32, 0), M("euid", int, 160, 0)]);
        e.structure("pid", 16, &[M("count", int, 0, 0), M("level", int, 32, 0)]);
        e.structure(
            "signal_struct",
            16,
            &[
                M("live", int, 32, 0),
                M("flags", int, 64, 0),
                M("group_exit_code", int, 96, 0),
            ],
        );
        let sigaction = e.structure(
            "sigaction",
            32,
            &[M("sa_handler", ptr, 0, 0), M("sa_flags", ulong, 64, 0)],
        );
        let k_sigaction = e.structure("k_sigaction", 32, &[M("sa", sigaction, 0, 0)]);
        let actions = e.array(k_sigaction, int, 64);
        e.structure(
            "sighand_struct",
            2072,
            &[M("count", int, 0, 0), M("action", actions, 192, 0)],
        );
        let args = e.structure(
            "",
            16,
            &[M("arg_start", ulong, 0, 0), M("arg_end", ulong, 64, 0)],
        );
        e.structure("mm_struct", 80, &[M("", args, 512, 0)]);
        e.structure("linux_binprm", 16, &[M("filename", ptr, 64, 0)]);
        let btf_path = dir.join("vmlinux");
        std::fs::write(&btf_path, e.finish()).expect("write btf");

        let result = build_config(&dir, &btf_path, None);
        let missing_btf = build_config(&dir, &dir.join("no-vmlinux"), None);
        let missing_tracefs = build_config(&dir.join("nope"), &btf_path, None);
        let _ = std::fs::remove_dir_all(&dir);

        let (c, r, place) = match result {
            Ok(x) => x,
            Err(e) => panic!("build_config: {e}"),
        };
        // This BTF has no cgroup or pid-namespace types: every place field is absent.
        assert!(place.missing.contains(&"task_struct.cgroups".to_owned()));
        assert_eq!(c.css_set_v1_css, ABSENT);
        assert_eq!((c.fork_child_pid, c.fork_child_comm_data_loc), (44, 0));
        assert_eq!((c.task_pid, c.task_tgid, c.task_comm), (4, 8, 72));
        assert_eq!(c.task_start_boottime, 32);
        assert_eq!((c.task_thread_pid, c.pid_level), (96, 4));
        assert_eq!((c.task_cred, c.cred_euid), (104, 20));
        assert_eq!(r.task_start_time_member, "real_start_time");
        assert_eq!(
            (c.sighand_action, c.sigaction_flags, c.sigaction_size),
            (24, 24 + 8, 32)
        );
        assert_eq!((c.mm_arg_start, c.mm_arg_end), (64, 72));
        assert_eq!(c.bprm_filename, 8);
        assert_eq!(
            (c.free_pid, c.sys_exit_ret, c.wait4_stat_addr),
            (24, 16, ABSENT)
        );
        assert!(!r.has_task_newtask);
        assert_eq!(r.missing_tracepoints.len(), 4);

        match missing_btf {
            Err(e @ OffsetsError::Btf(BtfError::NotFound { .. })) => {
                assert!(e
                    .to_string()
                    .contains("CONFIG_DEBUG_INFO_BTF=y is required"));
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        match missing_tracefs {
            Err(e @ OffsetsError::Tracefs(TracefsError::TracepointMissing { .. })) => {
                assert!(e.to_string().contains("sched:sched_process_fork"), "{e}");
            }
            other => panic!("expected TracepointMissing, got {other:?}"),
        }
    }
}
