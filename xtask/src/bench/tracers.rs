//! The tracers under test: proctrace and the peers a user would pick instead, how to start
//! each one, when it is ready, how to stop it and how to read what it wrote.

use std::{
    env,
    fs::{self, File},
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use super::procfs;

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

/// Substrings that mark a record as belonging to the workload: the workload's command name
/// (`proctrace-workload`, cut to 15 bytes by the kernel) and the program its children exec.
pub const WORKLOAD_MARKERS: [&str; 2] = ["proctrace-workl", "ptw-exec"];

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

/// A started tracer.
pub struct Running {
    child: Child,
    pub pid: u32,
    /// Seconds from the start until it was ready.
    pub ready_s: f64,
}

/// Start `tracer` with its stdout in `out` and stderr in `err`; wait until it is ready.
pub fn start(
    tracer: &Tracer,
    program: &Path,
    out: &Path,
    err: &Path,
    timeout: Duration,
) -> Result<Running> {
    let stdout = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let stderr = File::create(err).with_context(|| format!("creating {}", err.display()))?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(&tracer.args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let pid = child.id();
    let mut stable = 0;
    let mut last = procfs::Attachments::default();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}) before it was ready; stderr:\n{}",
                tracer.label,
                tail(err, 8)
            );
        }
        let ready = match tracer.ready {
            Ready::Marker(marker) => fs::read(out)
                .map(|bytes| String::from_utf8_lossy(&bytes).contains(marker))
                .unwrap_or(false),
            Ready::Attached => {
                let now = procfs::attachments(pid);
                stable = if now.epoll && now.links > 0 && now == last {
                    stable + 1
                } else {
                    0
                };
                last = now;
                stable >= 3
            }
            Ready::Delay(delay) => started.elapsed() >= delay,
        };
        if ready {
            let ready_s = started.elapsed().as_secs_f64();
            // Let it settle into its event loop.
            thread::sleep(Duration::from_millis(300));
            return Ok(Running {
                child,
                pid,
                ready_s,
            });
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} was not ready after {timeout:?}; stderr:\n{}",
                tracer.label,
                tail(err, 8)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

impl Running {
    /// SIGINT (every tracer here prints its last records and exits on it), then SIGTERM,
    /// then SIGKILL.
    pub fn stop(mut self) -> Result<ExitStatus> {
        for (signal, wait) in [
            (libc::SIGINT, Duration::from_secs(30)),
            (libc::SIGTERM, Duration::from_secs(5)),
        ] {
            procfs::kill(self.pid, signal);
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                if let Some(status) = self.child.try_wait()? {
                    return Ok(status);
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Losses, as the tracer reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// Events dropped, counted by the tracer.
    Count(u64),
    /// Overflow notices without a count (forkstat's netlink `nobufs`).
    Overflows(u64),
    /// The tracer has no way to report losses and reported none.
    NotReported,
}

/// What one run of a tracer wrote.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Event records (every process on the host, not only the workload's).
    pub events: u64,
    /// Records that name the workload's processes ([`WORKLOAD_MARKERS`]).
    pub workload_records: u64,
    pub lost: Option<Lost>,
    /// Something is off with the output (no summary line, ...).
    pub problem: Option<String>,
}

pub fn parse(tracer: &Tracer, out: &Path, err: &Path) -> Result<Parsed> {
    let file = File::open(out).with_context(|| format!("opening {}", out.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut parsed = Parsed::default();
    let mut line = Vec::new();
    let mut last = String::new();
    let mut lines = 0u64;
    let mut lost_count = 0u64;
    let mut overflows = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        lines += 1;
        let workload = WORKLOAD_MARKERS.iter().any(|m| text.contains(m));
        match tracer.format {
            Format::Proctrace => {
                if text.starts_with("{\"type\":\"summary\"") {
                    last = text.to_owned();
                } else if workload {
                    parsed.workload_records += 1;
                }
            }
            Format::BpftraceJson => {
                if text.starts_with("{\"type\": \"printf\"") {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                } else if text.contains("lost_events") {
                    lost_count += number_after(text, "\"events\"").unwrap_or(0);
                }
            }
            Format::Table => {
                if lines > 1 {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                }
            }
            Format::Forkstat => {
                if text.contains("nobufs") {
                    overflows += 1;
                } else if !text.starts_with("Time ") {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                }
            }
        }
    }
    match tracer.format {
        Format::Proctrace => parse_summary(&last, &mut parsed, lines),
        Format::BpftraceJson => parsed.lost = Some(Lost::Count(lost_count)),
        Format::Table => {
            let stderr = fs::read_to_string(err).unwrap_or_default();
            let reported: Vec<u64> = stderr
                .lines()
                .filter_map(|l| number_after(&l.to_ascii_lowercase(), "lost"))
                .collect();
            parsed.lost = Some(if reported.is_empty() {
                Lost::NotReported
            } else {
                Lost::Count(reported.iter().sum())
            });
        }
        Format::Forkstat => {
            parsed.lost = Some(if overflows > 0 {
                Lost::Overflows(overflows)
            } else {
                Lost::NotReported
            });
        }
    }
    Ok(parsed)
}

/// proctrace's last line: `{"type":"summary",...,"counts":{...},"lost":N,...}`.
fn parse_summary(line: &str, parsed: &mut Parsed, lines: u64) {
    let summary: Option<serde_json::Value> = serde_json::from_str(line).ok();
    let Some(summary) = summary else {
        parsed.events = lines.saturating_sub(1);
        parsed.problem = Some("no summary line: proctrace did not stop cleanly".into());
        return;
    };
    if let Some(counts) = summary["counts"].as_object() {
        parsed.events = counts
            .iter()
            .filter(|(kind, _)| kind.as_str() != "start")
            .filter_map(|(_, n)| n.as_u64())
            .sum();
    }
    parsed.lost = summary["lost"].as_u64().map(Lost::Count);
}

/// The first number within a few characters after `word` ("Lost 12 events", `"events": 3`).
fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = text.find(word)? + word.len();
    let rest = &text[at..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    if start > 12 {
        return None;
    }
    let digits: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The last `n` lines of a (small) file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(format: Format, out: &str, err: &str) -> Parsed {
        let dir = env::temp_dir().join(format!(
            "xtask-bench-parse-{}-{format:?}-{}",
            std::process::id(),
            out.len()
        ));
        fs::create_dir_all(&dir).unwrap();
        let (o, e) = (dir.join(format!("{format:?}.out")), dir.join("err"));
        fs::write(&o, out).unwrap();
        fs::write(&e, err).unwrap();
        let tracer = all(Path::new("proctrace"), Path::new("x.bt"))
            .into_iter()
            .find(|t| t.format == format)
            .unwrap();
        let parsed = parse(&tracer, &o, &e).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        parsed
    }

    #[test]
    fn proctrace_summary() {
        let p = parse_text(
            Format::Proctrace,
            "{\"type\":\"start\"}\n\
             {\"type\":\"fork\",\"comm\":\"proctrace-workl\"}\n\
             {\"type\":\"summary\",\"counts\":{\"start\":1,\"fork\":5,\"exec\":2,\"exit\":3,\
             \"lost\":0,\"zombie\":0,\"reap\":4},\"lost\":7}\n",
            "",
        );
        assert_eq!(p.events, 14);
        assert_eq!(p.workload_records, 1);
        assert_eq!(p.lost, Some(Lost::Count(7)));
        assert!(p.problem.is_none());

        let p = parse_text(Format::Proctrace, "{\"type\":\"start\"}\n{}\n", "");
        assert!(p.problem.is_some());
    }

    #[test]
    fn bpftrace_json() {
        let p = parse_text(
            Format::BpftraceJson,
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 4}}\n\
             {\"type\": \"printf\", \"data\": \"{\\\"comm\\\":\\\"ptw-exec\\\"}\"}\n\
             {\"type\": \"join\", \"data\": \"ptw-exec\"}\n\
             {\"type\": \"printf\", \"data\": \"{\\\"comm\\\":\\\"bash\\\"}\"}\n\
             {\"type\": \"lost_events\", \"data\": {\"events\": 12}}\n",
            "",
        );
        assert_eq!((p.events, p.workload_records), (2, 1));
        assert_eq!(p.lost, Some(Lost::Count(12)));
    }

    #[test]
    fn tables_and_forkstat() {
        let p = parse_text(
            Format::Table,
            "PCOMM PID\nptw-exec 1\nbash 2\n",
            "Lost 3 events on CPU #0!\nlost 4 events on CPU #1\n",
        );
        assert_eq!((p.events, p.workload_records), (2, 1));
        assert_eq!(p.lost, Some(Lost::Count(7)));
        let p = parse_text(Format::Table, "PCOMM PID\n", "");
        assert_eq!(p.lost, Some(Lost::NotReported));

        let p = parse_text(
            Format::Forkstat,
            "Time     Event   PID Info   Duration Process\n\
             14:35:25 fork  1 parent /x/proctrace-workload exec\n\
             14:35:25 recv ----- nobufs  (No buffer space available)\n",
            "",
        );
        assert_eq!((p.events, p.workload_records), (1, 1));
        assert_eq!(p.lost, Some(Lost::Overflows(1)));
    }

    #[test]
    fn numbers_after_words() {
        assert_eq!(number_after("lost 12 events", "lost"), Some(12));
        assert_eq!(number_after("\"events\": 3}", "events"), Some(3));
        assert_eq!(number_after("lost nothing at all today, 5", "lost"), None);
    }
}
