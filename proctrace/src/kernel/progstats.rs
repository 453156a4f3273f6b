//! Events the kernel never handed to our programs. A tracing program that would nest in
//! another one on the same CPU is skipped and only counted in the program's
//! `recursion_misses` (kernel/trace/bpf_trace.c: trace_call_bpf() shares one per-CPU
//! `bpf_prog_active` among every kprobe and classic-tracepoint program, so a
//! `sched_process_free` that fires in a softirq while any of them runs in task context is
//! dropped; __bpf_trace_run() does the same per program for tp_btf). Nothing reaches the ring
//! buffer, so only these counters tell: they are read with the other loss counters.
use std::{
    io,
    mem::{offset_of, size_of, zeroed},
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

/// What `start.unsupported` says when the kernel keeps no such counter (the name of the
/// output field that then cannot be measured).
pub const UNSUPPORTED_RECURSION: &str = "lost.causes.recursion";

/// The programs whose misses are counted, with their job: every loaded one (an alternative
/// that was not attached never runs, so it adds 0). Empty when the kernel keeps no counter.
pub struct ProgStats {
    fds: Vec<(&'static str, ProgramFd)>,
}

impl ProgStats {
    pub fn new(ebpf: &Ebpf) -> ProgStats {
        let fds: Vec<_> = ebpf
            .programs()
            .filter_map(|(name, p)| Some((job_of(name)?, p.fd().ok()?.try_clone().ok()?)))
            .collect();
        // Reading a counter the kernel does not have would only add 0s, every second.
        let counted = fds.first().is_some_and(|(_, fd)| kernel_counts(fd.as_fd()));
        ProgStats {
            fds: if counted { fds } else { Vec::new() },
        }
    }

    /// Runs skipped so far, per job. A program whose counter cannot be read adds 0; a kernel
    /// without the counter (before Linux 5.12) adds nothing, and `start.unsupported` says so
    /// ([`kernel_counts_recursion`]), so the 0s are never taken for measured ones.
    pub fn recursion_misses(&self) -> HookCounts {
        let mut counts = HookCounts::default();
        for (job, fd) in &self.fds {
            let misses = recursion_misses(fd.as_fd()).ok().flatten().unwrap_or(0);
            if let Some(c) = counts.get_mut(job) {
                *c = c.saturating_add(misses);
            }
        }
        counts
    }
}

/// Whether the kernel counts skipped runs of the loaded programs, asked of the first one:
/// the layout of `bpf_prog_info` is the kernel's, the same for every program.
pub fn kernel_counts_recursion(ebpf: &Ebpf) -> bool {
    ebpf.programs()
        .filter(|(name, _)| job_of(name).is_some())
        .find_map(|(_, p)| p.fd().ok().map(|fd| kernel_counts(fd.as_fd())))
        .unwrap_or(false)
}

/// A read error (e.g. EPERM from a security module) is not the kernel lacking the counter:
/// only a short `bpf_prog_info` is.
fn kernel_counts(fd: BorrowedFd<'_>) -> bool {
    !matches!(recursion_misses(fd), Ok(None))
}

/// `bpf_prog_info.recursion_misses` of one program, or `None` when the kernel's
/// `bpf_prog_info` ends before it (Linux 5.10 and 5.11): the kernel fills
/// min(our size, its size) bytes and writes that length back into `info_len`, so a short
/// length, not a 0 in the field, tells that the counter does not exist.
pub fn recursion_misses(fd: BorrowedFd<'_>) -> io::Result<Option<u64>> {
    // SAFETY: plain-data kernel struct; all-zero is valid.
    let mut info: bpf_prog_info = unsafe { zeroed() };
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of::<bpf_prog_info>() as u32,
        info: &mut info as *mut bpf_prog_info as u64,
    };
    // SAFETY: attr points at `info`, which is valid for `info_len` bytes; the kernel writes at
    // most that many (kernel/bpf/syscall.c: bpf_prog_get_info_by_fd), and the length it
    // filled into `attr`, which is ours and writable.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &mut attr as *mut InfoAttr,
            size_of::<InfoAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(reaches_recursion_misses(attr.info_len).then_some(info.recursion_misses))
}

/// Whether `info_len` filled bytes of `bpf_prog_info` include `recursion_misses`.
fn reaches_recursion_misses(info_len: u32) -> bool {
    let end = offset_of!(bpf_prog_info, recursion_misses) + size_of::<u64>();
    usize::try_from(info_len).is_ok_and(|len| len >= end)
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
    fn a_short_info_struct_has_no_counter() {
        // Linux 5.10's struct bpf_prog_info ends at byte 208 (after run_cnt); 5.12
        // added recursion_misses there.
        assert!(!reaches_recursion_misses(208));
        assert!(!reaches_recursion_misses(212));
        assert!(reaches_recursion_misses(216));
        assert!(reaches_recursion_misses(size_of::<bpf_prog_info>() as u32));
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
