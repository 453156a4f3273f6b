//! Reading kernel structs through offsets resolved from BTF at load time.
use aya_ebpf::helpers::{bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_kernel_buf};
use proctrace_common::{counter, ABSENT, COMM_LEN};

use crate::{config::conf, maps::count};

/// Error: a read failed or the field is absent on this kernel. Counted once where it happens.
pub struct ReadError;

/// Read a `T` at `base + off` from kernel memory.
#[inline(always)]
pub fn read_at<T: Copy>(base: u64, off: u32) -> Result<T, ReadError> {
    if off == ABSENT || base == 0 {
        return Err(ReadError);
    }
    // SAFETY: bpf_probe_read_kernel copes with any address (it faults gracefully).
    match unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) } {
        Ok(v) => Ok(v),
        Err(_) => {
            count(counter::KERNEL_READ_FAILED);
            Err(ReadError)
        }
    }
}

/// The u64 at `addr` (0 when the read fails) and the helper's return code (0 or -errno),
/// for sums that must not branch on each read (see usage.rs). The caller counts failures.
#[inline(always)]
pub fn probe_u64(addr: u64) -> (u64, i64) {
    let mut v = 0u64;
    // SAFETY: an 8-byte read into an 8-byte local; the helper copes with any address and
    // zeroes the destination on failure.
    let ret = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(
            core::ptr::addr_of_mut!(v).cast(),
            8,
            addr as *const core::ffi::c_void,
        )
    };
    (v, ret)
}

/// A `struct task_struct *`, kept as an address: every access goes through the probe-read
/// helper, so the same code serves BTF pointers and `bpf_get_current_task()`.
#[derive(Clone, Copy)]
pub struct Task(pub u64);

impl Task {
    #[inline(always)]
    pub fn current() -> Task {
        // SAFETY: always valid in a tracing program.
        Task(unsafe { bpf_get_current_task() })
    }

    #[inline(always)]
    pub fn pid(self) -> Result<u32, ReadError> {
        read_at::<u32>(self.0, conf!(task_pid))
    }

    #[inline(always)]
    pub fn tgid(self) -> Result<u32, ReadError> {
        read_at::<u32>(self.0, conf!(task_tgid))
    }

    #[inline(always)]
    pub fn real_parent(self) -> Result<Task, ReadError> {
        read_at::<u64>(self.0, conf!(task_real_parent)).map(Task)
    }

    #[inline(always)]
    pub fn group_leader(self) -> Result<Task, ReadError> {
        read_at::<u64>(self.0, conf!(task_group_leader)).map(Task)
    }

    #[inline(always)]
    pub fn start_boottime(self) -> Result<u64, ReadError> {
        read_at::<u64>(self.0, conf!(task_start_boottime))
    }

    #[inline(always)]
    pub fn signal(self) -> Result<u64, ReadError> {
        read_at::<u64>(self.0, conf!(task_signal))
    }

    /// Copy `task->comm` into `out`; leaves it zeroed on failure.
    #[inline(always)]
    pub fn comm(self, out: &mut [u8; COMM_LEN]) {
        let off = conf!(task_comm);
        if off == ABSENT || self.0 == 0 {
            return;
        }
        // SAFETY: probe read of a fixed 16-byte array into a 16-byte buffer.
        if unsafe { bpf_probe_read_kernel_buf((self.0 + off as u64) as *const u8, out) }.is_err() {
            count(counter::KERNEL_READ_FAILED);
        }
    }

    /// Effective uid (`cred->euid`), or [`ABSENT`] when it cannot be read.
    #[inline(always)]
    pub fn euid(self) -> u32 {
        read_at::<u64>(self.0, conf!(task_cred))
            .and_then(|cred| read_at::<u32>(cred, conf!(cred_euid)))
            .unwrap_or(ABSENT)
    }

    /// Level of the pid namespace the task lives in (0: the initial one), or [`ABSENT`].
    #[inline(always)]
    pub fn pid_ns_level(self) -> u32 {
        read_at::<u64>(self.0, conf!(task_thread_pid))
            .and_then(|pid| read_at::<u32>(pid, conf!(pid_level)))
            .unwrap_or(ABSENT)
    }

    /// Tgid of the real parent (what getppid() returns), or 0.
    #[inline(always)]
    pub fn ppid(self) -> u32 {
        self.real_parent().and_then(Task::tgid).unwrap_or(0)
    }

    /// start_boottime of this task's group leader (the process start), or 0.
    #[inline(always)]
    pub fn process_start(self) -> u64 {
        self.group_leader()
            .and_then(Task::start_boottime)
            .unwrap_or(0)
    }
}

/// Real uid of the current task (bpf_get_current_uid_gid: low 32 bits).
#[inline(always)]
pub fn current_uid() -> u32 {
    aya_ebpf::helpers::bpf_get_current_uid_gid() as u32
}

#[inline(always)]
pub fn boot_ns() -> u64 {
    // SAFETY: no preconditions.
    unsafe { aya_ebpf::helpers::bpf_ktime_get_boot_ns() }
}
