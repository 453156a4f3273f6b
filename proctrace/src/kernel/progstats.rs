//! Events the kernel never handed to our programs. A tracing program that would nest in
//! another one on the same CPU is skipped and only counted in the program's
//! `recursion_misses` (kernel/trace/bpf_trace.c: trace_call_bpf() shares one per-CPU
//! `bpf_prog_active` among every kprobe and classic-tracepoint program, so a
//! `sched_process_free` that fires in a softirq while any of them runs in task context is
//! dropped; __bpf_trace_run() does the same per program for tp_btf). Nothing reaches the ring
//! buffer, so only these counters tell: they are read with the other loss counters.
use std::{
    io,
    mem::{size_of, zeroed},
    os::fd::{AsFd, AsRawFd, BorrowedFd},
};

use aya::{programs::ProgramFd, Ebpf};
use aya_obj::generated::bpf_prog_info;

use crate::{kernel::loader::job_of, output::record::HookCounts};

/// include/uapi/linux/bpf.h: enum bpf_cmd.
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

/// The `info` member of `union bpf_attr`.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The programs whose misses are counted, with their job: every loaded one (an alternative
/// that was not attached never runs, so it adds 0).
pub struct ProgStats {
    fds: Vec<(&'static str, ProgramFd)>,
}

impl ProgStats {
    pub fn new(ebpf: &Ebpf) -> ProgStats {
        let fds = ebpf
            .programs()
            .filter_map(|(name, p)| Some((job_of(name)?, p.fd().ok()?.try_clone().ok()?)))
            .collect();
        ProgStats { fds }
    }

    /// Runs skipped so far, per job. A program whose counter cannot be read adds 0: the
    /// counter exists since Linux 5.12, and older kernels report nothing here.
    pub fn recursion_misses(&self) -> HookCounts {
        let mut counts = HookCounts::default();
        for (job, fd) in &self.fds {
            let misses = recursion_misses(fd.as_fd()).unwrap_or(0);
            if let Some(c) = counts.get_mut(job) {
                *c = c.saturating_add(misses);
            }
        }
        counts
    }
}

/// `bpf_prog_info.recursion_misses` of one program.
pub fn recursion_misses(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: plain-data kernel struct; all-zero is valid.
    let mut info: bpf_prog_info = unsafe { zeroed() };
    let attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of::<bpf_prog_info>() as u32,
        info: &mut info as *mut bpf_prog_info as u64,
    };
    // SAFETY: attr points at `info`, which is valid for `info_len` bytes; the kernel writes at
    // most that many (kernel/bpf/syscall.c: bpf_prog_get_info_by_fd).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &attr as *const InfoAttr,
            size_of::<InfoAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info.recursion_misses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_struct_reaches_recursion_misses() {
        // The kernel copies min(info_len, its size): the field must lie inside what we pass
        // (it sits at byte 208 of struct bpf_prog_info since Linux 5.12).
        let offset = std::mem::offset_of!(bpf_prog_info, recursion_misses);
        assert_eq!(offset, 208);
        assert!(offset + size_of::<u64>() <= size_of::<bpf_prog_info>());
        assert_eq!(size_of::<InfoAttr>(), 16);
    }

    #[test]
    fn a_file_that_is_no_program_is_an_error() {
        let file = std::fs::File::open("/dev/null").expect("/dev/null");
        let err = recursion_misses(file.as_fd()).expect_err("not a BPF program");
        // EINVAL (not a BPF object) unprivileged or not, or EPERM where bpf() is forbidden.
        assert!(
            matches!(
                err.raw_os_error(),
                Some(libc::EINVAL | libc::EPERM | libc::EBADF)
            ),
            "{err}"
        );
    }
}
