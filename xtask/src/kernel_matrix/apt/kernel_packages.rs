//! Which packages make up a kernel: Debian's versioned kernel packages, a meta package's
//! closure of them, and the newest image of a series.

use std::collections::{BTreeSet, VecDeque};

use anyhow::Result;

use super::stanza::{Package, Stanza};

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

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::{
        super::{fixtures::SHOW_73, stanza::parse_stanzas},
        *,
    };

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
}
