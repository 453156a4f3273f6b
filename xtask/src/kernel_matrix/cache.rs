//! The kernel-matrix cache (`$XDG_CACHE_HOME/proctrace/kernels` or
//! `~/.cache/proctrace/kernels`): package lists, busybox and the kernels, kept between runs.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context as _, Result};

use super::{
    apt::{self, AptRoot},
    elf,
};
use crate::cmd::{self, note};

/// `$XDG_CACHE_HOME/proctrace/kernels` or `~/.cache/proctrace/kernels`.
pub fn dir() -> Result<PathBuf> {
    let dir = crate::setup::cache_dir()?.join("kernels");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Refresh the lists when stale; with old lists and no network, go on with the old ones.
pub fn update_lists(apt: &AptRoot, force: bool) -> Result<()> {
    match apt.update(force) {
        Ok(()) => Ok(()),
        Err(err) if apt.show("busybox-static").is_ok() => {
            note(format_args!(
                "warning: {err:#}; going on with the package lists already there"
            ));
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// busybox from busybox-static (downloaded and unpacked, not installed), cached by version.
pub fn fetch_busybox(apt: &AptRoot, cache: &Path) -> Result<PathBuf> {
    let policy = cmd::stdout_of(apt.command("apt-cache").args(["policy", "busybox-static"]))?;
    let version = apt::policy_candidate(&policy).context("no candidate for busybox-static")?;
    let dir = cache.join("busybox").join(version.replace(':', "%3a"));
    let busybox = dir.join("busybox");
    if busybox.is_file() {
        note(format_args!("busybox-static {version}: cached"));
        return Ok(busybox);
    }
    let package = apt::Package::from_stanza(&apt.show_one("busybox-static", &version)?)?;
    let downloads = cache.join("downloads");
    let deb = apt.download(&package, &downloads)?;
    let unpacked = downloads.join("unpacked");
    apt::unpack(&deb, &unpacked)?;
    let found = ["bin/busybox", "usr/bin/busybox"]
        .iter()
        .map(|p| unpacked.join(p))
        .find(|p| p.is_file())
        .with_context(|| format!("no busybox binary in {}", deb.display()))?;
    ensure!(elf::is_static(&found)?, "{} is not static", found.display());
    install_file(&found, &busybox)?;
    fs::remove_dir_all(&unpacked)?;
    fs::remove_file(&deb)?;
    Ok(busybox)
}

/// Copy through a temporary name, so an interrupted run leaves no half file in the cache.
pub fn install_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = to.with_extension("partial");
    fs::copy(from, &tmp)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    fs::rename(&tmp, to).with_context(|| format!("renaming {} to {}", tmp.display(), to.display()))
}
