//! The kernel lines of the matrix and getting each one's vmlinuz: the line's package
//! resolved in the private apt configuration, its versioned packages downloaded and unpacked
//! (never installed), the image kept in the cache under the package name and version.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context as _, Result};

use super::{
    apt::{self, AptRoot, Package, Stanza},
    cache::install_file,
};
use crate::cmd::note;

/// One kernel line of the matrix.
pub struct KernelLine {
    pub label: &'static str,
    /// Meta package that follows the line's newest build.
    pub meta: &'static str,
    pub suite: &'static str,
    /// Versions of the line start with this; if the meta package has moved on, the newest
    /// `linux-image-<series>*-<FLAVOUR>` in the suite is taken instead.
    pub series: &'static str,
}

const FLAVOUR: &str = "cloud-amd64";

const KERNELS: [KernelLine; 4] = [
    // Debian 11's kernel, the oldest line: it has tp_btf, fentry and the ring buffer, but no
    // per-program recursion_misses (5.12) and the old tracepoint layouts.
    KernelLine {
        label: "5.10",
        meta: "linux-image-cloud-amd64",
        suite: "bullseye-security",
        series: "5.10.",
    },
    KernelLine {
        label: "6.1",
        meta: "linux-image-cloud-amd64",
        suite: "bookworm-security",
        series: "6.1.",
    },
    KernelLine {
        label: "6.12",
        meta: "linux-image-6.12-cloud-amd64",
        suite: "bookworm-security",
        series: "6.12.",
    },
    KernelLine {
        label: "7.3",
        // trixie-backports' meta package; bookworm's has the same name (hence the suite).
        meta: "linux-image-cloud-amd64",
        suite: "trixie-backports",
        series: "7.3.",
    },
];

/// Suites of the private apt configuration for kernels and busybox-static.
pub const KERNEL_SUITES: [&str; 4] = [
    "bookworm",
    "bookworm-security",
    "bullseye-security",
    "trixie-backports",
];

/// The lines named by `--kernel` (all of them when none is).
pub fn select(labels: &[String]) -> Result<Vec<&'static KernelLine>> {
    if labels.is_empty() {
        return Ok(KERNELS.iter().collect());
    }
    labels
        .iter()
        .map(|label| {
            KERNELS.iter().find(|k| k.label == label).with_context(|| {
                let known: Vec<&str> = KERNELS.iter().map(|k| k.label).collect();
                format!("unknown kernel {label:?} (known: {})", known.join(", "))
            })
        })
        .collect()
}

/// The line's vmlinuz, from the cache or downloaded: `<cache>/<package>_<version>/vmlinuz`
/// with the kernel release (what `uname -r` should say) in `release` beside it.
pub fn fetch_kernel(apt: &AptRoot, cache: &Path, line: &KernelLine) -> Result<PathBuf> {
    let (spec, top) = resolve_image(apt, line)?;
    let top_package = apt::Package::from_stanza(&top)?;
    let dir = cache.join(format!(
        "{}_{}",
        top_package.name,
        top_package.version.replace(':', "%3a")
    ));
    let vmlinuz = dir.join("vmlinuz");
    if vmlinuz.is_file() && dir.join("release").is_file() {
        note(format_args!(
            "{}: {} {} cached in {}",
            line.label,
            top_package.name,
            top_package.version,
            dir.display()
        ));
        return Ok(vmlinuz);
    }
    let packages = apt::kernel_closure(&top, |name, version| apt.show_one(name, version))?;
    ensure!(
        !packages.is_empty(),
        "{spec} leads to no versioned kernel package"
    );
    unpack_image(apt, cache, &packages, &dir)?;
    note(format_args!(
        "{}: {} {} unpacked to {}",
        line.label,
        top_package.name,
        top_package.version,
        dir.display()
    ));
    Ok(vmlinuz)
}

/// The line's image package: its meta package in its suite, or, if that has moved on to
/// another series, the series' newest image. Returns the meta package's spec too.
fn resolve_image(apt: &AptRoot, line: &KernelLine) -> Result<(String, Stanza)> {
    let spec = format!("{}/{}", line.meta, line.suite);
    let mut top = apt::single(apt.show(&spec)?, &spec)?;
    let version = top.get("Version").cloned().unwrap_or_default();
    if !version.starts_with(line.series) {
        let names = apt.pkgnames(&format!("linux-image-{}", line.series))?;
        let name = apt::newest_in_series(&names, line.series, FLAVOUR).with_context(|| {
            format!(
                "{spec} is now {version}, and there is no linux-image-{}*-{FLAVOUR}",
                line.series
            )
        })?;
        note(format_args!(
            "{spec} is now {version}; using {name}, the newest of the {} line",
            line.label
        ));
        let spec = format!("{name}/{}", line.suite);
        top = apt::single(apt.show(&spec)?, &spec)?;
    }
    Ok((spec, top))
}

/// Download and unpack each of `packages`; the image found in one of them goes to `dir` as
/// `vmlinuz`, with its kernel release in `release` and the package list in `packages`.
fn unpack_image(apt: &AptRoot, cache: &Path, packages: &[Package], dir: &Path) -> Result<()> {
    let vmlinuz = dir.join("vmlinuz");
    let downloads = cache.join("downloads");
    let unpacked = downloads.join("unpacked");
    let mut debs = Vec::new();
    for package in packages {
        let deb = apt.download(package, &downloads)?;
        apt::unpack(&deb, &unpacked)?;
        if let Some((image, release)) = find_vmlinuz(&unpacked)? {
            fs::create_dir_all(dir)?;
            install_file(&image, &vmlinuz)?;
            fs::write(dir.join("release"), format!("{release}\n"))?;
            let names: Vec<String> = packages
                .iter()
                .map(|p| format!("{} {}\n", p.name, p.version))
                .collect();
            fs::write(dir.join("packages"), names.concat())?;
        }
        debs.push(deb);
    }
    if unpacked.exists() {
        fs::remove_dir_all(&unpacked)?;
    }
    for deb in debs {
        fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))?;
    }
    ensure!(
        vmlinuz.is_file(),
        "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in {}",
        packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The kernel image in an unpacked package, and its release: `boot/vmlinuz-<release>`
/// (6.x packages), `usr/lib/modules/<release>/vmlinuz` (7.x's linux-binary-*).
pub fn find_vmlinuz(root: &Path) -> Result<Option<(PathBuf, String)>> {
    if let Ok(entries) = fs::read_dir(root.join("boot")) {
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(release) = name.strip_prefix("vmlinuz-") {
                return Ok(Some((entry.path(), release.to_owned())));
            }
        }
    }
    for modules in ["usr/lib/modules", "lib/modules"] {
        let Ok(entries) = fs::read_dir(root.join(modules)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let image = entry.path().join("vmlinuz");
            if image.is_file() {
                let release = entry.file_name().to_string_lossy().into_owned();
                return Ok(Some((image, release)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_vmlinuz_in_both_package_layouts() {
        let root = std::env::temp_dir().join(format!("xtask-vmlinuz-{}", std::process::id()));
        let old = root.join("old");
        let new = root.join("new");
        fs::create_dir_all(old.join("boot")).unwrap();
        fs::write(old.join("boot/vmlinuz-6.1.0-56-cloud-amd64"), b"").unwrap();
        fs::create_dir_all(new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64")).unwrap();
        fs::write(
            new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz"),
            b"",
        )
        .unwrap();
        fs::create_dir_all(root.join("base/usr/lib/modules/7.3.4+deb13-cloud-amd64")).unwrap();
        let found = (
            find_vmlinuz(&old).unwrap(),
            find_vmlinuz(&new).unwrap(),
            find_vmlinuz(&root.join("base")).unwrap(),
        );
        fs::remove_dir_all(&root).unwrap();
        let (old_found, new_found, base_found) = found;
        assert_eq!(
            old_found,
            Some((
                old.join("boot/vmlinuz-6.1.0-56-cloud-amd64"),
                "6.1.0-56-cloud-amd64".to_owned()
            ))
        );
        assert_eq!(
            new_found,
            Some((
                new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz"),
                "7.3.4+deb13-cloud-amd64".to_owned()
            ))
        );
        assert_eq!(base_found, None);
    }

    #[test]
    fn kernel_lines_are_distinct() {
        let labels: std::collections::HashSet<_> = KERNELS.iter().map(|k| k.label).collect();
        assert_eq!(labels.len(), KERNELS.len());
        for line in &KERNELS {
            assert!(line.series.starts_with(line.label) && line.series.ends_with('.'));
        }
    }
}
