//! Debian packages without touching the host's apt: a private `APT_CONFIG` (own sources list,
//! package lists and cache under the kernel-matrix cache dir) for `apt-get update`,
//! `apt-cache show` and `apt-get download`; packages are unpacked with `dpkg-deb -x`, never
//! installed (qemu is the exception, see [`AptRoot::install`]).
//!
//! [`stanza`] reads `apt-cache` output; [`kernel_packages`] follows a kernel's dependencies to
//! its versioned packages.

#[cfg(test)]
mod fixtures;
mod kernel_packages;
mod stanza;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{ensure, Context as _, Result};

use crate::cmd::{self, note};

pub use kernel_packages::{kernel_closure, newest_in_series};
pub use stanza::{parse_stanzas, policy_candidate, single, Package, Stanza};

const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Package lists younger than this are used as they are (no network access at all).
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// One private apt configuration: a directory with apt.conf, sources.list, lists/ and cache/.
pub struct AptRoot {
    dir: PathBuf,
    sources: String,
}

impl AptRoot {
    /// Creates (or reuses) the apt directory `dir` for these suites of Debian's main archive
    /// (`-security` suites come from the security archive).
    pub fn new(dir: PathBuf, suites: &[&str]) -> Result<Self> {
        for sub in [
            "lists/partial",
            "cache/archives/partial",
            "sources.list.d",
            "preferences.d",
        ] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        }
        let root = Self {
            sources: sources_list(suites),
            dir,
        };
        write_if_changed(&root.config_path(), &root.apt_conf())?;
        write_if_changed(&root.dir.join("sources.list"), &root.sources)?;
        Ok(root)
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("apt.conf")
    }

    /// Everything that names a place to read or write points into `dir`. The host's
    /// apt.conf.d is still read (after this file), so proxy settings keep working; it sets
    /// none of these keys. apt's `_apt` sandbox user cannot write under root's home, hence
    /// the sandbox user.
    fn apt_conf(&self) -> String {
        let dir = self.dir.display();
        format!(
            "Dir::Etc::sourcelist \"{dir}/sources.list\";\n\
             Dir::Etc::sourceparts \"{dir}/sources.list.d\";\n\
             Dir::Etc::preferences \"{dir}/preferences\";\n\
             Dir::Etc::preferencesparts \"{dir}/preferences.d\";\n\
             Dir::State::lists \"{dir}/lists/\";\n\
             Dir::Cache \"{dir}/cache/\";\n\
             Dir::Cache::archives \"{dir}/cache/archives/\";\n\
             APT::Keep-Downloaded-Packages \"false\";\n\
             APT::Sandbox::User \"root\";\n"
        )
    }

    /// `program` (apt-get, apt-cache) with this configuration.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("APT_CONFIG", self.config_path());
        command
    }

    /// `apt-get update` unless the lists were fetched for the same sources less than a day
    /// ago (`force` refreshes anyway).
    pub fn update(&self, force: bool) -> Result<()> {
        let stamp = self.dir.join("updated");
        let fresh = fs::read_to_string(&stamp).is_ok_and(|text| text == self.sources)
            && fs::metadata(&stamp)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age < LISTS_MAX_AGE);
        if fresh && !force {
            note(format_args!(
                "package lists in {} are less than a day old; not refreshing (--refresh does)",
                self.dir.display()
            ));
            return Ok(());
        }
        cmd::run(self.command("apt-get").args(["-q", "update"]))
            .with_context(|| format!("apt-get update with {}", self.config_path().display()))?;
        fs::write(&stamp, &self.sources).with_context(|| format!("writing {}", stamp.display()))
    }

    /// The stanzas `apt-cache show SPEC` prints (`name`, `name=version`, `name/suite`).
    pub fn show(&self, spec: &str) -> Result<Vec<Stanza>> {
        let text = cmd::stdout_of(self.command("apt-cache").args(["show", spec]))?;
        let stanzas = parse_stanzas(&text);
        ensure!(!stanzas.is_empty(), "`apt-cache show {spec}` found nothing");
        Ok(stanzas)
    }

    /// The single stanza of `name=version`.
    pub fn show_one(&self, name: &str, version: &str) -> Result<Stanza> {
        let mut stanzas = self.show(&format!("{name}={version}"))?;
        Ok(stanzas.swap_remove(0))
    }

    /// Package names starting with `prefix`.
    pub fn pkgnames(&self, prefix: &str) -> Result<Vec<String>> {
        let text = cmd::stdout_of(self.command("apt-cache").args(["pkgnames", prefix]))?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// `apt-get download name=version` into `dir`; returns the .deb's path.
    pub fn download(&self, package: &Package, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let deb = dir.join(package.deb_file_name());
        if !deb.is_file() {
            cmd::run(
                self.command("apt-get")
                    .current_dir(dir)
                    .args(["-q", "download"])
                    .arg(format!("{}={}", package.name, package.version)),
            )?;
        }
        ensure!(
            deb.is_file(),
            "apt-get download succeeded but {} does not exist",
            deb.display()
        );
        Ok(deb)
    }

    /// `apt-get install` (really installs, for the qemu binary): the target release is
    /// preferred, everything else comes from this root's suites.
    pub fn install(&self, target_release: &str, packages: &[&str]) -> Result<()> {
        cmd::run(
            self.command("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["-q", "-y", "--no-install-recommends", "install", "-t"])
                .arg(target_release)
                .args(packages),
        )
    }
}

fn sources_list(suites: &[&str]) -> String {
    suites
        .iter()
        .map(|suite| {
            let mirror = if suite.ends_with("-security") {
                SECURITY_MIRROR
            } else {
                MIRROR
            };
            format!("deb [signed-by={KEYRING}] {mirror} {suite} main\n")
        })
        .collect()
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `dpkg-deb -x deb dir` (a fresh `dir`).
pub fn unpack(deb: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    cmd::run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dir))
}

/// The `/etc/os-release` VERSION_CODENAME.
pub fn host_codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_private_sources_list() {
        assert_eq!(
            sources_list(&["bookworm", "bookworm-security"]),
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             http://deb.debian.org/debian bookworm main\n\
             deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             http://deb.debian.org/debian-security bookworm-security main\n"
        );
    }
}
