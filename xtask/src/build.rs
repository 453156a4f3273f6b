//! `cargo xtask build`: the proctrace binary. proctrace/build.rs (aya-build) compiles
//! the eBPF crate with nightly and embeds it, so this is a plain cargo build.

use std::path::PathBuf;

use anyhow::{ensure, Result};

use crate::{
    cmd::{self, note},
    setup,
};

#[derive(clap::Args)]
pub struct Options {
    /// Build with optimizations (target/release)
    #[arg(long)]
    pub release: bool,
}

pub fn run(Options { release }: Options) -> Result<()> {
    let binary = build(release)?;
    note(format_args!("built {}", binary.display()));
    Ok(())
}

/// Set up the toolchain, build tracer, and return the path of the proctrace binary.
pub fn build(release: bool) -> Result<PathBuf> {
    setup::ensure()?;
    cmd::run(
        cmd::cargo()
            .args(["build", "-p", "proctrace"])
            .args(cmd::release_flag(release)),
    )?;
    let profile = if release { "release" } else { "debug" };
    let binary = cmd::target_dir().join(profile).join("proctrace");
    ensure!(
        binary.is_file(),
        "cargo build succeeded but {} does not exist",
        binary.display()
    );
    Ok(binary)
}
