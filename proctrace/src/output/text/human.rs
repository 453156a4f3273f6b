//! Numbers for people: durations, byte counts, signal names.

const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// `850ns`, `12us`, `1.2ms`, `350ms`, `1.2s`, `42s`, `3m05s`, `2h07m`, `3d04h`. Cut, never
/// rounded up, so `999.99ms` is `999ms`, never `1000ms`.
pub fn duration(ns: u64) -> String {
    match ns {
        n if n < US => format!("{n}ns"),
        n if n < MS => scaled(n, US, "us"),
        n if n < SEC => scaled(n, MS, "ms"),
        n if n < 60 * SEC => scaled(n, SEC, "s"),
        n if n < 3_600 * SEC => format!("{}m{:02}s", n / (60 * SEC), n / SEC % 60),
        n if n < 86_400 * SEC => format!("{}h{:02}m", n / (3_600 * SEC), n / (60 * SEC) % 60),
        n => format!("{}d{:02}h", n / (86_400 * SEC), n / (3_600 * SEC) % 24),
    }
}

/// One decimal below 10 units, none above.
fn scaled(n: u64, unit: u64, suffix: &str) -> String {
    let whole = n / unit;
    if whole >= 10 {
        return format!("{whole}{suffix}");
    }
    format!("{whole}.{}{suffix}", n % unit * 10 / unit)
}

/// `512 B`, `4.0 KiB`, `3.4 MiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut unit = 1024u64;
    let mut i = 0;
    while i + 1 < UNITS.len() && n / unit >= 1024 {
        unit *= 1024;
        i += 1;
    }
    format!("{}.{} {}", n / unit, n % unit * 10 / unit, UNITS[i])
}

/// The name of a standard signal on this architecture (libc's numbering, which is the
/// kernel's), without `SIG`; `None` for real-time and unknown ones.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    let names = [
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGILL, "ILL"),
        (libc::SIGTRAP, "TRAP"),
        (libc::SIGABRT, "ABRT"),
        (libc::SIGBUS, "BUS"),
        (libc::SIGFPE, "FPE"),
        (libc::SIGKILL, "KILL"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGSEGV, "SEGV"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGPIPE, "PIPE"),
        (libc::SIGALRM, "ALRM"),
        (libc::SIGTERM, "TERM"),
        (libc::SIGCHLD, "CHLD"),
        (libc::SIGCONT, "CONT"),
        (libc::SIGSTOP, "STOP"),
        (libc::SIGTSTP, "TSTP"),
        (libc::SIGTTIN, "TTIN"),
        (libc::SIGTTOU, "TTOU"),
        (libc::SIGURG, "URG"),
        (libc::SIGXCPU, "XCPU"),
        (libc::SIGXFSZ, "XFSZ"),
        (libc::SIGVTALRM, "VTALRM"),
        (libc::SIGPROF, "PROF"),
        (libc::SIGWINCH, "WINCH"),
        (libc::SIGIO, "IO"),
        (libc::SIGPWR, "PWR"),
        (libc::SIGSYS, "SYS"),
    ];
    names.iter().find(|(n, _)| *n == sig).map(|(_, name)| *name)
}

/// How a process ended: `exit 3`, `signal 9 (KILL)`, `signal 11 (SEGV), core dumped`.
pub fn status(exit_code: Option<i32>, signal: Option<i32>, core_dumped: bool) -> String {
    let mut text = match (exit_code, signal) {
        (_, Some(sig)) => match signal_name(sig) {
            Some(name) => format!("signal {sig} ({name})"),
            None => format!("signal {sig}"),
        },
        (Some(code), None) => format!("exit {code}"),
        (None, None) => "status unknown".to_owned(),
    };
    if core_dumped {
        text.push_str(", core dumped");
    }
    text
}

/// An enum's JSON name (`parent_blocks_sigchld`): the same words in both formats.
pub fn json_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}
