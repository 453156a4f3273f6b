//! `cargo xtask install`: release build, then install proctrace to `<prefix>/bin`.

use std::{fs, os::unix::fs::PermissionsExt as _, path::PathBuf};

use anyhow::{Context as _, Result};

use crate::{build, cmd::note};

#[derive(clap::Args)]
pub struct Options {
    /// Installation prefix; the binary goes to <PREFIX>/bin/proctrace
    #[arg(long, default_value = "/usr/local")]
    prefix: PathBuf,
}

pub fn run(Options { prefix }: Options) -> Result<()> {
    let binary = build::build(true)?;
    let bin_dir = prefix.join("bin");
    let dest = bin_dir.join("proctrace");
    note(format_args!(
        "$ install -m 0755 {} {}",
        binary.display(),
        dest.display()
    ));
    fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    // Copy next to the destination and rename over it: atomic, and works while an
    // older proctrace is running ("text file busy").
    let tmp = bin_dir.join(".proctrace.xtask-install");
    fs::copy(&binary, &tmp).with_context(|| format!("copying to {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod 0755 {}", tmp.display()))?;
    fs::rename(&tmp, &dest).with_context(|| format!("moving into place: {}", dest.display()))?;
    note(format_args!("installed {}", dest.display()));
    Ok(())
}
