//! `apt-cache show` and `apt-cache policy` output.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};

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

/// `Candidate:` of `apt-cache policy` output.
pub fn policy_candidate(policy: &str) -> Option<String> {
    policy
        .lines()
        .find_map(|line| line.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| v != "(none)")
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
    use super::{super::fixtures::SHOW_73, *};

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
}
