//! The reap moment: a wait-family syscall returning a child's pid, in the reaper's context.
//! wait_task_zombie() (kernel/exit.c) has released the child before the syscall returns, so
//! the syscall-exit tracepoint gives the reap time and the reaper exactly. Not every such
//! return is a reap (stopped/continued children too): userspace decides with the status.
use aya_ebpf::{
    helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext, EbpfContext,
};
use proctrace_common::{counter, kind, EventHeader, WaitEvent, ABSENT};

use crate::{
    config::conf,
    maps::{count, submit, WaitArgs, WAIT_ARGS},
    task::{boot_ns, read_at, ReadError, Task},
};

const SYSCALL_WAIT4: u32 = 0;
const SYSCALL_WAITID: u32 = 1;
/// include/uapi/linux/wait.h: WNOWAIT leaves the child waitable, so it is no reap.
const WNOWAIT: u64 = 0x0100_0000;
/// include/uapi/asm-generic/siginfo.h: SIGCHLD si_codes.
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_DUMPED: i32 = 3;

#[tracepoint(category = "syscalls", name = "sys_enter_wait4")]
pub fn wait4_enter(ctx: TracePointContext) -> u32 {
    let ptr = read_at::<u64>(ctx.as_ptr() as u64, conf!(wait4_stat_addr)).unwrap_or(0);
    save(ptr, SYSCALL_WAIT4);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_waitid")]
pub fn waitid_enter(ctx: TracePointContext) -> u32 {
    let rec = ctx.as_ptr() as u64;
    let options = read_at::<u64>(rec, conf!(waitid_options)).unwrap_or(0);
    if options & WNOWAIT != 0 {
        return 0;
    }
    let ptr = read_at::<u64>(rec, conf!(waitid_infop)).unwrap_or(0);
    save(ptr, SYSCALL_WAITID);
    0
}

#[inline(always)]
fn save(user_ptr: u64, syscall: u32) {
    let tid = aya_ebpf::helpers::bpf_get_current_pid_tgid() as u32;
    let _ = WAIT_ARGS.insert(
        tid,
        WaitArgs {
            user_ptr,
            syscall,
            _pad: 0,
        },
        0,
    );
}

/// wait4 returns the reaped pid.
#[tracepoint(category = "syscalls", name = "sys_exit_wait4")]
pub fn wait4_exit(ctx: TracePointContext) -> u32 {
    match try_exit(&ctx, SYSCALL_WAIT4) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

/// waitid returns 0 and reports the child in `infop->si_pid`.
#[tracepoint(category = "syscalls", name = "sys_exit_waitid")]
pub fn waitid_exit(ctx: TracePointContext) -> u32 {
    match try_exit(&ctx, SYSCALL_WAITID) {
        Ok(()) => 0,
        Err(ReadError) => {
            count(counter::DROPPED_REAP);
            0
        }
    }
}

/// Leading fields of the SIGCHLD member of `siginfo_t` (include/uapi/asm-generic/siginfo.h):
/// si_signo, si_errno, si_code, padding to the union at 16, then si_pid, si_uid, si_status.
#[repr(C)]
#[derive(Clone, Copy)]
struct SigchldInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    status: i32,
}

fn try_exit(ctx: &TracePointContext, syscall: u32) -> Result<(), ReadError> {
    let tid = aya_ebpf::helpers::bpf_get_current_pid_tgid() as u32;
    // SAFETY: plain-data value copied out before removal.
    let saved = unsafe { WAIT_ARGS.get(tid) }.copied();
    let _ = WAIT_ARGS.remove(tid);
    let args = match saved {
        Some(args) if args.syscall == syscall => args,
        // A wait4 that entered before we attached (a shell blocked in wait while proctrace
        // starts): its return value still names the child, only the status is unknown.
        _ if syscall == SYSCALL_WAIT4 => WaitArgs {
            user_ptr: 0,
            syscall,
            _pad: 0,
        },
        _ => return Ok(()),
    };
    let ret = read_at::<i64>(ctx.as_ptr() as u64, conf!(sys_exit_ret))?;
    let (reaped, status) = if syscall == SYSCALL_WAIT4 {
        if ret <= 0 {
            return Ok(());
        }
        let status = if args.user_ptr != 0 {
            // SAFETY: user pointer the caller passed; the kernel just wrote it (put_user).
            unsafe { bpf_probe_read_user(args.user_ptr as *const u32) }.unwrap_or(ABSENT)
        } else {
            ABSENT
        };
        (ret as u32, status)
    } else {
        if ret != 0 || args.user_ptr == 0 {
            return Ok(());
        }
        // SAFETY: as above, the kernel filled infop before returning. A failed read loses
        // the reaped pid: a dropped record.
        let Ok(info) = (unsafe { bpf_probe_read_user(args.user_ptr as *const SigchldInfo) }) else {
            return Err(ReadError);
        };
        // WNOHANG with nothing to report leaves si_pid 0.
        if info.pid <= 0 {
            return Ok(());
        }
        let status = match info.code {
            CLD_EXITED => ((info.status as u32) & 0xff) << 8,
            CLD_KILLED => (info.status as u32) & 0x7f,
            CLD_DUMPED => ((info.status as u32) & 0x7f) | 0x80,
            // Stopped/trapped/continued: not terminated (wait.h: 0x7f low byte = stopped).
            _ => 0x7f,
        };
        (info.pid as u32, status)
    };
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let (tid, pid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let current = Task::current();
    let ppid = current.ppid();
    let ns_level = current.pid_ns_level();
    submit(|| WaitEvent {
        header: EventHeader::new(kind::WAIT, tid, pid, ppid, boot_ns()),
        reaped,
        status,
        _pad: 0,
        ns_level,
    });
    Ok(())
}
