//! A run's console (a guest's serial output, or the host script's output): into
//! `<logs>/<label>.log`, echoed with a `[label]` prefix except for the kernel's own messages,
//! killed after a timeout, then parsed into the run's row.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc::{self, Receiver},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

use super::report::{Row, RunLog};
use crate::cmd::{self, note};

/// Run `command` (a guest or the host script), its stdout and stderr into
/// `<logs>/<label>.log`, echoing all but the kernel's own messages with a `[label]` prefix;
/// killed after `timeout`.
pub fn run_logged(label: &str, mut command: Command, logs: &Path, timeout: Duration) -> Row {
    let log_path = logs.join(format!("{label}.log"));
    let mut row = Row {
        kernel: label.to_owned(),
        log: RunLog::default(),
        wall: Duration::ZERO,
        timed_out: false,
        error: None,
        log_path: log_path.display().to_string(),
    };
    note(format_args!(
        "{label}: running (log: {})",
        log_path.display()
    ));
    let started = Instant::now();
    match capture(&mut command, &log_path, label, timeout) {
        Ok((text, timed_out)) => {
            row.log = RunLog::parse(&text);
            row.timed_out = timed_out;
        }
        Err(err) => row.error = Some(format!("{err:#}")),
    }
    row.wall = started.elapsed();
    note(format_args!(
        "{label}: {} in {:.0} s",
        if row.passed() { "passed" } else { "FAILED" },
        row.wall.as_secs_f64()
    ));
    row
}

/// Run `command` to its end (or `timeout`); returns its output and whether it timed out.
fn capture(
    command: &mut Command,
    log_path: &Path,
    label: &str,
    timeout: Duration,
) -> Result<(String, bool)> {
    let mut log =
        fs::File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd::announce(command);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", cmd::display(command)))?;
    let (rx, readers) = read_lines(&mut child);
    let (mut text, timed_out) = relay(&rx, &mut log, label, timeout, &mut child)?;
    let status = child.wait()?;
    for reader in readers {
        let _ = reader.join();
    }
    // What came after the kill.
    while let Ok(bytes) = rx.try_recv() {
        log.write_all(&bytes)?;
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let tail = format!("\n@@xtask exit status: {status}\n");
    log.write_all(tail.as_bytes())?;
    Ok((text, timed_out))
}

/// Threads sending each line of the child's stdout and stderr as it comes.
fn read_lines(child: &mut Child) -> (Receiver<Vec<u8>>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    })
    .collect();
    drop(tx);
    (rx, readers)
}

/// Each line into `log` and the returned text, echoed unless it is the kernel's, until both
/// streams end or `timeout` passes; then the child is killed. Returns the text and whether
/// it timed out.
fn relay(
    rx: &Receiver<Vec<u8>>,
    log: &mut File,
    label: &str,
    timeout: Duration,
    child: &mut Child,
) -> Result<(String, bool)> {
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut in_dmesg = false;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => {
                log.write_all(&bytes)?;
                let line = String::from_utf8_lossy(&bytes);
                let shown = line.trim_end();
                if shown == "@@matrix dmesg-begin" {
                    in_dmesg = true;
                } else if shown == "@@matrix dmesg-end" {
                    in_dmesg = false;
                } else if !in_dmesg && !is_kernel_message(shown) && !shown.is_empty() {
                    eprintln!("[{label}] {shown}");
                }
                text.push_str(&line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                note(format_args!(
                    "{label}: no end after {} s; killing it",
                    timeout.as_secs()
                ));
                // Our own child, by its handle.
                let _ = child.kill();
                break;
            }
        }
    }
    Ok((text, timed_out))
}

/// A console line printed by the kernel: `[    1.234567] …`.
fn is_kernel_message(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(stamp, _)| stamp.trim().split_once('.'))
        .is_some_and(|(secs, micros)| {
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            digits(secs) && digits(micros) && micros.len() == 6
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_kernel_messages_from_test_output() {
        assert!(is_kernel_message(
            "[    1.234567] Run /init as init process"
        ));
        assert!(is_kernel_message("[12345.000001] reboot: Power down"));
        assert!(!is_kernel_message("test edges::a ... ok <0.1s>"));
        assert!(!is_kernel_message("[6.1] echoed"));
        assert!(!is_kernel_message("[] x"));
    }
}
