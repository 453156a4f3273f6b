//! The small system kit shared by proctrace's test programs (`proctrace-scenario`,
//! `proctrace-workload`) and its privileged suite: raw fork/wait so that what a test does is
//! exactly what it names, pipes for handing pids between processes, and CLOCK_BOOTTIME, the
//! clock of proctrace's `ktime_ns`.
use std::io;

pub mod usage;

/// CLOCK_BOOTTIME now, in ns: the clock of proctrace's `ktime_ns`.
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer; CLOCK_BOOTTIME cannot fail on Linux ≥ 2.6.39.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The calling thread's id (`task->pid`).
pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Where a fork returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent { child: libc::pid_t },
}

/// fork(2).
///
/// # Safety
/// As for `libc::fork`: in a multi-threaded process the child may only call
/// async-signal-safe functions before it execs or exits.
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller keeps the child to what is safe after fork (see above).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        child => Ok(Forked::Parent { child }),
    }
}

/// waitpid(pid, 0), retried on EINTR: reaps `pid` and returns its raw wait status.
pub fn wait_status(pid: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: plain syscall with a valid pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if ret != -1 || err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// A pipe for handing pids between the processes of a test: `[read, write]`.
pub fn pipe(flags: i32) -> io::Result<[i32; 2]> {
    let mut fds = [0i32; 2];
    // SAFETY: valid pointer to two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fds)
}

/// Writes `pid` (4 bytes: atomic on a pipe).
pub fn send_pid(fd: i32, pid: i32) {
    let b = pid.to_ne_bytes();
    // SAFETY: valid 4-byte buffer.
    unsafe { libc::write(fd, b.as_ptr().cast(), 4) };
}

/// Reads one pid; `None` when none is there (a non-blocking pipe) or the writers are gone.
pub fn recv_pid(fd: i32) -> Option<i32> {
    let mut b = [0u8; 4];
    // SAFETY: valid 4-byte buffer.
    (unsafe { libc::read(fd, b.as_mut_ptr().cast(), 4) } == 4).then(|| i32::from_ne_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_wait_and_a_pid_through_a_pipe() {
        let [rd, wr] = pipe(0).expect("pipe");
        // SAFETY: the child only writes to a pipe and _exits.
        match unsafe { fork() }.expect("fork") {
            Forked::Child => {
                send_pid(wr, gettid());
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(3) }
            }
            Forked::Parent { child } => {
                assert_eq!(recv_pid(rd), Some(child));
                let status = wait_status(child).expect("wait");
                assert!(libc::WIFEXITED(status));
                assert_eq!(libc::WEXITSTATUS(status), 3);
                assert!(wait_status(child).is_err(), "a reaped child is gone");
            }
        }
    }

    #[test]
    fn boottime_moves_forward() {
        let a = boottime_ns();
        let b = boottime_ns();
        assert!(a > 0 && b >= a);
    }
}
