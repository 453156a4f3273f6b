//! proctrace-workload: the process-churn generators of `cargo xtask bench`.
//!
//! ```text
//! proctrace-workload KIND [--count N] [--workers W] [--exec PATH] [--exec-every K]
//!                         [--batch B] [--hold-ms H] [--long L] [--long-min-ms M]
//!                         [--progress-ms P]
//! ```
//!
//! KIND:
//! - `exec`: fork + execve(PATH) + waitpid, N processes;
//! - `fork`: fork + _exit(0) + waitpid, N processes;
//! - `thread`: create B threads that exit at once, join them, repeat: N threads;
//! - `zombie`: batches of B children (half of them exec PATH, half exit at once) left
//!   unreaped for H ms, then reaped; plus L children per worker kept as zombies until the end
//!   (at least M ms, above proctrace's 1 s zombie threshold);
//! - `mix`: fork + waitpid where every K-th child execs PATH and the others exit at once
//!   (the soak workload);
//! - `syscall`: N getppid() calls, made through syscall(2) so that no libc can answer from a
//!   cache, and no process created but the workers: what a tracer's hooks cost every
//!   syscall of every program (syscall tracepoints send all of them through the tracing slow
//!   path), apart from any churn.
//!
//! The work is split over W worker processes (default: 2 per CPU) forked at the start, so the
//! churn keeps every CPU busy. The last line on stdout is one JSON object:
//! `{"workload":..,"processes":..,"threads":..,"syscalls":..,"workers":..,"failures":..,
//! "elapsed_s":..,"cpu_s":..}` where `processes` counts every process created (children and
//! workers), `syscalls` the calls of `syscall` (0 for the others),
//! `elapsed_s` is the time from the first fork to the last reap and `cpu_s` the CPU time of
//! the whole process tree. With `--progress-ms`, lines
//! `{"progress":<processes so far>,"elapsed_s":..}` come before it.

use proctrace_tests::{fork, Forked};
use std::{
    ffi::CString,
    process::ExitCode,
    ptr,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Exec,
    Fork,
    Thread,
    Zombie,
    Mix,
    Syscall,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "exec" => Kind::Exec,
            "fork" => Kind::Fork,
            "thread" => Kind::Thread,
            "zombie" => Kind::Zombie,
            "mix" => Kind::Mix,
            "syscall" => Kind::Syscall,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Fork => "fork",
            Kind::Thread => "thread",
            Kind::Zombie => "zombie",
            Kind::Mix => "mix",
            Kind::Syscall => "syscall",
        }
    }
}

#[derive(Debug)]
struct Options {
    kind: Kind,
    count: u64,
    workers: u64,
    exec: String,
    exec_every: u64,
    batch: u64,
    hold_ms: u64,
    long: u64,
    long_min_ms: u64,
    progress_ms: Option<u64>,
}

const USAGE: &str = "usage: proctrace-workload exec|fork|thread|zombie|mix|syscall \
[--count N] \
[--workers W] [--exec PATH] [--exec-every K] [--batch B] [--hold-ms H] [--long L] \
[--long-min-ms M] [--progress-ms P]";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut it = args.iter();
    let kind = it
        .next()
        .and_then(|k| Kind::parse(k))
        .ok_or_else(|| USAGE.to_owned())?;
    let cpus = thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let mut opts = Options {
        kind,
        count: 2000,
        workers: 2 * cpus,
        exec: "/bin/true".to_owned(),
        exec_every: 10,
        batch: 32,
        hold_ms: 20,
        long: 4,
        long_min_ms: 1200,
        progress_ms: None,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--count" => opts.count = num()?,
            "--workers" => opts.workers = num()?.max(1),
            "--exec" => opts.exec = value.clone(),
            "--exec-every" => opts.exec_every = num()?.max(1),
            "--batch" => opts.batch = num()?.max(1),
            "--hold-ms" => opts.hold_ms = num()?,
            "--long" => opts.long = num()?,
            "--long-min-ms" => opts.long_min_ms = num()?,
            "--progress-ms" => opts.progress_ms = Some(num()?.max(10)),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(opts)
}

/// Counters shared by the workers and the main process (a MAP_SHARED page, so forked
/// workers update the same memory).
struct Shared {
    created: AtomicU64,
    failures: AtomicU64,
    /// Calls made by `syscall` (kept apart from `created`: they are not tasks).
    syscalls: AtomicU64,
}

fn shared_page() -> &'static Shared {
    // SAFETY: an anonymous shared mapping, never unmapped; zeroed atomics are valid.
    unsafe {
        let p = libc::mmap(
            ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert!(p != libc::MAP_FAILED, "mmap failed");
        &*(p as *const Shared)
    }
}

/// What a child does right after fork(): only async-signal-safe calls.
#[derive(Clone, Copy)]
enum Child {
    Exit,
    Exec,
}

struct Exec {
    path: CString,
    argv: [*const libc::c_char; 2],
    envp: [*const libc::c_char; 1],
}

impl Exec {
    fn new(path: &str) -> Exec {
        let path = CString::new(path).expect("--exec has no NUL");
        let argv = [path.as_ptr(), ptr::null()];
        Exec {
            path,
            argv,
            envp: [ptr::null()],
        }
    }
}

/// fork(); the child exits or execs at once. Returns the child's pid (None if fork failed).
fn spawn(child: Child, exec: &Exec) -> Option<libc::pid_t> {
    // SAFETY: the child only calls execve and _exit, both async-signal-safe; the argument
    // arrays were built before the fork.
    match unsafe { fork() }.ok()? {
        // SAFETY: as above, only async-signal-safe calls in the child.
        Forked::Child => unsafe {
            if let Child::Exec = child {
                libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
                libc::_exit(127);
            }
            libc::_exit(0)
        },
        Forked::Parent { child } => Some(child),
    }
}

/// waitpid; true when the child exited with status 0.
fn reap(pid: libc::pid_t) -> bool {
    proctrace_tests::wait_status(pid)
        .is_ok_and(|status| libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

fn worker(opts: &Options, share: u64, shared: &Shared) {
    let exec = Exec::new(&opts.exec);
    let fail = || {
        shared.failures.fetch_add(1, Ordering::Relaxed);
    };
    let created = |n: u64| {
        shared.created.fetch_add(n, Ordering::Relaxed);
    };
    match opts.kind {
        Kind::Exec | Kind::Fork | Kind::Mix => {
            for i in 0..share {
                let what = match opts.kind {
                    Kind::Exec => Child::Exec,
                    Kind::Mix if i % opts.exec_every == 0 => Child::Exec,
                    _ => Child::Exit,
                };
                match spawn(what, &exec) {
                    Some(pid) => {
                        if !reap(pid) {
                            fail();
                        }
                        created(1);
                    }
                    None => fail(),
                }
            }
        }
        Kind::Thread => {
            // `--batch` threads at a time, then join them all.
            let mut remaining = share;
            let mut batch = Vec::with_capacity(opts.batch as usize);
            while remaining > 0 {
                let n = opts.batch.min(remaining);
                for _ in 0..n {
                    match thread::Builder::new().stack_size(64 * 1024).spawn(|| {}) {
                        Ok(handle) => batch.push(handle),
                        Err(_) => fail(),
                    }
                }
                for handle in batch.drain(..) {
                    if handle.join().is_err() {
                        fail();
                    }
                    created(1);
                }
                remaining -= n;
            }
        }
        Kind::Syscall => {
            shared
                .syscalls
                .fetch_add(syscalls(share), Ordering::Relaxed);
        }
        Kind::Zombie => {
            let start = Instant::now();
            let long_n = opts.long.min(share);
            let long: Vec<libc::pid_t> = (0..long_n)
                .filter_map(|_| spawn(Child::Exit, &exec))
                .collect();
            let mut remaining = share - long_n;
            let mut batch = Vec::with_capacity(opts.batch as usize);
            while remaining > 0 {
                let n = opts.batch.min(remaining);
                for i in 0..n {
                    let what = if i % 2 == 0 { Child::Exit } else { Child::Exec };
                    match spawn(what, &exec) {
                        Some(pid) => batch.push(pid),
                        None => fail(),
                    }
                }
                thread::sleep(Duration::from_millis(opts.hold_ms));
                for pid in batch.drain(..) {
                    if !reap(pid) {
                        fail();
                    }
                    created(1);
                }
                remaining -= n;
            }
            let min = Duration::from_millis(opts.long_min_ms);
            if let Some(left) = min.checked_sub(start.elapsed()) {
                thread::sleep(left);
            }
            for pid in &long {
                if !reap(*pid) {
                    fail();
                }
                created(1);
            }
            if (long.len() as u64) < long_n {
                shared
                    .failures
                    .fetch_add(long_n - long.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// `n` getppid() calls; returns how many were made. libc::syscall rather than
/// libc::getppid: glibc has cached getpid() in the past, and a cached call never enters the
/// kernel, which is the only place a tracer's hooks can tax it.
fn syscalls(n: u64) -> u64 {
    for _ in 0..n {
        // SAFETY: getppid takes no arguments and cannot fail. An opaque call into libc: the
        // compiler cannot drop or merge it.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    n
}

/// User + system time of this process or of its reaped descendants (every child here is
/// waited for, so RUSAGE_CHILDREN covers the whole tree, including the time the kernel spent
/// in tracers' BPF programs on its behalf).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let shared = shared_page();
    let workers = opts.workers.min(opts.count.max(1));
    let start = Instant::now();
    let mut pids = Vec::new();
    for w in 0..workers {
        let share = opts.count / workers + u64::from(w < opts.count % workers);
        // SAFETY: single-threaded here; the child runs the worker loop and _exits.
        match unsafe { fork() } {
            Err(err) => {
                eprintln!("fork: {err}");
                return ExitCode::FAILURE;
            }
            Ok(Forked::Child) => {
                worker(&opts, share, shared);
                // SAFETY: leave without running the parent's atexit handlers twice.
                unsafe { libc::_exit(0) }
            }
            Ok(Forked::Parent { child }) => pids.push(child),
        }
    }
    // Threads only after every fork above.
    let done = Arc::new(AtomicBool::new(false));
    let progress = opts.progress_ms.map(|ms| {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(ms));
                let n = shared.created.load(Ordering::Relaxed);
                println!(
                    "{{\"progress\":{},\"elapsed_s\":{:.3}}}",
                    n + workers,
                    start.elapsed().as_secs_f64()
                );
            }
        })
    });
    let mut failures = 0;
    for pid in pids {
        if !reap(pid) {
            failures += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(handle) = progress {
        let _ = handle.join();
    }
    failures += shared.failures.load(Ordering::Relaxed);
    let created = shared.created.load(Ordering::Relaxed);
    let syscalls = shared.syscalls.load(Ordering::Relaxed);
    let (processes, threads) = match opts.kind {
        Kind::Thread => (workers, created),
        _ => (created + workers, 0),
    };
    let cpu = cpu_seconds(libc::RUSAGE_SELF) + cpu_seconds(libc::RUSAGE_CHILDREN);
    println!(
        "{{\"workload\":\"{}\",\"processes\":{processes},\"threads\":{threads},\
         \"syscalls\":{syscalls},\"workers\":{workers},\"failures\":{failures},\"elapsed_s\":{elapsed:.6},\
         \"cpu_s\":{cpu:.6}}}",
        opts.kind.name()
    );
    if failures > 0 {
        eprintln!("proctrace-workload: {failures} children failed (see --exec)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_options() {
        let o = parse_args(&args("zombie --count 10 --workers 3 --hold-ms 5")).unwrap();
        assert_eq!(o.kind, Kind::Zombie);
        assert_eq!((o.count, o.workers, o.hold_ms), (10, 3, 5));
        assert!(parse_args(&args("nope")).is_err());
        assert!(parse_args(&args("exec --count")).is_err());
        assert!(parse_args(&args("exec --bogus 1")).is_err());
        assert_eq!(parse_args(&args("syscall")).unwrap().kind, Kind::Syscall);
    }
}
