//! Process-lifecycle scenarios for proctrace's privileged integration tests. Each prints one
//! JSON object on stdout with the ids and times the test needs, measured with CLOCK_BOOTTIME
//! (the clock of proctrace's `ktime_ns`). Uses raw fork/wait so that what happens is exactly
//! what the scenario names.
use std::{ffi::CString, io::Write, process::exit, thread, time::Duration};

use proctrace_tests::{boottime_ns, gettid, recv_pid, send_pid, Forked};

fn say(json: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{json}");
    let _ = out.flush();
}

/// fork(), returning 0 in the child like libc's; a scenario that cannot fork exits 100.
fn fork() -> i32 {
    // SAFETY: the scenarios fork only while single-threaded.
    match unsafe { proctrace_tests::fork() } {
        Ok(Forked::Child) => 0,
        Ok(Forked::Parent { child }) => child,
        Err(err) => {
            eprintln!("fork: {err}");
            exit(100)
        }
    }
}

/// Sleeps `ms`, then reaps `pid`: its raw wait status, and CLOCK_BOOTTIME just before and
/// after the wait.
fn timed_wait_after(pid: i32, ms: u64) -> (i32, u64, u64) {
    thread::sleep(Duration::from_millis(ms));
    let before = boottime_ns();
    let status = wait(pid);
    (status, before, boottime_ns())
}

/// Reaps `pid` and returns its raw wait status; exits 101 when it cannot.
fn wait(pid: i32) -> i32 {
    proctrace_tests::wait_status(pid).unwrap_or_else(|err| {
        eprintln!("waitpid({pid}): {err}");
        exit(101)
    })
}

/// A pipe for handing pids between the processes of a scenario; exits 102 when it cannot.
fn pipe(flags: i32) -> [i32; 2] {
    proctrace_tests::pipe(flags).unwrap_or_else(|err| {
        eprintln!("pipe2: {err}");
        exit(102)
    })
}

/// Writes a CLOCK_BOOTTIME time (8 bytes: atomic on a pipe).
fn send_ns(fd: i32, ns: u64) {
    let b = ns.to_ne_bytes();
    // SAFETY: valid 8-byte buffer.
    unsafe { libc::write(fd, b.as_ptr().cast(), 8) };
}

/// Reads one time written by `send_ns` (0 when the writers are gone).
fn recv_ns(fd: i32) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: valid 8-byte buffer.
    let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 8) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        0
    }
}

/// Blocks until one byte arrives on `fd` (a go signal between processes).
fn recv_go(fd: i32) {
    let mut b = [0u8; 1];
    // SAFETY: valid 1-byte buffer.
    unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
}

fn send_go(fd: i32) {
    // SAFETY: valid 1-byte buffer.
    unsafe { libc::write(fd, b"g".as_ptr().cast(), 1) };
}

/// ptrace(request, pid, 0, 0); false when it failed.
fn ptrace(request: libc::c_uint, pid: i32) -> bool {
    // SAFETY: requests without address or data arguments.
    let ret = unsafe { libc::ptrace(request, pid, 0usize, 0usize) };
    if ret == -1 {
        eprintln!(
            "ptrace({request:#x}, {pid}): {}",
            std::io::Error::last_os_error()
        );
    }
    ret != -1
}

/// waitpid(pid, __WALL) until it reports a termination, resuming ptrace stops (we trace
/// `pid`) on the way; returns the raw status, or None when waitpid failed.
fn wait_traced(pid: i32) -> Option<i32> {
    loop {
        let mut status = 0;
        // SAFETY: plain syscall with a valid pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if ret == -1 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            eprintln!("waitpid({pid}, __WALL): {err}");
            return None;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return Some(status);
        }
        if !ptrace(libc::PTRACE_CONT, pid) {
            return None;
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// What a `parent-kind` parent does while its children are zombies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SIGCHLD blocked (sigprocmask) before the forks; sleeps in read(2), never waits.
    Block,
    /// SIGCHLD set to SIG_IGN before the forks: the kernel autoreaps, no zombie.
    Ignore,
    /// A SIGCHLD handler that does not wait (SA_RESTART); sleeps in read(2).
    Handle,
    /// The default disposition; sleeps in read(2), never waits.
    Default,
    /// Stops itself with SIGSTOP once its children are zombies; reads after SIGCONT.
    Stopped,
    /// Also forks a long sleeper (it reads our stdin) and blocks in waitpid(sleeper).
    WaitsOther,
    /// Reaps one short child before the forks (so it waited while traced), then spins on CPU.
    Busy,
    /// Reaps one short child before the forks, then sleeps in read(2) without waiting.
    WaitedBefore,
    /// Sets SIGCHLD to SIG_IGN once its children are zombies (too late to autoreap them).
    IgnoreLate,
    /// A PR_SET_CHILD_SUBREAPER whose "children" are orphans: each is forked by a middle
    /// process that exits at once and is reaped (so it waited); the orphans, handed to it
    /// by find_new_reaper(), then die and stay zombies; it sleeps in read(2).
    Subreaper,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "block" => Kind::Block,
            "ignore" => Kind::Ignore,
            "handle" => Kind::Handle,
            "default" => Kind::Default,
            "stopped" => Kind::Stopped,
            "waits-other" => Kind::WaitsOther,
            "busy" => Kind::Busy,
            "waited-before" => Kind::WaitedBefore,
            "ignore-late" => Kind::IgnoreLate,
            "subreaper" => Kind::Subreaper,
            _ => return None,
        })
    }
}

extern "C" fn sigchld_noop(_: libc::c_int) {}

/// Child `i` of several waits 30 ms per child before it exits. Exits at the same moment
/// on a 2-CPU guest under emulation made the kernel skip proctrace's (slow there) exit
/// program, preempted by a sibling's exit on its CPU (reported as `lost.causes.recursion`):
/// the tests are about the zombies, not about that loss.
fn stagger(i: usize) {
    thread::sleep(Duration::from_millis(30 * i as u64));
}

/// `n` orphans of ours (we are a subreaper): each forked by a middle process that exits
/// at once and that we reap, then dies itself 300 ms later, after our waits.
fn orphans(n: usize) -> Vec<i32> {
    let fds = pipe(0);
    let mut orphans = Vec::with_capacity(n);
    for i in 0..n {
        let middle = fork();
        if middle == 0 {
            let orphan = fork();
            if orphan == 0 {
                // Long enough for every middle to be reaped first, even under emulation.
                thread::sleep(Duration::from_millis(300));
                stagger(i);
                // SAFETY: ends the orphan.
                unsafe { libc::_exit(0) };
            }
            send_pid(fds[1], orphan);
            // SAFETY: ends the middle process.
            unsafe { libc::_exit(0) };
        }
        orphans.push(recv_pid(fds[0]).unwrap_or(0));
        wait(middle);
    }
    orphans
}

/// The state letter of /proc/PID/stat (after the last `)`), `None` once it is gone.
fn proc_state(pid: i32) -> Option<u8> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).copied()
}

/// Blocks until fd 0 reaches end of file (the test closed its end), retrying EINTR.
fn read_stdin_to_eof() {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            return;
        }
    }
}

/// `parent-kind KIND N [CGROUP_PROCS]`: we fork N children that exit at once (each first
/// writes its pid to CGROUP_PROCS when given, moving into that cgroup), wait (without a
/// wait-family call) until each is a zombie or gone, print
/// `{"pid":…,"children":[…],"sleeper":…}` and then behave as KIND says, never reaping them
/// until our stdin reaches end of file. Then we reap them all and print `{"reaped":N}`.
/// KIND: block, ignore, handle, default, stopped, waits-other, busy (see `Kind`).
fn parent_kind(args: &[String]) {
    let Some(kind) = args.first().and_then(|k| Kind::parse(k)) else {
        eprintln!(
            "usage: proctrace-scenario parent-kind block|ignore|handle|default|stopped|waits-other|busy|waited-before|ignore-late|subreaper N [CGROUP_PROCS]"
        );
        exit(2);
    };
    let n: usize = arg(args, 1, 3);
    let procs = args.get(2).and_then(|p| CString::new(p.as_bytes()).ok());
    match kind {
        Kind::Block => {
            // SAFETY: a sigset_t on our stack, filled by sigemptyset; we are single-threaded.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGCHLD);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }
        }
        Kind::Ignore => {
            // SAFETY: setting a signal disposition.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        }
        Kind::Handle => {
            // SAFETY: a zeroed sigaction with a handler that does nothing (async-signal-safe).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = sigchld_noop as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut());
            }
        }
        Kind::Busy | Kind::WaitedBefore => {
            let short = fork();
            if short == 0 {
                // SAFETY: ends the child.
                unsafe { libc::_exit(0) };
            }
            wait(short);
        }
        Kind::Subreaper => {
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        }
        Kind::Default | Kind::Stopped | Kind::WaitsOther | Kind::IgnoreLate => {}
    }
    let mut children = Vec::with_capacity(n);
    if kind == Kind::Subreaper {
        children = orphans(n);
    }
    for i in children.len()..n {
        let child = fork();
        if child == 0 {
            stagger(i);
            if let Some(procs) = &procs {
                let pid = format!("{}", std::process::id());
                // SAFETY: a valid NUL-terminated path and buffer; we are the only thread.
                let ok = unsafe {
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                    fd >= 0 && libc::write(fd, pid.as_ptr().cast(), pid.len()) == pid.len() as isize
                };
                if !ok {
                    eprintln!("moving into {procs:?}: {}", std::io::Error::last_os_error());
                    // SAFETY: ends the child.
                    unsafe { libc::_exit(120) };
                }
            }
            // SAFETY: ends the child.
            unsafe { libc::_exit(0) };
        }
        children.push(child);
    }
    // Zombies (or, ignored, gone) before anything else: a wait made now comes after every
    // exit, and the test may read the state at once.
    let deadline = boottime_ns() + 5_000_000_000;
    for &child in &children {
        while proc_state(child).is_some_and(|s| s != b'Z') {
            if boottime_ns() > deadline {
                eprintln!("child {child} is no zombie after 5 s");
                exit(105);
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
    let sleeper = if kind == Kind::WaitsOther {
        let sleeper = fork();
        if sleeper == 0 {
            read_stdin_to_eof();
            // SAFETY: ends the sleeper.
            unsafe { libc::_exit(0) };
        }
        sleeper
    } else {
        0
    };
    let list: Vec<String> = children.iter().map(i32::to_string).collect();
    say(format!(
        "{{\"pid\":{},\"children\":[{}],\"sleeper\":{sleeper}}}",
        std::process::id(),
        list.join(",")
    ));
    match kind {
        Kind::Stopped => {
            // SAFETY: stops us until the test sends SIGCONT.
            unsafe { libc::raise(libc::SIGSTOP) };
            read_stdin_to_eof();
        }
        Kind::WaitsOther => {
            wait(sleeper);
        }
        Kind::Busy => {
            let mut stdin = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            loop {
                // About 1 ms on CPU between looks at stdin.
                let until = boottime_ns() + 1_000_000;
                while boottime_ns() < until {
                    std::hint::spin_loop();
                }
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut stdin, 1, 0) } != 0 {
                    break;
                }
            }
        }
        Kind::IgnoreLate => {
            // SAFETY: setting a signal disposition; back to the default before the waits
            // below, which then reap as usual.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
            read_stdin_to_eof();
            // SAFETY: as above.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        }
        Kind::Block
        | Kind::Ignore
        | Kind::Handle
        | Kind::Default
        | Kind::WaitedBefore
        | Kind::Subreaper => read_stdin_to_eof(),
    }
    if kind == Kind::Ignore {
        say("{\"reaped\":0}".to_owned());
        return;
    }
    for &child in &children {
        wait(child);
    }
    say(format!("{{\"reaped\":{}}}", children.len()));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("usage: proctrace-scenario <scenario> [args]");
        exit(2);
    };
    match name.as_str() {
        // A child using a known resource, and the rusage wait4() returned for it.
        "usage" => exit(proctrace_tests::usage::main(&args[1..])),
        // A process with N threads that all end before main returns.
        "threads" => {
            let n = arg(&args, 1, 5usize);
            let handles: Vec<_> = (0..n)
                .map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(50))))
                .collect();
            for h in handles {
                let _ = h.join();
            }
            say(format!("{{\"pid\":{}}}", std::process::id()));
        }
        // A non-leader thread execs argv[1..]: the kernel's de_thread() makes it the leader.
        "thread-exec" => {
            let prog: Vec<CString> = args[1..]
                .iter()
                .filter_map(|a| CString::new(a.as_bytes()).ok())
                .collect();
            let t = thread::spawn(move || {
                say(format!(
                    "{{\"pid\":{},\"tid\":{}}}",
                    std::process::id(),
                    gettid()
                ));
                let mut ptrs: Vec<*const libc::c_char> = prog.iter().map(|c| c.as_ptr()).collect();
                ptrs.push(std::ptr::null());
                // SAFETY: NUL-terminated argv array of valid C strings.
                unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
                exit(102);
            });
            let _ = t.join();
            thread::sleep(Duration::from_secs(10));
        }
        // execveat(AT_FDCWD, argv[1], argv[1..], envp, 0): the syscall execve-only tracers miss.
        // execveat(dirfd, RELPATH) with argv RELPATH ARGS...: the kernel names the program
        // "/dev/fd/<dirfd>/RELPATH" (fs/exec.c alloc_bprm), which can exceed PATH_MAX.
        "execveat-dirfd" => {
            let (Some(dir), Some(rel)) = (args.get(1), args.get(2)) else {
                exit(2);
            };
            let (Ok(dir), Ok(rel)) = (CString::new(dir.as_bytes()), CString::new(rel.as_bytes()))
            else {
                exit(2);
            };
            // SAFETY: a valid NUL-terminated path.
            let dirfd = unsafe { libc::open(dir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
            if dirfd < 0 {
                eprintln!("open {dir:?}: {}", std::io::Error::last_os_error());
                exit(104);
            }
            let rest: Vec<CString> = args[3..]
                .iter()
                .filter_map(|a| CString::new(a.as_bytes()).ok())
                .collect();
            let mut argv: Vec<*const libc::c_char> = vec![rel.as_ptr()];
            argv.extend(rest.iter().map(|a| a.as_ptr()));
            argv.push(std::ptr::null());
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            // SAFETY: NUL-terminated argv/envp arrays of valid C strings.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    dirfd,
                    rel.as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    0,
                )
            };
            eprintln!("execveat: {}", std::io::Error::last_os_error());
            exit(103);
        }
        "execveat" => {
            let prog: Vec<CString> = args[1..]
                .iter()
                .filter_map(|a| CString::new(a.as_bytes()).ok())
                .collect();
            let Some(path) = prog.first() else {
                exit(2);
            };
            let mut argv: Vec<*const libc::c_char> = prog.iter().map(|c| c.as_ptr()).collect();
            argv.push(std::ptr::null());
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            // SAFETY: NUL-terminated argv/envp arrays of valid C strings.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    0,
                )
            };
            exit(103);
        }
        // A non-leader thread calls exit_group(code) while the leader sleeps.
        "thread-exit-group" => {
            let code: i32 = arg(&args, 1, 9);
            say(format!("{{\"pid\":{}}}", std::process::id()));
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                // SAFETY: ends the process; nothing to clean up.
                unsafe { libc::syscall(libc::SYS_exit_group, code) };
            });
            thread::sleep(Duration::from_secs(10));
        }
        // The leader calls pthread_exit; a second thread lives on for MS ms, then the process
        // ends: the zombie clock starts at that last thread's exit.
        "leader-exits-first" => {
            let ms: u64 = arg(&args, 1, 300);
            say(format!(
                "{{\"pid\":{},\"leader_exit_ns\":{}}}",
                std::process::id(),
                boottime_ns()
            ));
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms));
                say(format!("{{\"last_thread_exit_ns\":{}}}", boottime_ns()));
                // SAFETY: plain thread exit; the group dies with this last thread.
                unsafe { libc::syscall(libc::SYS_exit, 0) };
            });
            // SAFETY: the raw exit syscall ends only the calling (leader) thread; glibc's
            // pthread_exit would unwind through Rust's main, which aborts.
            unsafe { libc::syscall(libc::SYS_exit, 0) };
            unreachable!("the leader thread has exited");
        }
        // A child exits at once; the parent waits MS ms before reaping it, or with MS `eof`
        // until its stdin reaches end of file (the test closed its end).
        "zombie" => {
            let until_eof = args.get(1).is_some_and(|a| a == "eof");
            let ms: u64 = if until_eof { 0 } else { arg(&args, 1, 0) };
            let mut fds = [0i32; 2];
            // SAFETY: valid pointer to two ints.
            unsafe { libc::pipe(fds.as_mut_ptr()) };
            let child = fork();
            if child == 0 {
                let t = boottime_ns().to_ne_bytes();
                // SAFETY: writes 8 bytes from a valid buffer, then ends the child.
                unsafe {
                    libc::write(fds[1], t.as_ptr().cast(), 8);
                    libc::_exit(3)
                };
            }
            let mut buf = [0u8; 8];
            // SAFETY: reads 8 bytes into a valid buffer.
            unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 8) };
            let child_exit_ns = u64::from_ne_bytes(buf);
            if until_eof {
                read_stdin_to_eof();
            }
            let (status, before, after) = timed_wait_after(child, ms);
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"status\":{status},\"child_exit_ns\":{child_exit_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // A child exits after MS ms (default 300) while we are already asleep in waitpid(-1):
        // exit_notify() wakes us and we collect it at once.
        "blocked-wait" => {
            let ms: u64 = arg(&args, 1, 300);
            let times = pipe(0);
            let child = fork();
            if child == 0 {
                thread::sleep(Duration::from_millis(ms));
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the child.
                unsafe { libc::_exit(6) };
            }
            let before = boottime_ns();
            let mut status = 0;
            // SAFETY: plain syscall with a valid pointer. For any child: the call the kernel
            // notes has no pid (wo_pid NULL).
            let got = unsafe { libc::waitpid(-1, &mut status, 0) };
            let after = boottime_ns();
            if got != child {
                eprintln!("waitpid(-1): {got}: {}", std::io::Error::last_os_error());
                exit(101);
            }
            let child_exit_ns = recv_ns(times[0]);
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"status\":{status},\"child_exit_ns\":{child_exit_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // A child A exits after 100 ms while we are asleep in waitpid() for another child B,
        // which exits after MS ms (default 400); only then do we reap A. A wait call was asleep
        // at A's exit, but not one that could collect A.
        "wait-other-first" => {
            let ms: u64 = arg(&args, 1, 400);
            let times = pipe(0);
            let other = fork();
            if other == 0 {
                thread::sleep(Duration::from_millis(ms));
                // SAFETY: ends the child.
                unsafe { libc::_exit(0) };
            }
            let child = fork();
            if child == 0 {
                thread::sleep(Duration::from_millis(100));
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the child.
                unsafe { libc::_exit(4) };
            }
            wait(other);
            let (status, before, after) = timed_wait_after(child, 0);
            let child_exit_ns = recv_ns(times[0]);
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"other\":{other},\"status\":{status},\"child_exit_ns\":{child_exit_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // A child C traced by its sibling T (PTRACE_SEIZE; T is not its parent). C exits with
        // 5; T's waitpid(__WALL) collects the exit notification, which does not release C
        // (kernel/exit.c wait_task_zombie: EXIT_TRACE, then do_notify_parent); T exits and we
        // reap it; MS ms later (default 1200) we reap C, the real release.
        "ptrace-sibling" => {
            let ms: u64 = arg(&args, 1, 1200);
            let go = pipe(0);
            let times = pipe(0);
            let child = fork();
            if child == 0 {
                recv_go(go[0]);
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the child.
                unsafe { libc::_exit(5) };
            }
            let tracer = fork();
            if tracer == 0 {
                if !ptrace(libc::PTRACE_SEIZE, child) {
                    // SAFETY: ends the tracer.
                    unsafe { libc::_exit(110) };
                }
                send_go(go[1]);
                let status = wait_traced(child);
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the tracer: 0 when its wait returned C's exit with 5.
                unsafe { libc::_exit(if status == Some(5 << 8) { 0 } else { 111 }) };
            }
            let child_exit_ns = recv_ns(times[0]);
            let tracer_waited_ns = recv_ns(times[0]);
            let tracer_status = wait(tracer);
            if tracer_status != 0 {
                eprintln!("the tracer failed: status {tracer_status:#x}");
                exit(112);
            }
            let (status, before, after) = timed_wait_after(child, ms);
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"tracer\":{tracer},\"status\":{status},\"child_exit_ns\":{child_exit_ns},\"tracer_waited_ns\":{tracer_waited_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // We trace our own child (PTRACE_SEIZE), stop it once (PTRACE_INTERRUPT: a stopped
        // status, no reap), resume it; it exits with 6 and our waitpid(__WALL) reaps it: the
        // tracer is the parent, so that wait is the release.
        "ptrace-parent" => {
            let go = pipe(0);
            let times = pipe(0);
            let child = fork();
            if child == 0 {
                recv_go(go[0]);
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the child.
                unsafe { libc::_exit(6) };
            }
            if !ptrace(libc::PTRACE_SEIZE, child) || !ptrace(libc::PTRACE_INTERRUPT, child) {
                exit(110);
            }
            let mut stop = 0;
            // SAFETY: plain syscall with a valid pointer.
            let ret = unsafe { libc::waitpid(child, &mut stop, libc::__WALL) };
            if ret != child || !libc::WIFSTOPPED(stop) || !ptrace(libc::PTRACE_CONT, child) {
                eprintln!("no ptrace stop: waitpid {ret}, status {stop:#x}");
                exit(111);
            }
            send_go(go[1]);
            let child_exit_ns = recv_ns(times[0]);
            let before = boottime_ns();
            let Some(status) = wait_traced(child) else {
                exit(112)
            };
            let after = boottime_ns();
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"status\":{status},\"stop_status\":{stop},\"child_exit_ns\":{child_exit_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // A child exits with 7; we look at it with waitid(P_PID, WEXITED | WNOWAIT), which
        // leaves it a zombie, and reap it with waitpid MS ms later (default 1200).
        "wnowait" => {
            let ms: u64 = arg(&args, 1, 1200);
            let times = pipe(0);
            let child = fork();
            if child == 0 {
                send_ns(times[1], boottime_ns());
                // SAFETY: ends the child.
                unsafe { libc::_exit(7) };
            }
            let child_exit_ns = recv_ns(times[0]);
            // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: plain syscall with a valid pointer.
            let ret = unsafe {
                libc::waitid(
                    libc::P_PID,
                    child as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            let peeked_ns = boottime_ns();
            // SAFETY: waitid filled the SIGCHLD fields.
            let peeked = unsafe { info.si_pid() };
            if ret != 0 || peeked != child {
                eprintln!(
                    "waitid(WNOWAIT): {ret}, si_pid {peeked}: {}",
                    std::io::Error::last_os_error()
                );
                exit(110);
            }
            let (status, before, after) = timed_wait_after(child, ms);
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"status\":{status},\"child_exit_ns\":{child_exit_ns},\"peeked_ns\":{peeked_ns},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // A child exits with 8 after 50 ms; a second thread of ours (not the leader) reaps it
        // with waitpid(__WALL).
        "thread-wait" => {
            let child = fork();
            if child == 0 {
                thread::sleep(Duration::from_millis(50));
                // SAFETY: ends the child.
                unsafe { libc::_exit(8) };
            }
            let waiter = thread::spawn(move || {
                let tid = gettid();
                let before = boottime_ns();
                let mut status = 0;
                // SAFETY: plain syscall with a valid pointer.
                let ret = unsafe { libc::waitpid(child, &mut status, libc::__WALL) };
                (tid, ret, status, before, boottime_ns())
            });
            let Ok((tid, ret, status, before, after)) = waiter.join() else {
                exit(110)
            };
            if ret != child {
                eprintln!("waitpid from thread {tid}: {ret}");
                exit(111);
            }
            say(format!(
                "{{\"pid\":{},\"child\":{child},\"tid\":{tid},\"status\":{status},\"wait_start_ns\":{before},\"reaped_ns\":{after}}}",
                std::process::id()
            ));
        }
        // The parent ignores SIGCHLD: the kernel autoreaps the child, there is no zombie.
        "ignore-sigchld" => {
            // SAFETY: setting a signal disposition.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
            let child = fork();
            if child == 0 {
                // SAFETY: ends the child.
                unsafe { libc::_exit(0) };
            }
            thread::sleep(Duration::from_millis(200));
            say(format!(
                "{{\"pid\":{},\"child\":{child}}}",
                std::process::id()
            ));
        }
        // We become a subreaper; a middle process forks a grandchild and exits at once, so the
        // grandchild is reparented to us and reaped by us.
        "subreaper" => {
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            let fds = pipe(0);
            let middle = fork();
            if middle == 0 {
                let grandchild = fork();
                if grandchild == 0 {
                    thread::sleep(Duration::from_millis(200));
                    // SAFETY: ends the grandchild.
                    unsafe { libc::_exit(4) };
                }
                send_pid(fds[1], grandchild);
                // SAFETY: ends the middle process.
                unsafe { libc::_exit(0) };
            }
            let grandchild = recv_pid(fds[0]).unwrap_or(0);
            wait(middle);
            let status = wait(grandchild);
            say(format!(
                "{{\"pid\":{},\"middle\":{middle},\"grandchild\":{grandchild},\"status\":{status}}}",
                std::process::id()
            ));
        }
        // A container in miniature: a child in a new pid namespace (its init, pid 1 there)
        // forks a job (pid 2 there) that exits with 3 and is reaped by that init, whose wait4
        // returns 2. The job reports its global pid (/proc is the initial namespace's).
        "pidns" => {
            // SAFETY: unshare with a flag; our next child starts the new namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
                panic!("unshare(CLONE_NEWPID): {}", std::io::Error::last_os_error());
            }
            let fds = pipe(0);
            let init = fork();
            if init == 0 {
                let job = fork();
                if job == 0 {
                    let global: i32 = std::fs::read_link("/proc/self")
                        .ok()
                        .and_then(|p| p.to_str()?.parse().ok())
                        .unwrap_or(0);
                    send_pid(fds[1], global);
                    // SAFETY: ends the job.
                    unsafe { libc::_exit(3) };
                }
                thread::sleep(Duration::from_millis(100));
                let status = wait(job);
                // SAFETY: ends the namespace's init (0 when it reaped pid 2 with status 3).
                unsafe { libc::_exit(if job == 2 && status == 3 << 8 { 0 } else { 1 }) };
            }
            let job = recv_pid(fds[0]).unwrap_or(0);
            let status = wait(init);
            say(format!(
                "{{\"pid\":{},\"init\":{init},\"job\":{job},\"init_status\":{status}}}",
                std::process::id()
            ));
        }
        // A parent of N children that exit at once, which it leaves unreaped until its stdin
        // reaches end of file, behaving as KIND says meanwhile (see `parent_kind`).
        "parent-kind" => parent_kind(&args[1..]),
        // N children forked as fast as possible, each exiting at once and reaped at once.
        "spawn" => {
            let n: usize = arg(&args, 1, 2000);
            let mut pids = Vec::with_capacity(n);
            for _ in 0..n {
                let child = fork();
                if child == 0 {
                    // SAFETY: ends the child.
                    unsafe { libc::_exit(0) };
                }
                wait(child);
                pids.push(child.to_string());
            }
            say(format!(
                "{{\"pid\":{},\"children\":[{}]}}",
                std::process::id(),
                pids.join(",")
            ));
        }
        // Continuous churn for SECS seconds: fork+exec+wait of /bin/true, fork+exit, orphans
        // (reparented to us, a subreaper, and reaped 60 ms after their parent died), transient
        // zombies and long-lived ones (left unreaped for 1.5 s).
        //
        // Orphans are not left to init: on our CI hosts pid 1 is a sandbox agent whose
        // execution the kernel hides from every tracepoint, and an RCU callback that runs
        // while it is current (sched_process_free of the tasks it reaped) is hidden with it.
        // Its reaps are then seen by no tracer; proctrace reports such zombies `missing`
        // after 30 s (README, Agreement with /proc), which is right but not what this
        // scenario measures.
        "churn" => {
            let secs: u64 = arg(&args, 1, 300);
            let deadline = boottime_ns() + secs * 1_000_000_000;
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            // Orphaned grandchildren report their pid here (the exec'd children lose it).
            let fds = pipe(libc::O_CLOEXEC | libc::O_NONBLOCK);
            let orphans = |unreaped: &mut Vec<(i32, u64)>| {
                while let Some(pid) = recv_pid(fds[0]) {
                    unreaped.push((pid, boottime_ns() + 60_000_000));
                }
            };
            let mut unreaped: Vec<(i32, u64)> = Vec::new();
            let mut spawned = 0u64;
            let mut i = 0u64;
            while boottime_ns() < deadline {
                i += 1;
                let child = fork();
                if child == 0 {
                    match i % 10 {
                        // exec
                        0..=3 => {
                            let prog = c"/bin/true";
                            let argv = [prog.as_ptr(), std::ptr::null()];
                            // SAFETY: valid NUL-terminated argv.
                            unsafe { libc::execv(prog.as_ptr(), argv.as_ptr()) };
                            // SAFETY: exec failed; end the child.
                            unsafe { libc::_exit(127) };
                        }
                        // orphan: the child forks a grandchild that outlives it
                        4 => {
                            let grandchild = fork();
                            if grandchild == 0 {
                                thread::sleep(Duration::from_millis(30));
                                // SAFETY: ends the grandchild.
                                unsafe { libc::_exit(0) };
                            }
                            send_pid(fds[1], grandchild);
                            // SAFETY: ends the child.
                            unsafe { libc::_exit(0) };
                        }
                        // SAFETY: ends the child.
                        _ => unsafe { libc::_exit((i % 7) as i32) },
                    }
                }
                spawned += 1;
                let now = boottime_ns();
                // Every 50th child is left a zombie for 1.5 s, every 7th for 20 ms.
                let linger = if i.is_multiple_of(50) {
                    1_500_000_000
                } else if i.is_multiple_of(7) {
                    20_000_000
                } else {
                    0
                };
                if linger == 0 {
                    wait(child);
                } else {
                    unreaped.push((child, now + linger));
                }
                orphans(&mut unreaped);
                unreaped.retain(|&(pid, due)| {
                    if due <= now {
                        wait(pid);
                        false
                    } else {
                        true
                    }
                });
                thread::sleep(Duration::from_millis(2));
            }
            // Children first: an orphan's pid is in the pipe once its parent has exited.
            for (pid, _) in std::mem::take(&mut unreaped) {
                wait(pid);
            }
            orphans(&mut unreaped);
            for (pid, _) in unreaped {
                wait(pid);
            }
            say(format!(
                "{{\"pid\":{},\"spawned\":{spawned}}}",
                std::process::id()
            ));
        }
        // A storm of N children that all stay alive for SECS seconds: each execs
        // `sh -c 'exec sleep SECS'` with a 2 KiB filler argument, so the exec records flood a
        // small ring buffer while the processes whose records are lost are still in /proc.
        "storm" => {
            let n: usize = arg(&args, 1, 1500);
            let secs: u64 = arg(&args, 2, 3);
            let script = CString::new(format!("exec /bin/sleep {secs}")).unwrap_or_default();
            let filler = CString::new(vec![b'x'; 2048]).unwrap_or_default();
            let mut children = Vec::with_capacity(n);
            for _ in 0..n {
                let child = fork();
                if child == 0 {
                    let sh = c"/bin/sh";
                    let argv = [
                        sh.as_ptr(),
                        c"-c".as_ptr(),
                        script.as_ptr(),
                        filler.as_ptr(),
                        std::ptr::null(),
                    ];
                    // SAFETY: valid NUL-terminated argv.
                    unsafe { libc::execv(sh.as_ptr(), argv.as_ptr()) };
                    // SAFETY: exec failed; end the child.
                    unsafe { libc::_exit(127) };
                }
                children.push(child);
            }
            say(format!(
                "{{\"pid\":{},\"storm_done_ns\":{}}}",
                std::process::id(),
                boottime_ns()
            ));
            for pid in children {
                wait(pid);
            }
        }
        other => {
            eprintln!("unknown scenario {other}");
            exit(2);
        }
    }
}
