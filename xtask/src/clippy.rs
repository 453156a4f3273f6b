//! `cargo xtask clippy`: lint the host crates, then the eBPF crate for its real
//! target (it cannot be built for the host, so the first pass excludes it).

use anyhow::Result;

use crate::{
    cmd, setup,
    toolchain::{self, NIGHTLY},
};

#[derive(clap::Args)]
pub struct Options {}

pub fn run(Options {}: Options) -> Result<()> {
    setup::ensure()?;
    setup::ensure_component(None, "clippy")?;
    setup::ensure_component(Some(NIGHTLY), "clippy")?;

    let host = cmd::run(cmd::cargo().args([
        "clippy",
        "--workspace",
        "--exclude",
        "proctrace-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    let ebpf = cmd::run(cmd::cargo().arg(toolchain::override_arg()).args([
        "clippy",
        "-p",
        "proctrace-ebpf",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--",
        "-D",
        "warnings",
    ]));
    // Run both passes, then report the first failure.
    host.and(ebpf)
}
