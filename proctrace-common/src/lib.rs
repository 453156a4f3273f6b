//! Wire types shared by the kernel programs (`proctrace-ebpf`) and the daemon (`tracer`).
//!
//! Every type is `#[repr(C)]`, has no implicit padding (checked by the `const` size assertions),
//! and starts with an [`EventHeader`] so userspace can dispatch on `kind` before decoding the
//! rest. Userspace decodes with `read_unaligned`: ring-buffer records are only 8-byte aligned.
#![no_std]

/// Length of `task_struct::comm` (TASK_COMM_LEN in include/linux/sched.h).
pub const COMM_LEN: usize = 16;
/// Bytes of the exec'd path kept (PATH_MAX). Power of two: the kernel side masks with it.
pub const FILENAME_CAP: usize = 4096;
/// Bytes of the argv area (`mm->arg_start..arg_end`) kept. Power of two, see above.
pub const ARGV_CAP: usize = 8192;

/// Marks a tracepoint field or BTF member that this kernel does not have.
pub const ABSENT: u32 = u32::MAX;
/// Marks a [`Usage`] figure this kernel does not have or that could not be read.
pub const ABSENT64: u64 = u64::MAX;
/// Threads of an exiting process the exit program looks at, at most: at group death only the
/// threads not yet released are on the list (the last one, a zombie leader, threads still
/// exiting), a handful; more are reported with [`exit_flags::USAGE_INCOMPLETE`]. The bound is
/// paid at load time: the verifier walks each pass (128 cost 0.3 s of start-up, 16 about
/// 20 ms; bpf_loop, which would not, needs 5.17).
pub const USAGE_MAX_THREADS: u32 = 16;
/// Bytes of `signal_struct` the exit program copies at once to read the usage counters from
/// (one probe read instead of twenty: they sit together, after `stats_lock`).
pub const USAGE_BLOCK_CAP: usize = 256;

/// `kind` values of [`EventHeader`].
pub mod kind {
    pub const FORK: u32 = 1;
    pub const EXEC: u32 = 2;
    pub const EXIT: u32 = 3;
    /// A wait-family syscall returned a child's pid (the reaper's context).
    pub const WAIT: u32 = 4;
    /// `sched_process_free` of a thread-group leader: the task is released.
    pub const FREE: u32 = 5;
    /// `release_task()` of a thread-group leader: the reap itself (fentry/kprobe).
    pub const RELEASE: u32 = 6;
    /// [`super::FreeWaitsEvent`]
    pub const FREE_WAITS: u32 = 7;
}

/// Flags in [`ExecEvent::flags`].
pub mod exec_flags {
    /// argv area was longer than [`super::ARGV_CAP`].
    pub const ARGV_TRUNCATED: u32 = 1 << 0;
    /// Reading the argv area from user memory failed (argv is empty).
    pub const ARGV_READ_FAILED: u32 = 1 << 1;
    /// Path was cut at [`super::FILENAME_CAP`].
    pub const FILENAME_TRUNCATED: u32 = 1 << 2;
}

/// Flags in [`ExitEvent::flags`].
pub mod exit_flags {
    /// The parent ignores SIGCHLD or set SA_NOCLDWAIT: `exit_notify()` releases the task at
    /// once (kernel/signal.c `do_notify_parent`), so there is no zombie period.
    pub const AUTOREAP: u32 = 1 << 0;
    /// The task exits with an exit_signal other than SIGCHLD (e.g. clone with exit_signal=0):
    /// only `__WALL`/`__WCLONE` waiters collect it.
    pub const NON_SIGCHLD: u32 = 1 << 1;
    /// The usage figures may miss a thread: more than [`super::USAGE_MAX_THREADS`] threads
    /// were still on the list, or threads were released while they were summed (the
    /// `signal->stats_lock` sequence moved on every attempt).
    pub const USAGE_INCOMPLETE: u32 = 1 << 2;
    /// A thread of the parent's group was blocked in do_wait() when the process exited (its
    /// `signal->wait_chldexit` queue was not empty, kernel/exit.c): exit_notify() wakes it.
    pub const PARENT_WAITING: u32 = 1 << 3;
}

/// Flags in [`ForkEvent::flags`].
pub mod fork_flags {
    /// `start_ns` is the tracepoint time, not `task->start_boottime` (classic tracepoint mode,
    /// where the child's task_struct is not reachable).
    pub const START_APPROX: u32 = 1 << 0;
}

/// Indices of the per-CPU `COUNTERS` array.
pub mod counter {
    /// Events that could not be reserved/output because the ring buffer was full.
    pub const RINGBUF_FULL: u32 = 0;
    /// Kernel reads (bpf_probe_read_kernel) that failed: each either dropped a record (also
    /// counted in `DROPPED_*`) or left a field of one zero or empty.
    pub const KERNEL_READ_FAILED: u32 = 1;
    /// Classic-tracepoint mode: a `sched_process_fork` without its `task_newtask` record
    /// (clone flags unknown: the child was taken for a process with the caller as parent).
    pub const FORK_UNPAIRED: u32 = 2;
    /// Records a program did not send because a read it could not do without failed.
    pub const DROPPED_FORK: u32 = 3;
    pub const DROPPED_EXEC: u32 = 4;
    pub const DROPPED_EXIT: u32 = 5;
    pub const DROPPED_REAP: u32 = 6;
    /// Wait-family calls whose [`super::WaitNote`] was not written: a read it needed failed
    /// (also counted in `KERNEL_READ_FAILED`) or the `WAITERS` map refused the insert.
    pub const DROPPED_WAIT: u32 = 7;
    pub const COUNT: u32 = 8;
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHeader {
    /// One of [`kind`].
    pub kind: u32,
    /// Thread id of the task the event is about (`task->pid`).
    pub tid: u32,
    /// Kernel boot time of the event (`bpf_ktime_get_boot_ns`, CLOCK_BOOTTIME).
    pub ktime_ns: u64,
    /// Thread-group id (the process id `ps` shows) of the task the event is about.
    pub pid: u32,
    /// Thread-group id of `task->real_parent` at the time of the event.
    pub ppid: u32,
}
const _: () = assert!(core::mem::size_of::<EventHeader>() == 24);

impl EventHeader {
    /// The header of an event of `kind` about thread `tid` of process `pid`, at `ktime_ns`.
    pub const fn new(kind: u32, tid: u32, pid: u32, ppid: u32, ktime_ns: u64) -> Self {
        EventHeader {
            kind,
            tid,
            ktime_ns,
            pid,
            ppid,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkEvent {
    pub header: EventHeader,
    /// `task->start_boottime` of the child (see [`fork_flags::START_APPROX`]).
    pub start_ns: u64,
    /// `start_boottime` of the parent's group leader: with `ppid` it names the parent process.
    pub parent_start_ns: u64,
    /// Thread id of the forking thread (the current task).
    pub parent_tid: u32,
    pub uid: u32,
    pub flags: u32,
    pub _pad: u32,
    pub comm: [u8; COMM_LEN],
    /// The child's (tp_btf); the caller's cgroups and no namespace pid in classic mode, where
    /// the child's task_struct is not reachable.
    pub place: Place,
}
const _: () = assert!(
    core::mem::size_of::<ForkEvent>() == 24 + 16 + 16 + COMM_LEN + core::mem::size_of::<Place>()
);

/// Fixed part of an exec record; `data` holds `filename_len` bytes of path followed by
/// `argv_len` bytes of the NUL-separated argv area. Only the used part is submitted.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecHeader {
    pub header: EventHeader,
    /// `group_leader->start_boottime` (de_thread() copies it to the new leader).
    pub start_ns: u64,
    /// Thread id that called exec (tracepoint `old_pid`).
    pub old_pid: u32,
    pub uid: u32,
    pub flags: u32,
    pub filename_len: u32,
    pub argv_len: u32,
    /// Effective uid of the new image (`current->cred->euid`, after a setuid exec applied).
    pub euid: u32,
    pub comm: [u8; COMM_LEN],
    /// `signal->maxrss` (pages) after the exec: exec_mmap() (fs/exec.c) has folded the
    /// replaced images' peak into it, so a later rise is the new image's own. [`ABSENT64`]
    /// when it cannot be read.
    pub maxrss_pages: u64,
    pub place: Place,
}
const _: () = assert!(
    core::mem::size_of::<ExecHeader>()
        == 24 + 8 + 24 + COMM_LEN + 8 + core::mem::size_of::<Place>()
);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    pub hdr: ExecHeader,
    pub data: [u8; FILENAME_CAP + ARGV_CAP],
}
const _: () = assert!(
    core::mem::size_of::<ExecEvent>()
        == core::mem::size_of::<ExecHeader>() + FILENAME_CAP + ARGV_CAP
);

/// The last thread of a process exited (`group_dead`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitEvent {
    pub header: EventHeader,
    /// `group_leader->start_boottime`.
    pub start_ns: u64,
    /// The wait status the parent will see (kernel/exit.c `wait_task_zombie`):
    /// `signal->group_exit_code` when SIGNAL_GROUP_EXIT is set, else the leader's `exit_code`.
    pub status: u32,
    pub uid: u32,
    pub flags: u32,
    pub _pad: u32,
    /// The group leader's comm (what `ps` shows), not the last thread's.
    pub comm: [u8; COMM_LEN],
    pub usage: Usage,
    pub place: Place,
}
const _: () = assert!(
    core::mem::size_of::<ExitEvent>()
        == 24 + 8 + 16 + COMM_LEN + core::mem::size_of::<Usage>() + core::mem::size_of::<Place>()
);

/// Where a process lives, read from its task: the cgroups (as kernfs node ids, which
/// userspace maps to paths: the id is the inode number of the cgroup's directory,
/// fs/kernfs/mount.c) and its pid in its own pid namespace. 0 is "unknown" in every field
/// (kernfs ids, namespace inodes and pids start at 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// `cgroup_id()` of the task's cgroup on the default hierarchy (cgroup v2).
    pub cgroup_id: u64,
    /// The same in the v1 hierarchy userspace chose at load (`Config::css_set_v1_css`).
    pub cgroup_v1_id: u64,
    /// `ns.inum` of the task's pid namespace (what `stat -L /proc/PID/ns/pid` shows).
    pub pidns: u32,
    /// The process's pid in that namespace (`task_tgid_nr_ns()`, the last NSpid of /proc).
    pub nspid: u32,
}
const _: () = assert!(core::mem::size_of::<Place>() == 24);

/// What a process used, read when its last thread exits (`sched_process_exit` with
/// group_dead). The kernel's own sums, in the kernel's units; userspace derives what
/// getrusage()/wait4() would report (kernel/sys.c getrusage, kernel/sched/cputime.c
/// cputime_adjust). Each figure is [`ABSENT64`] when this kernel lacks it or a read failed.
///
/// The process's own figures are `signal_struct`'s (threads already released, folded in by
/// __exit_signal() in kernel/exit.c) plus every thread still on `signal->thread_head`, as
/// thread_group_cputime() sums them.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Σ `se.sum_exec_runtime`: the scheduler's precise runtime, ns.
    pub runtime_ns: u64,
    /// Σ `utime` / `stime`: tick-sampled, ns; only their ratio is used.
    pub utime_ns: u64,
    pub stime_ns: u64,
    /// `signal->prev_cputime`: what cputime_adjust() last reported (its monotonic floor).
    pub prev_utime_ns: u64,
    pub prev_stime_ns: u64,
    pub min_flt: u64,
    pub maj_flt: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
    /// Σ `ioac.read_bytes` / `ioac.write_bytes` (CONFIG_TASK_IO_ACCOUNTING), bytes.
    pub read_bytes: u64,
    pub write_bytes: u64,
    /// `signal->maxrss`, pages: the peak of every image the process had, the ones exec
    /// replaced included (what wait4's ru_maxrss reports).
    pub maxrss_pages: u64,
    /// get_mm_hiwater_rss() of the last image, pages: only while the exit tracepoint sees
    /// the mm (6.16+, before exit_mm()); [`ABSENT64`] otherwise.
    pub mm_hiwater_pages: u64,
    /// The children it reaped (`signal->c*`, kernel/exit.c wait_task_zombie()): user and
    /// system time already adjusted (ns), faults, switches, I/O in 512-byte blocks, maxrss in
    /// pages.
    pub cutime_ns: u64,
    pub cstime_ns: u64,
    pub cmin_flt: u64,
    pub cmaj_flt: u64,
    pub cnvcsw: u64,
    pub cnivcsw: u64,
    pub cinblock: u64,
    pub coublock: u64,
    pub cmaxrss_pages: u64,
}
const _: () = assert!(core::mem::size_of::<Usage>() == 22 * 8);

impl Usage {
    pub const fn absent() -> Self {
        Usage {
            runtime_ns: ABSENT64,
            utime_ns: ABSENT64,
            stime_ns: ABSENT64,
            prev_utime_ns: ABSENT64,
            prev_stime_ns: ABSENT64,
            min_flt: ABSENT64,
            maj_flt: ABSENT64,
            nvcsw: ABSENT64,
            nivcsw: ABSENT64,
            read_bytes: ABSENT64,
            write_bytes: ABSENT64,
            maxrss_pages: ABSENT64,
            mm_hiwater_pages: ABSENT64,
            cutime_ns: ABSENT64,
            cstime_ns: ABSENT64,
            cmin_flt: ABSENT64,
            cmaj_flt: ABSENT64,
            cnvcsw: ABSENT64,
            cnivcsw: ABSENT64,
            cinblock: ABSENT64,
            coublock: ABSENT64,
            cmaxrss_pages: ABSENT64,
        }
    }
}

/// A wait-family syscall returned the pid of a child it collected. `header.pid`/`tid` are the
/// caller (the reaper), `reaped` the child's tgid as the syscall reported it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitEvent {
    pub header: EventHeader,
    pub reaped: u32,
    /// The raw wait status (`*stat_addr` for wait4, rebuilt from siginfo for waitid), or
    /// [`ABSENT`] when it could not be read.
    pub status: u32,
    /// Reserved (0). Kept so that recorded streams (proctrace/tests/data/golden) still decode.
    pub _pad: u32,
    /// The waiter's pid-namespace level (`task->thread_pid->level`), or [`ABSENT`]. Above 0
    /// the syscall returned a pid of that namespace, not the global pid every other event
    /// carries.
    pub ns_level: u32,
}
const _: () = assert!(core::mem::size_of::<WaitEvent>() == 24 + 16);

/// How many of a process's latest wait-family calls [`WaitNote`] keeps.
pub const WAIT_CALLS: usize = 4;

/// One wait-family call entering do_wait() (kernel/exit.c), as `sched_process_wait` saw it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitCall {
    /// Boot time of the call (`bpf_ktime_get_boot_ns`, the events' clock); 0: an empty slot.
    pub ktime_ns: u64,
    /// The calling thread.
    pub tid: u32,
    /// The pid waited for, as the initial pid namespace numbers it (`wo_pid`, the
    /// tracepoint's argument: a pid, a process group or a pidfd's process), or 0 for any
    /// child (`wait4(-1)`, `waitid(P_ALL)`), or when the classic tracepoint cannot tell;
    /// [`CANNOT_COLLECT`] for a call that releases no zombie.
    pub target: u32,
}

/// [`WaitCall::target`] of a call that cannot release a zombie: `waitid()` with WNOWAIT (it
/// only looks) or without WEXITED (include/uapi/linux/wait.h). No pid has this number.
pub const CANNOT_COLLECT: u32 = u32::MAX;
const _: () = assert!(core::mem::size_of::<WaitCall>() == 16);

/// A process's latest wait-family calls (wait4/waitid/waitpid entering do_wait(),
/// kernel/exit.c: the `sched_process_wait` tracepoint), kept per tgid in the `WAITERS` map:
/// for the zombie diagnosis (looked up by userspace) and for the reap's moment when no
/// syscall tracepoint is used (copied into [`FreeWaitsEvent`]). Not an event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitNote {
    /// Boot time of the latest call.
    pub ktime_ns: u64,
    /// `start_boottime` of the caller's group leader: a note whose value differs from the
    /// process's start is a reused pid's, stale.
    pub leader_start_ns: u64,
    /// How many calls were noted; the latest is in `calls[(noted - 1) % WAIT_CALLS]`.
    pub noted: u32,
    pub _pad: u32,
    /// The latest calls, a ring.
    pub calls: [WaitCall; WAIT_CALLS],
}
const _: () = assert!(core::mem::size_of::<WaitNote>() == 24 + 16 * WAIT_CALLS);

/// `sched_process_free` of a thread-group leader (`pid == tgid`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeEvent {
    pub header: EventHeader,
    pub start_ns: u64,
}
const _: () = assert!(core::mem::size_of::<FreeEvent>() == 24 + 8);

/// `sched_process_free` of a thread-group leader with what tells when it was reaped, for
/// `--reap-timing bounded` (no syscall tracepoint): `header.ppid` is the reaper, the task's
/// `real_parent` at its release (wait_task_zombie() releases a child only to a thread of its
/// real parent's group), and `waits` the reaper's [`WaitNote`] as it was at the release.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeWaitsEvent {
    pub header: EventHeader,
    pub start_ns: u64,
    /// The reaper's note, or all zeros when it has none (or a stale one: a former holder of
    /// the pid's).
    pub waits: WaitNote,
    /// The reaper's latest call for this very pid since the task started (all zeros: none),
    /// kept apart from the ring: a busy reaper's later calls for other children can push it
    /// out of `waits` within the grace period before the release.
    pub for_it: WaitCall,
}
const _: () = assert!(
    core::mem::size_of::<FreeWaitsEvent>()
        == 24 + 8 + core::mem::size_of::<WaitNote>() + core::mem::size_of::<WaitCall>()
);

/// `release_task(p)` (kernel/exit.c) of a thread-group leader, in the releaser's context.
/// `header.pid`/`tid` are the released process, `header.ppid` its parent at that moment.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseEvent {
    pub header: EventHeader,
    pub start_ns: u64,
    /// Tgid of the task calling release_task().
    pub releaser: u32,
    /// 1 when the releaser is itself exiting (PF_EXITING): exit_notify() released the
    /// process without a waiter (autoreap), 0 when a living waiter collected it.
    pub releaser_exiting: u32,
}
const _: () = assert!(core::mem::size_of::<ReleaseEvent>() == 24 + 16);

/// Offsets handed to the kernel programs at load time (`EbpfLoader::override_global`).
///
/// Tracepoint field offsets come from tracefs format files, struct member offsets from the
/// kernel's BTF: Rust eBPF emits no CO-RE relocations, so nothing here may be a constant.
/// Every field is a byte offset, or [`ABSENT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    // sched_process_fork (classic tracepoint record)
    pub fork_child_pid: u32,
    pub fork_child_comm: u32,
    /// 1 when `child_comm` is a `__data_loc` string (6.16+), 0 for `char[16]`.
    pub fork_child_comm_data_loc: u32,
    // task_newtask (classic companion: carries clone_flags)
    pub newtask_pid: u32,
    pub newtask_clone_flags: u32,
    // sched_process_exec
    pub exec_filename: u32,
    pub exec_old_pid: u32,
    // sched_process_exit
    pub exit_group_dead: u32,
    // task_struct
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_group_leader: u32,
    pub task_comm: u32,
    pub task_start_boottime: u32,
    pub task_exit_code: u32,
    pub task_exit_signal: u32,
    pub task_signal: u32,
    pub task_sighand: u32,
    pub task_mm: u32,
    pub task_ptrace: u32,
    pub task_flags: u32,
    pub task_thread_pid: u32,
    pub task_cred: u32,
    // struct cred
    pub cred_euid: u32,
    // struct pid
    pub pid_level: u32,
    // signal_struct
    pub signal_live: u32,
    pub signal_flags: u32,
    pub signal_group_exit_code: u32,
    // sighand_struct: offsets of action[0].sa.sa_handler and action[0].sa.sa_flags from the
    // start of sighand_struct, and sizeof(struct k_sigaction)
    pub sighand_action: u32,
    pub sigaction_flags: u32,
    pub sigaction_size: u32,
    // mm_struct
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    // linux_binprm
    pub bprm_filename: u32,
    // syscalls:sys_exit_wait4 / sys_exit_waitid: `ret`
    pub sys_exit_ret: u32,
    // syscalls:sys_enter_wait4: `stat_addr`
    pub wait4_stat_addr: u32,
    // syscalls:sys_enter_waitid: `infop`, `options`
    pub waitid_infop: u32,
    pub waitid_options: u32,
    // sched_process_free: `pid`
    pub free_pid: u32,
    // signal_struct: `wait_chldexit.head` (the list of do_wait() sleepers)
    pub signal_wait_chldexit: u32,
    // struct pt_regs (x86-64): the syscall number and waitid's `options` register
    pub regs_orig_ax: u32,
    pub regs_r10: u32,
    // Usage at exit (see [`Usage`]); any of them may be ABSENT (config-dependent members).
    pub task_thread_node: u32,
    pub task_sum_exec_runtime: u32,
    pub task_utime: u32,
    pub task_stime: u32,
    pub task_min_flt: u32,
    pub task_maj_flt: u32,
    pub task_nvcsw: u32,
    pub task_nivcsw: u32,
    pub task_read_bytes: u32,
    pub task_write_bytes: u32,
    pub signal_thread_head: u32,
    pub signal_stats_seq: u32,
    pub signal_sum_sched_runtime: u32,
    pub signal_utime: u32,
    pub signal_stime: u32,
    pub signal_prev_utime: u32,
    pub signal_prev_stime: u32,
    pub signal_min_flt: u32,
    pub signal_maj_flt: u32,
    pub signal_nvcsw: u32,
    pub signal_nivcsw: u32,
    pub signal_read_bytes: u32,
    pub signal_write_bytes: u32,
    pub signal_maxrss: u32,
    pub signal_cutime: u32,
    pub signal_cstime: u32,
    pub signal_cmin_flt: u32,
    pub signal_cmaj_flt: u32,
    pub signal_cnvcsw: u32,
    pub signal_cnivcsw: u32,
    pub signal_cinblock: u32,
    pub signal_coublock: u32,
    pub signal_cmaxrss: u32,
    /// The span of signal_struct holding every `signal_*` usage counter above (but
    /// `thread_head` and `stats_seq`): read as one block when `signal_block_len` is not 0
    /// (at most [`USAGE_BLOCK_CAP`]); 0 when the members lie further apart (a randomized
    /// layout), and each is then read on its own.
    pub signal_block_start: u32,
    pub signal_block_len: u32,
    // mm_struct: `hiwater_rss`; the rss counters of MM_FILEPAGES, MM_ANONPAGES and
    // MM_SHMEMPAGES (the ones get_mm_rss() sums) as offsets of their `long`/`s64` value from
    // the start of mm_struct (atomic_long_t or percpu_counter.count, by kernel version).
    pub mm_hiwater_rss: u32,
    pub mm_rss_file: u32,
    pub mm_rss_anon: u32,
    pub mm_rss_shmem: u32,
    // Where a process lives ([`Place`]): task->cgroups (a css_set), its default-hierarchy
    // cgroup, the v1 css userspace chose (`subsys[i]`, ABSENT: none reported), css->cgroup,
    // cgroup->kn, kn->id; struct pid's numbers[] (`struct upid`: nr, ns) and the pid
    // namespace's ns.inum.
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub css_set_v1_css: u32,
    pub css_cgroup: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    pub pid_numbers: u32,
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    pub pidns_inum: u32,
}
const _: () = assert!(core::mem::size_of::<Config>() == 92 * 4);

impl Config {
    pub const fn absent() -> Self {
        Self {
            fork_child_pid: ABSENT,
            fork_child_comm: ABSENT,
            fork_child_comm_data_loc: 0,
            newtask_pid: ABSENT,
            newtask_clone_flags: ABSENT,
            exec_filename: ABSENT,
            exec_old_pid: ABSENT,
            exit_group_dead: ABSENT,
            task_pid: ABSENT,
            task_tgid: ABSENT,
            task_real_parent: ABSENT,
            task_group_leader: ABSENT,
            task_comm: ABSENT,
            task_start_boottime: ABSENT,
            task_exit_code: ABSENT,
            task_exit_signal: ABSENT,
            task_signal: ABSENT,
            task_sighand: ABSENT,
            task_mm: ABSENT,
            task_ptrace: ABSENT,
            task_flags: ABSENT,
            task_thread_pid: ABSENT,
            task_cred: ABSENT,
            cred_euid: ABSENT,
            pid_level: ABSENT,
            signal_live: ABSENT,
            signal_flags: ABSENT,
            signal_group_exit_code: ABSENT,
            sighand_action: ABSENT,
            sigaction_flags: ABSENT,
            sigaction_size: ABSENT,
            mm_arg_start: ABSENT,
            mm_arg_end: ABSENT,
            bprm_filename: ABSENT,
            sys_exit_ret: ABSENT,
            wait4_stat_addr: ABSENT,
            waitid_infop: ABSENT,
            waitid_options: ABSENT,
            free_pid: ABSENT,
            signal_wait_chldexit: ABSENT,
            regs_orig_ax: ABSENT,
            regs_r10: ABSENT,
            task_thread_node: ABSENT,
            task_sum_exec_runtime: ABSENT,
            task_utime: ABSENT,
            task_stime: ABSENT,
            task_min_flt: ABSENT,
            task_maj_flt: ABSENT,
            task_nvcsw: ABSENT,
            task_nivcsw: ABSENT,
            task_read_bytes: ABSENT,
            task_write_bytes: ABSENT,
            signal_thread_head: ABSENT,
            signal_stats_seq: ABSENT,
            signal_sum_sched_runtime: ABSENT,
            signal_utime: ABSENT,
            signal_stime: ABSENT,
            signal_prev_utime: ABSENT,
            signal_prev_stime: ABSENT,
            signal_min_flt: ABSENT,
            signal_maj_flt: ABSENT,
            signal_nvcsw: ABSENT,
            signal_nivcsw: ABSENT,
            signal_read_bytes: ABSENT,
            signal_write_bytes: ABSENT,
            signal_maxrss: ABSENT,
            signal_cutime: ABSENT,
            signal_cstime: ABSENT,
            signal_cmin_flt: ABSENT,
            signal_cmaj_flt: ABSENT,
            signal_cnvcsw: ABSENT,
            signal_cnivcsw: ABSENT,
            signal_cinblock: ABSENT,
            signal_coublock: ABSENT,
            signal_cmaxrss: ABSENT,
            signal_block_start: 0,
            signal_block_len: 0,
            mm_hiwater_rss: ABSENT,
            mm_rss_file: ABSENT,
            mm_rss_anon: ABSENT,
            mm_rss_shmem: ABSENT,
            task_cgroups: ABSENT,
            css_set_dfl_cgrp: ABSENT,
            css_set_v1_css: ABSENT,
            css_cgroup: ABSENT,
            cgroup_kn: ABSENT,
            kernfs_node_id: ABSENT,
            pid_numbers: ABSENT,
            upid_size: ABSENT,
            upid_nr: ABSENT,
            upid_ns: ABSENT,
            pidns_inum: ABSENT,
        }
    }
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: all types are repr(C), Copy, made of integers and byte arrays, with no padding
    // (size assertions above), so every bit pattern is valid.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: as above: integers only, no padding (size assertions).
    unsafe impl aya::Pod for super::WaitNote {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::WaitCall {}
}
