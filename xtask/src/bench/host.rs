//! The host around the benchmark: tracefs and the peers' packages it needs, and what the
//! report says about the run (the command line, the commit, the date).

use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

use super::{
    procfs,
    tracers::{self, Tracer},
};
use crate::cmd::{self, note};

pub fn ensure_tracefs() -> Result<()> {
    if procfs::tracefs_mounted() {
        return Ok(());
    }
    // proctrace mounts it itself; the peers (bpftrace, bcc) expect it.
    cmd::run(Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]))
        .context("mounting tracefs for the peer tracers")
}

/// apt-get install the Debian packages of the peers that are missing. Failures are reported
/// (the peer is then listed as not installed), never fatal.
pub fn install_missing(all: &[Tracer]) {
    let mut packages: Vec<&str> = all
        .iter()
        .filter(|t| tracers::find_program(&t.program).is_none())
        .filter_map(|t| t.package)
        .collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return;
    }
    note(format_args!(
        "installing the missing peer tracers: {}",
        packages.join(" ")
    ));
    let install = |pkgs: &[&str]| {
        cmd::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "--no-install-recommends"])
                .args(pkgs),
        )
    };
    if install(&packages).is_ok() {
        return;
    }
    let _ = cmd::run(Command::new("apt-get").args(["update"]));
    if install(&packages).is_ok() {
        return;
    }
    for package in packages {
        if let Err(err) = install(&[package]) {
            note(format_args!("could not install {package}: {err:#}"));
        }
    }
}

/// `cargo xtask bench ARGS` as typed, for the report's `Command:` line. Read from the
/// process arguments rather than rebuilt from the parsed options so the report shows exactly
/// what was run (clap has already parsed them; nothing here interprets them).
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut parts = vec!["cargo".to_owned(), "xtask".to_owned()];
    parts.extend(args);
    parts.join(" ")
}

/// The commit benchmarked (`+dirty` with uncommitted changes).
pub fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(cmd::workspace_root())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown commit".into();
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

pub fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
