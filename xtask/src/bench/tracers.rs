//! The tracers under test: proctrace and the peers a user would pick instead, how to start
//! each one ([`Tracer`]), running and stopping it ([`running`]) and reading what it wrote
//! ([`output`]).
//!
//! This file stays `tracers.rs` (its children are in `tracers/`) because the report quotes
//! it as the source of the bpftrace script.

mod output;
mod running;

use std::{
    env,
    path::{Path, PathBuf},
    time::Duration,
};

pub use output::{parse, Lost};
pub use running::{start, tail};

/// The bpftrace equivalent of proctrace's records: fork, exec with argv, exit (once per
/// process), as JSON objects (`bpftrace -f json` wraps each `printf` in
/// `{"type": "printf", "data": "..."}` and escapes it, so every line is valid JSON).
/// bpftrace has no reap record: proctrace's wait/free hooks have no peer here.
pub const BPFTRACE_SCRIPT: &str = r#"tracepoint:sched:sched_process_fork
{
	printf("{\"type\":\"fork\",\"ktime_ns\":%llu,\"pid\":%d,\"ppid\":%d,\"comm\":\"%s\"}",
		nsecs, args->child_pid, args->parent_pid, comm);
}
tracepoint:syscalls:sys_enter_execve
{
	join(args->argv);
}
tracepoint:sched:sched_process_exec
{
	printf("{\"type\":\"exec\",\"ktime_ns\":%llu,\"pid\":%d,\"ppid\":%d,\"comm\":\"%s\",\"filename\":\"%s\",\"uid\":%d}",
		nsecs, pid, curtask->real_parent->tgid, comm, str(args->filename), uid);
}
tracepoint:sched:sched_process_exit
/args->group_dead/
{
	printf("{\"type\":\"exit\",\"ktime_ns\":%llu,\"pid\":%d,\"ppid\":%d,\"comm\":\"%s\",\"exit_code\":%d,\"uid\":%d}",
		nsecs, pid, curtask->real_parent->tgid, comm, curtask->exit_code >> 8, uid);
}
"#;

/// How to tell that a tracer is attached and polling.
#[derive(Clone, Copy, Debug)]
pub enum Ready {
    /// Its output contains this text.
    Marker(&'static str),
    /// It holds attached BPF programs (bpf_link / perf_event descriptors) and an epoll
    /// instance, and their number has stopped changing (for tools whose stdout is buffered
    /// when it is a file, so no header shows up in time).
    Attached,
    /// A fixed delay (forkstat: a netlink socket, nothing to observe).
    Delay(Duration),
}

/// How to read its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON lines ending with the `summary` record.
    Proctrace,
    /// `bpftrace -f json`.
    BpftraceJson,
    /// A header line, then one line per event; losses reported on stderr.
    Table,
    /// forkstat: header lines start with `Time`; `nobufs` lines report netlink overflows.
    Forkstat,
}

#[derive(Clone, Debug)]
pub struct Tracer {
    /// Short name, used in `--tracers` and in file names.
    pub key: &'static str,
    /// Name in the report.
    pub label: &'static str,
    /// The Debian package that provides it (installed when missing).
    pub package: Option<&'static str>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub ready: Ready,
    pub format: Format,
    /// What it records, for the report.
    pub records: &'static str,
}

/// Every tracer, proctrace first. `script` is where the bpftrace program is written.
pub fn all(proctrace: &Path, script: &Path) -> Vec<Tracer> {
    let table = |key, label, package, program: &str, records| Tracer {
        key,
        label,
        package: Some(package),
        program: PathBuf::from(program),
        args: Vec::new(),
        ready: Ready::Attached,
        format: Format::Table,
        records,
    };
    vec![
        Tracer {
            key: "proctrace",
            label: "proctrace",
            package: None,
            program: proctrace.to_owned(),
            args: Vec::new(),
            ready: Ready::Marker("\"type\":\"start\""),
            format: Format::Proctrace,
            records: "fork, exec + argv, exit, reap, zombie",
        },
        Tracer {
            key: "bpftrace",
            label: "bpftrace (script)",
            package: Some("bpftrace"),
            program: PathBuf::from("bpftrace"),
            args: vec!["-f".into(), "json".into(), script.display().to_string()],
            ready: Ready::Marker("attached_probes"),
            format: Format::BpftraceJson,
            records: "fork (threads too), exec + argv, exit",
        },
        table(
            "execsnoop",
            "execsnoop (libbpf-tools)",
            "libbpf-tools",
            "/usr/sbin/execsnoop",
            "exec + argv",
        ),
        table(
            "exitsnoop",
            "exitsnoop (libbpf-tools)",
            "libbpf-tools",
            "/usr/sbin/exitsnoop",
            "exit",
        ),
        table(
            "execsnoop-bpfcc",
            "execsnoop-bpfcc (bcc)",
            "bpfcc-tools",
            "/usr/sbin/execsnoop-bpfcc",
            "exec + argv",
        ),
        table(
            "exitsnoop-bpfcc",
            "exitsnoop-bpfcc (bcc)",
            "bpfcc-tools",
            "/usr/sbin/exitsnoop-bpfcc",
            "exit",
        ),
        Tracer {
            key: "forkstat",
            label: "forkstat",
            package: Some("forkstat"),
            program: PathBuf::from("forkstat"),
            args: Vec::new(),
            ready: Ready::Delay(Duration::from_millis(1500)),
            format: Format::Forkstat,
            records: "fork, exec + cmdline, exit (proc connector)",
        },
    ]
}

/// Key of the `--baseline` build.
pub const BASELINE: &str = "proctrace-baseline";

/// proctrace built from another commit (`--baseline`), run exactly as proctrace is.
pub fn baseline(program: &Path) -> Tracer {
    Tracer {
        key: BASELINE,
        label: "proctrace (baseline build)",
        package: None,
        program: program.to_owned(),
        args: Vec::new(),
        ready: Ready::Marker("\"type\":\"start\""),
        format: Format::Proctrace,
        records: "as proctrace, from the baseline commit",
    }
}

/// The program's path: as given when it contains a `/`, else searched in PATH and the sbin
/// directories (root's tools live there).
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
