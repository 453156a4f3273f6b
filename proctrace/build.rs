use std::path::PathBuf;

use anyhow::Context as _;
use aya_build::{Package, Toolchain};

/// Builds proctrace-ebpf for the bpf target with the nightly toolchain and bpf-linker, and
/// leaves the object in OUT_DIR for `include_bytes_aligned!` (aya-template's layout).
fn main() -> anyhow::Result<()> {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let root_dir = manifest_dir.join("..").join("proctrace-ebpf");
    let root_dir = root_dir.to_str().context("non-UTF-8 workspace path")?;
    aya_build::build_ebpf(
        [Package {
            name: "proctrace-ebpf",
            root_dir,
            ..Default::default()
        }],
        Toolchain::default(),
    )
}
