//! `cargo xtask run`: build, then replace this process with proctrace so Ctrl-C
//! and the exit status go straight to it. JSON records stream to stdout.

use std::{ffi::OsString, os::unix::process::CommandExt as _, process::Command};

use anyhow::{Context as _, Result};

use crate::{
    build,
    cmd::{self, note},
};

#[derive(clap::Args)]
pub struct Options {
    /// Build and run the optimized binary
    #[arg(long)]
    release: bool,
    /// Arguments for proctrace (after `--`)
    #[arg(last = true, value_name = "PROCTRACE_ARGS")]
    args: Vec<OsString>,
}

pub fn run(Options { release, args }: Options) -> Result<()> {
    let binary = build::build(release)?;
    if !cmd::is_root() {
        note("proctrace needs root (it loads eBPF programs and mounts tracefs); not root, trying anyway");
    }
    let mut proctrace = Command::new(&binary);
    proctrace.args(&args);
    cmd::announce(&proctrace);
    // exec only returns on failure.
    let err = proctrace.exec();
    Err(err).with_context(|| format!("failed to exec {}", binary.display()))
}
