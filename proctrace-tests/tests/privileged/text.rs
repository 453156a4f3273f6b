//! `--format text`: the human view of a live trace, read as a person would (no JSON).
use std::{
    process::{Child, Command},
    sync::mpsc::Receiver,
    time::{Duration, Instant},
};

use crate::common::{exit_within, spawn_lines, Spawned};

/// Where the cells of a line begin (README "Human-readable output"): EVENT, PID (7 wide,
/// right-aligned) and DETAILS.
const EVENT: std::ops::Range<usize> = 16..26;
const PID: std::ops::Range<usize> = 27..34;
const DETAILS: usize = 59;

/// proctrace writing text on a pipe, its lines collected as they come.
struct TextTracer {
    child: Child,
    rx: Receiver<String>,
    lines: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl TextTracer {
    /// Starts proctrace with `--format text` and `args`; waits for its start line.
    fn start(args: &[&str]) -> TextTracer {
        let args: Vec<&str> = ["--format", "text", "--zombie-threshold", "200ms"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let Spawned { child, rx, stderr } = spawn_lines(&args, |line| {
            String::from_utf8(line).expect("text output is UTF-8")
        });
        let mut t = TextTracer {
            child,
            rx,
            lines: Vec::new(),
            stderr: Some(stderr),
        };
        if t.wait_for(|l| event(l) == "start").is_none() {
            let _ = t.child.kill();
            panic!("no start line; stderr:\n{}", t.take_stderr());
        }
        t
    }

    /// The first line (arrived or arriving within 10 s) that `pred` accepts.
    fn wait_for(&mut self, pred: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(l) = self.lines.iter().find(|l| pred(&plain(l))) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.lines.push(line.clone());
            if pred(&plain(&line)) {
                return Some(line);
            }
        }
        None
    }

    /// SIGINT; every line, once proctrace exited 0.
    fn stop(mut self) -> Vec<String> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = exit_within(&mut self.child, Duration::from_secs(2));
        while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.lines.push(line);
        }
        let stderr = self.take_stderr();
        assert!(status.success(), "proctrace exited with {status}: {stderr}");
        std::mem::take(&mut self.lines)
    }

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for TextTracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The line without SGR colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        rest = rest[i..].split_once('m').map_or("", |(_, after)| after);
    }
    out + rest
}

fn cell(line: &str, range: std::ops::Range<usize>) -> String {
    let chars: Vec<char> = line.chars().collect();
    chars
        .get(range)
        .map(|c| c.iter().collect::<String>().trim().to_owned())
        .unwrap_or_default()
}

fn event(line: &str) -> String {
    cell(line, EVENT)
}

fn details(line: &str) -> String {
    line.chars().skip(DETAILS).collect()
}

/// A line of `ty` about `pid`.
fn about(ty: &'static str, pid: u32) -> impl Fn(&str) -> bool {
    move |l: &str| event(l) == ty && cell(l, PID) == pid.to_string()
}

/// Runs `cmd` to its end; its pid.
fn run(cmd: &mut Command) -> u32 {
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn text_format_tells_a_life_in_words() {
    let mut t = TextTracer::start(&["--proc-check-interval", "0"]);
    let exit3 = run(Command::new("sh").args(["-c", "exit 3"]));
    let hostile = run(Command::new("/bin/true").args(["a b", "", "\x1b[31mred\nline"]));
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let killed = sleeper.id();
    sleeper.kill().expect("SIGKILL");
    sleeper.wait().expect("wait");
    // Our own child, left a zombie past --zombie-threshold (200ms), then reaped by us.
    let mut zombie = Command::new("true").spawn().expect("true");
    let zombie_pid = zombie.id();
    let alert = t.wait_for(about("zombie", zombie_pid));
    zombie.wait().expect("reap");
    let reap = t.wait_for(about("reap", zombie_pid));

    let exec = t
        .wait_for(about("exec", exit3))
        .expect("the exec line of sh");
    assert!(
        details(&exec).ends_with(r#" [sh -c "exit 3"]"#),
        "argv, quoted: {exec:?}"
    );
    let exit = t
        .wait_for(about("exit", exit3))
        .expect("the exit line of sh");
    assert!(details(&exit).starts_with("exit 3 after "), "{exit:?}");
    let kill = t.wait_for(about("exit", killed)).expect("the killed sleep");
    assert!(
        details(&kill).starts_with("signal 9 (KILL) after "),
        "{kill:?}"
    );
    let hostile = t
        .wait_for(about("exec", hostile))
        .expect("the hostile exec");
    assert_eq!(
        details(&hostile),
        r#"/bin/true [/bin/true "a b" "" "\x1b[31mred\nline"]"#
    );
    let alert = alert.expect("the zombie line");
    assert!(
        details(&alert).starts_with("zombie for ")
            && details(&alert).contains(&format!("parent {} (", std::process::id())),
        "{alert:?}"
    );
    let reap = reap.expect("the reap line");
    assert!(
        details(&reap).starts_with(&format!(
            "reaped by {} (wait), zombie for ",
            std::process::id()
        )) && details(&reap).ends_with("(long_lived)"),
        "{reap:?}"
    );

    let lines = t.stop();
    assert!(
        lines[0].starts_with("TIME            EVENT          PID    PPID COMM            DETAILS"),
        "the header first: {:?}",
        lines[0]
    );
    let summary = lines
        .iter()
        .rposition(|l| event(l) == "summary")
        .expect("a summary line");
    let block: Vec<&str> = lines[summary + 1..].iter().map(String::as_str).collect();
    assert!(block.len() >= 4, "the human summary: {block:?}");
    assert!(block.iter().all(|l| l.starts_with("  ")), "{block:?}");
    for label in [
        "  records:  start 1, ",
        "  zombies:  ",
        "  losses:   ",
        "  unreaped: ",
    ] {
        assert!(
            block.iter().any(|l| l.starts_with(label)),
            "{label:?} in {block:?}"
        );
    }
    let all = lines.join("\n");
    assert!(
        !all.contains('\x1b'),
        "no escape reaches a pipe with --color auto"
    );
}

#[test]
fn color_always_paints_and_keeps_the_columns() {
    let mut t = TextTracer::start(&["--proc-check-interval", "0", "--color", "always"]);
    let pid = run(Command::new("sh").args(["-c", "exit 3"]));
    let exit = t.wait_for(about("exit", pid)).expect("the exit line");
    let lines = t.stop();
    assert!(
        exit.contains("\x1b[31mexit      \x1b[0m"),
        "a red EVENT cell: {exit:?}"
    );
    assert!(
        lines[0].starts_with("\x1b[1mTIME"),
        "a bold header: {:?}",
        lines[0]
    );
    let exit = plain(&exit);
    assert!(details(&exit).starts_with("exit 3 after "), "{exit:?}");
}
