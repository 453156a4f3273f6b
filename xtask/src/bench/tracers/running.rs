//! A started tracer: waiting until it is attached, checking on it, stopping it.

use std::{
    fs::{self, File},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use super::{Ready, Tracer};
use crate::bench::procfs;

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
    let mut readiness = Readiness::default();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}) before it was ready; stderr:\n{}",
                tracer.label,
                tail(err, 8)
            );
        }
        if readiness.check(tracer.ready, out, pid, started) {
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

/// Polls a starting tracer against its [`Ready`] rule.
#[derive(Default)]
struct Readiness {
    /// Consecutive polls with the same attachments (for [`Ready::Attached`]).
    stable: u32,
    last: procfs::Attachments,
}

impl Readiness {
    /// Whether the tracer (`pid`, writing to `out`, started at `started`) is ready now.
    fn check(&mut self, ready: Ready, out: &Path, pid: u32, started: Instant) -> bool {
        match ready {
            Ready::Marker(marker) => fs::read(out)
                .map(|bytes| String::from_utf8_lossy(&bytes).contains(marker))
                .unwrap_or(false),
            Ready::Attached => {
                let now = procfs::attachments(pid);
                self.stable = if now.epoll && now.links > 0 && now == self.last {
                    self.stable + 1
                } else {
                    0
                };
                self.last = now;
                self.stable >= 3
            }
            Ready::Delay(delay) => started.elapsed() >= delay,
        }
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

/// The last `n` lines of a (small) file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
