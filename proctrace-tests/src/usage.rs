//! `proctrace-scenario usage <what> [args]`: a child that uses a known resource, collected
//! with wait4(), whose `struct rusage` is the oracle for proctrace's `usage`. Prints one JSON
//! line: the child's pid and its rusage (and, for `children`, what the child's own
//! getrusage(RUSAGE_CHILDREN) said just before it exited).
//!
//! - `user MS`: burns MS ms of user CPU;
//! - `system MS`: spends MS ms in read(2) from /dev/zero (clear_user: system time);
//! - `touch MIB`: maps MIB MiB, writes every page, exits;
//! - `exec-after-touch MIB PATH`: this process touches MIB MiB, then the child execs PATH
//!   (the maxrss trap: the child's kernel maxrss includes this image);
//! - `exec-touch MIB`: the child execs this program again to touch MIB MiB (`self-touch`,
//!   run in place): a peak above what exec inherited;
//! - `write MIB PATH`: writes MIB MiB to PATH, fsyncs, exits;
//! - `threads N MS`: N threads burn MS ms each and are joined before the exit;
//! - `threads-exit N MS`: N threads burn until main calls exit_group after MS ms;
//! - `leader-first MS`: the main thread burns MS ms and ends itself (exit(2)), a second
//!   thread burns MS ms more and ends the process: the leader is a zombie thread meanwhile,
//!   its time not yet folded into signal_struct;
//! - `children MS`: the child waits for a grandchild that burns MS ms of user CPU.
use std::{
    ffi::CString,
    io::Write,
    os::fd::{FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use crate::{fork, Forked};

const MIB: usize = 1 << 20;

/// Runs the scenario; the exit status of `proctrace-scenario`.
pub fn main(args: &[String]) -> i32 {
    let what = args.first().map(String::as_str).unwrap_or("");
    let num = |i: usize| -> u64 { args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0) };
    let path = |i: usize| args.get(i).cloned().unwrap_or_default();
    let (pid, children) = match what {
        "user" => (spawn(|| burn(num(1))), None),
        "system" => (spawn(|| in_kernel(num(1))), None),
        "touch" => (spawn(|| drop(touch(num(1) as usize))), None),
        "exec-after-touch" => {
            let held = touch(num(1) as usize);
            let prog = path(2);
            let pid = spawn(move || exec(&prog));
            drop(held);
            (pid, None)
        }
        "exec-touch" => {
            let mib = path(1);
            (spawn(move || exec_self_touch(&mib)), None)
        }
        "self-touch" => {
            drop(touch(num(1) as usize));
            return 0;
        }
        "write" => {
            let (mib, file) = (num(1) as usize, path(2));
            (spawn(move || write_file(mib, &file)), None)
        }
        "threads" => {
            let (n, ms) = (num(1), num(2));
            (spawn(move || threads_joined(n, ms)), None)
        }
        "threads-exit" => {
            let (n, ms) = (num(1), num(2));
            (spawn(move || threads_then_exit(n, ms)), None)
        }
        "leader-first" => {
            let ms = num(1);
            (spawn(move || leader_first(ms)), None)
        }
        "children" => {
            let (pid, report) = spawn_reporting(num(1));
            (pid, Some(report))
        }
        _ => {
            eprintln!("usage: proctrace-scenario usage <user|system|touch|exec-after-touch|write|threads|threads-exit|leader-first|children> [args]");
            return 2;
        }
    };
    let Some(pid) = pid else {
        eprintln!("fork failed: {}", std::io::Error::last_os_error());
        return 1;
    };
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    // SAFETY: valid pointers; `pid` is our child.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut ru) } != pid {
        eprintln!("wait4 failed: {}", std::io::Error::last_os_error());
        return 1;
    }
    let children = children.map_or("null".to_owned(), |c| c);
    println!(
        "{{\"pid\":{pid},\"status\":{status},\"rusage\":{},\"children\":{children}}}",
        rusage_json(&ru)
    );
    0
}

/// `{"user_ns":..,"system_ns":..,"maxrss_bytes":..,...}` of `ru`.
fn rusage_json(ru: &libc::rusage) -> String {
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    format!(
        "{{\"user_ns\":{},\"system_ns\":{},\"maxrss_bytes\":{},\"minflt\":{},\"majflt\":{},\
         \"nvcsw\":{},\"nivcsw\":{},\"inblock\":{},\"oublock\":{}}}",
        ns(ru.ru_utime),
        ns(ru.ru_stime),
        ru.ru_maxrss as u64 * 1024,
        ru.ru_minflt,
        ru.ru_majflt,
        ru.ru_nvcsw,
        ru.ru_nivcsw,
        ru.ru_inblock,
        ru.ru_oublock
    )
}

/// Forks a child that runs `body` and exits 0.
fn spawn(body: impl FnOnce()) -> Option<libc::pid_t> {
    // SAFETY: the child runs `body` (this program is single-threaded here) and exits.
    match unsafe { fork() } {
        Ok(Forked::Child) => {
            body();
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(0) }
        }
        Ok(Forked::Parent { child }) => Some(child),
        Err(_) => None,
    }
}

fn burn(ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut x = 0u64;
    // Clock reads far apart: under qemu TCG each one is a syscall, system time.
    while Instant::now() < until {
        for i in 0..1_000_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
}

fn in_kernel(ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    let Ok(mut zero) = std::fs::File::open("/dev/zero") else {
        return;
    };
    let mut buf = vec![0u8; 256 << 10];
    while Instant::now() < until {
        let _ = std::io::Read::read(&mut zero, &mut buf);
    }
}

/// `mib` MiB, every page written.
fn touch(mib: usize) -> Vec<u8> {
    let mut v = vec![0u8; mib * MIB];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    v
}

fn exec(prog: &str) {
    let Ok(p) = CString::new(prog) else { return };
    let argv = [p.as_ptr(), std::ptr::null()];
    // SAFETY: NUL-terminated argv of valid C strings.
    unsafe { libc::execv(p.as_ptr(), argv.as_ptr()) };
}

fn exec_self_touch(mib: &str) {
    let (Ok(me), Ok(mib)) = (CString::new("/proc/self/exe"), CString::new(mib)) else {
        return;
    };
    let argv = [
        c"proctrace-scenario".as_ptr(),
        c"usage".as_ptr(),
        c"self-touch".as_ptr(),
        mib.as_ptr(),
        std::ptr::null(),
    ];
    // SAFETY: NUL-terminated argv of valid C strings.
    unsafe { libc::execv(me.as_ptr(), argv.as_ptr()) };
}

fn write_file(mib: usize, path: &str) {
    let Ok(mut f) = std::fs::File::create(path) else {
        return;
    };
    let chunk = vec![0x5au8; MIB];
    for _ in 0..mib {
        if f.write_all(&chunk).is_err() {
            return;
        }
    }
    let _ = f.sync_all();
}

fn threads_joined(n: u64, ms: u64) {
    let handles: Vec<_> = (0..n)
        .map(|_| std::thread::spawn(move || burn(ms)))
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

fn threads_then_exit(n: u64, ms: u64) {
    for _ in 0..n {
        std::thread::spawn(|| burn(u64::MAX / 2));
    }
    std::thread::sleep(Duration::from_millis(ms));
    // SAFETY: exit_group with the other threads still running: the case being tested.
    unsafe { libc::_exit(0) }
}

fn leader_first(ms: u64) {
    std::thread::spawn(move || {
        burn(2 * ms);
        // SAFETY: the process ends with its last thread.
        unsafe { libc::_exit(0) }
    });
    burn(ms);
    // The raw exit(2) ends only the calling thread (pthread_exit would unwind through Rust's
    // main, which aborts); the process lives on in the other one.
    // SAFETY: nothing of this thread is used afterwards.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
}

/// A child that reaps a grandchild burning `ms` ms, then writes its own
/// getrusage(RUSAGE_CHILDREN) to a pipe; returns the child and that report.
fn spawn_reporting(ms: u64) -> (Option<libc::pid_t>, String) {
    let mut fds = [0; 2];
    // SAFETY: valid array of two fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return (None, String::new());
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // The closure runs in the child only; it takes its end of the pipe there.
    let pid = spawn(move || {
        // SAFETY: the fds were just created; in the child, this is their only owner.
        let (read, write) = unsafe {
            (
                OwnedFd::from_raw_fd(read_fd),
                OwnedFd::from_raw_fd(write_fd),
            )
        };
        drop(read);
        if let Some(grandchild) = spawn(|| burn(ms)) {
            let mut status = 0;
            // SAFETY: our own child.
            unsafe { libc::waitpid(grandchild, &mut status, 0) };
        }
        // SAFETY: an all-zero rusage is valid; getrusage fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
        let _ = std::fs::File::from(write).write_all(rusage_json(&ru).as_bytes());
    });
    // SAFETY: as above, in this process.
    let (read, write) = unsafe {
        (
            OwnedFd::from_raw_fd(read_fd),
            OwnedFd::from_raw_fd(write_fd),
        )
    };
    drop(write);
    let mut report = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(read), &mut report);
    (pid, report)
}
