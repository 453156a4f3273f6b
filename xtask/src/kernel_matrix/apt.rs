//! Debian packages without touching the host's apt: a private `APT_CONFIG` (own sources list,
//! package lists and cache under the kernel-matrix cache dir) for `apt-get update`,
//! `apt-cache show` and `apt-get download`; packages are unpacked with `dpkg-deb -x`, never
//! installed (qemu is the exception, see [`AptRoot::install`]).

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{bail, ensure, Context as _, Result};

use crate::cmd::{self, note};

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

/// One paragraph of `apt-cache show` output: field name → value (continuation lines joined
/// with '\n').
pub type Stanza = BTreeMap<String, String>;

pub fn parse_stanzas(text: &str) -> Vec<Stanza> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::new();
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            last_key = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(value) = last_key.as_ref().and_then(|key| current.get_mut(key)) {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.insert(key.to_owned(), value.trim().to_owned());
            last_key = Some(key.to_owned());
        }
    }
    if !current.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// A package at an exact version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
}

impl Package {
    pub fn from_stanza(stanza: &Stanza) -> Result<Self> {
        let field = |key: &str| {
            stanza
                .get(key)
                .cloned()
                .with_context(|| format!("no {key} field in {stanza:?}"))
        };
        Ok(Self {
            name: field("Package")?,
            version: field("Version")?,
            arch: field("Architecture")?,
        })
    }

    /// The name apt-get download gives the file (the epoch's ':' is written %3a).
    pub fn deb_file_name(&self) -> String {
        format!(
            "{}_{}_{}.deb",
            self.name,
            self.version.replace(':', "%3a"),
            self.arch
        )
    }
}

/// One alternative of a Depends entry: a package name and, for `(= V)`, the exact version.
#[derive(Debug, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub exact: Option<String>,
}

/// `a (= 1), b | c (>= 2)` → `[[a =1], [b, c]]`.
pub fn parse_depends(field: &str) -> Vec<Vec<Dep>> {
    field
        .split(',')
        .map(|entry| {
            entry
                .split('|')
                .filter_map(|alt| {
                    let alt = alt.trim();
                    let (name, rest) = match alt.split_once('(') {
                        Some((name, rest)) => (name.trim(), Some(rest)),
                        None => (alt, None),
                    };
                    let name = name.split(':').next().unwrap_or(name);
                    if name.is_empty() {
                        return None;
                    }
                    let exact = rest
                        .and_then(|rest| rest.trim_end().strip_suffix(')'))
                        .and_then(|rel| rel.trim().strip_prefix('='))
                        .map(|version| version.trim().to_owned());
                    Some(Dep {
                        name: name.to_owned(),
                        exact,
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|alts| !alts.is_empty())
        .collect()
}

/// Versioned kernel packages: `linux-image-6.1.0-56-cloud-amd64`, and on 7.x, where the
/// image is split, `linux-binary-7.3.4+deb13-cloud-amd64` (vmlinuz) and
/// `linux-base-7.3.4+deb13-cloud-amd64`. Not: meta packages (`linux-image-cloud-amd64`,
/// `linux-base-cloud-amd64`), Debian's `linux-base` tool package, modules, debug symbols.
pub fn is_kernel_package(name: &str) -> bool {
    ["linux-image-", "linux-binary-", "linux-base-"]
        .iter()
        .filter_map(|prefix| name.strip_prefix(prefix))
        .any(|rest| {
            // "6.1.0-56-…", "6.12.117+deb12-…", "7.3.4+deb13-…"; not the "6.12-…" meta.
            let version = rest
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .next()
                .unwrap_or("");
            version.split('.').filter(|part| !part.is_empty()).count() >= 3
                && !rest.ends_with("-dbg")
                && !rest.ends_with("-unsigned")
        })
}

/// The versioned kernel packages a (meta or versioned) image package stands for: itself if
/// versioned, and transitively the versioned kernel packages it depends on at an exact version.
/// `show(name, version)` looks a package up.
pub fn kernel_closure(
    top: &Stanza,
    mut show: impl FnMut(&str, &str) -> Result<Stanza>,
) -> Result<Vec<Package>> {
    let mut found = BTreeSet::new();
    let mut queue = VecDeque::from([top.clone()]);
    while let Some(stanza) = queue.pop_front() {
        let package = Package::from_stanza(&stanza)?;
        if found.contains(&package) {
            continue;
        }
        if is_kernel_package(&package.name) {
            found.insert(package.clone());
        }
        let depends = stanza.get("Depends").map(String::as_str).unwrap_or("");
        for dep in parse_depends(depends).into_iter().flatten() {
            if let (true, Some(version)) = (is_kernel_package(&dep.name), &dep.exact) {
                queue.push_back(show(&dep.name, version)?);
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// Among `names` (from `apt-cache pkgnames linux-image-<series>`), the newest versioned
/// image of `flavour` (e.g. `cloud-amd64`) in the series (`7.3.`): numeric parts compare as
/// numbers, so 7.3.10 > 7.3.4 and 6.1.0-56 > 6.1.0-9.
pub fn newest_in_series(names: &[String], series: &str, flavour: &str) -> Option<String> {
    let prefix = format!("linux-image-{series}");
    let suffix = format!("-{flavour}");
    names
        .iter()
        .filter(|name| name.starts_with(&prefix) && name.ends_with(&suffix))
        .filter(|name| is_kernel_package(name))
        .max_by(|a, b| natural_key(a).cmp(&natural_key(b)))
        .cloned()
}

/// Digit runs as numbers, everything else as text.
fn natural_key(s: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            key.push((rest[..digits].parse().unwrap_or(u64::MAX), String::new()));
            rest = &rest[digits..];
        } else {
            let text = rest.len() - rest.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
            key.push((0, rest[..text].to_owned()));
            rest = &rest[text..];
        }
    }
    key
}

/// `Candidate:` of `apt-cache policy` output.
pub fn policy_candidate(policy: &str) -> Option<String> {
    policy
        .lines()
        .find_map(|line| line.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| v != "(none)")
}

/// The `/etc/os-release` VERSION_CODENAME.
pub fn host_codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// Bail with a readable error if `stanzas` do not hold exactly one package.
pub fn single(mut stanzas: Vec<Stanza>, what: &str) -> Result<Stanza> {
    match stanzas.len() {
        1 => Ok(stanzas.swap_remove(0)),
        0 => bail!("no package for {what}"),
        n => {
            let versions: Vec<&str> = stanzas
                .iter()
                .filter_map(|s| s.get("Version").map(String::as_str))
                .collect();
            bail!("{n} packages for {what} (versions {versions:?}); expected one")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW_73: &str = "\
Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (7.3.4+1~bpo13+1)
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: linux-base-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-image-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-modules-cloud-amd64 (= 7.3.4-1~bpo13+1)
Description: Linux for x86-64 cloud (meta-package)
 This package depends on the latest Linux kernel
 for x86-64 cloud.

Package: linux-image-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-binary-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-modules-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)

Package: linux-binary-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)

Package: linux-base-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
";

    fn by_name(stanzas: &[Stanza]) -> impl FnMut(&str, &str) -> Result<Stanza> + '_ {
        |name, version| {
            stanzas
                .iter()
                .find(|s| s["Package"] == name && s["Version"] == version)
                .cloned()
                .with_context(|| format!("{name}={version} unknown"))
        }
    }

    #[test]
    fn parses_apt_cache_show() {
        let stanzas = parse_stanzas(SHOW_73);
        assert_eq!(stanzas.len(), 4);
        assert_eq!(stanzas[0]["Version"], "7.3.4-1~bpo13+1");
        assert_eq!(
            stanzas[0]["Description"],
            "Linux for x86-64 cloud (meta-package)\nThis package depends on the latest Linux \
             kernel\nfor x86-64 cloud."
        );
        assert_eq!(stanzas[3]["Package"], "linux-base-7.3.4+deb13-cloud-amd64");
    }

    #[test]
    fn parses_depends() {
        let deps = parse_depends(
            "dracut | initramfs-tools (>= 0.120+deb8u2), linux-base-7.3.4+deb13-cloud-amd64 \
             (= 7.3.4-1~bpo13+1), kmod, libc6:amd64 (= 2.36)",
        );
        assert_eq!(deps.len(), 4);
        assert_eq!(deps[0].len(), 2);
        assert_eq!(deps[0][1].name, "initramfs-tools");
        assert_eq!(deps[0][1].exact, None);
        assert_eq!(
            deps[1][0],
            Dep {
                name: "linux-base-7.3.4+deb13-cloud-amd64".into(),
                exact: Some("7.3.4-1~bpo13+1".into())
            }
        );
        assert_eq!(deps[2][0].name, "kmod");
        assert_eq!(deps[3][0].name, "libc6");
        assert_eq!(deps[3][0].exact.as_deref(), Some("2.36"));
        assert!(parse_depends("").is_empty());
    }

    #[test]
    fn selects_versioned_kernel_packages() {
        for name in [
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.12.117+deb12-cloud-amd64",
            "linux-binary-7.3.4+deb13-cloud-amd64",
            "linux-base-7.3.4+deb13-cloud-amd64",
        ] {
            assert!(is_kernel_package(name), "{name}");
        }
        for name in [
            "linux-image-cloud-amd64",
            "linux-image-6.12-cloud-amd64",
            "linux-base",
            "linux-base-cloud-amd64",
            "linux-modules-7.3.4+deb13-cloud-amd64",
            "linux-image-7.3.4+deb13-cloud-amd64-dbg",
            "linux-image-6.1.0-56-cloud-amd64-unsigned",
            "initramfs-tools",
        ] {
            assert!(!is_kernel_package(name), "{name}");
        }
    }

    #[test]
    fn follows_the_meta_package_to_the_split_7x_packages() {
        let stanzas = parse_stanzas(SHOW_73);
        let closure = kernel_closure(&stanzas[0], by_name(&stanzas)).unwrap();
        let names: Vec<&str> = closure.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "linux-base-7.3.4+deb13-cloud-amd64",
                "linux-binary-7.3.4+deb13-cloud-amd64",
                "linux-image-7.3.4+deb13-cloud-amd64",
            ]
        );
        assert!(closure.iter().all(|p| p.version == "7.3.4-1~bpo13+1"));
    }

    #[test]
    fn follows_the_6x_meta_package_to_its_image() {
        let stanzas = parse_stanzas(
            "Package: linux-image-6.12-cloud-amd64\nVersion: 6.12.117-1~deb12u1\n\
             Architecture: amd64\n\
             Depends: linux-image-6.12.117+deb12-cloud-amd64 (= 6.12.117-1~deb12u1)\n\n\
             Package: linux-image-6.12.117+deb12-cloud-amd64\nVersion: 6.12.117-1~deb12u1\n\
             Architecture: amd64\n\
             Depends: kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\n",
        );
        let closure = kernel_closure(&stanzas[0], by_name(&stanzas)).unwrap();
        assert_eq!(closure.len(), 1);
        assert_eq!(closure[0].name, "linux-image-6.12.117+deb12-cloud-amd64");
        // A dependency that cannot be looked up is an error, not a silent gap.
        assert!(kernel_closure(&stanzas[0], by_name(&stanzas[..1])).is_err());
    }

    #[test]
    fn picks_the_newest_image_of_a_series() {
        let names: Vec<String> = [
            "linux-image-7.3.4+deb13-cloud-amd64",
            "linux-image-7.3.10+deb13-cloud-amd64",
            "linux-image-7.3.10+deb13-cloud-amd64-dbg",
            "linux-image-7.3.11+deb13-amd64",
            "linux-image-7.3.12+deb13-rt-amd64",
            "linux-image-7.30.1+deb13-cloud-amd64",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            newest_in_series(&names, "7.3.", "cloud-amd64").as_deref(),
            Some("linux-image-7.3.10+deb13-cloud-amd64")
        );
        let names: Vec<String> = [
            "linux-image-6.1.0-9-cloud-amd64",
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.1.0-56-cloud-amd64-unsigned",
            "linux-image-6.12.117+deb12-cloud-amd64",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            newest_in_series(&names, "6.1.", "cloud-amd64").as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        assert_eq!(newest_in_series(&names, "5.10.", "cloud-amd64"), None);
    }

    #[test]
    fn names_debs_like_apt_get_download() {
        let package = Package {
            name: "busybox-static".into(),
            version: "1:1.35.0-4+deb12u1+b1".into(),
            arch: "amd64".into(),
        };
        assert_eq!(
            package.deb_file_name(),
            "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"
        );
    }

    #[test]
    fn reads_policy_candidate() {
        let policy = "busybox-static:\n  Installed: (none)\n  Candidate: 1:1.35.0-4+deb12u1+b1\n  \
                      Version table:\n";
        assert_eq!(
            policy_candidate(policy).as_deref(),
            Some("1:1.35.0-4+deb12u1+b1")
        );
        assert_eq!(policy_candidate("x:\n  Candidate: (none)\n"), None);
    }

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
