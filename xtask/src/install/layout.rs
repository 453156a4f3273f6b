//! Where `cargo xtask install` puts each file under its prefix, and the systemd unit as
//! installed there. Pure: the tests check the layout without installing anything.
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The repository's unit; its ExecStart names the binary under the default prefix.
pub const UNIT: &str = include_str!("../../../deploy/systemd/proctrace.service");
const UNIT_BINARY: &str = "/usr/local/bin/proctrace";

/// What one installed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// `proctrace man`.
    ManPage,
    /// `proctrace completions <shell>`.
    Completions(&'static str),
    /// [`UNIT`], ExecStart rewritten for the prefix.
    Unit,
}

impl Content {
    /// proctrace's arguments that print this file, when proctrace generates it.
    pub fn generator_args(self) -> Option<Vec<&'static str>> {
        match self {
            Content::ManPage => Some(vec!["man"]),
            Content::Completions(shell) => Some(vec!["completions", shell]),
            Content::Unit => None,
        }
    }
}

/// Every file besides the binary, with the path under `prefix` where the tools that read it
/// look: man-db's MANPATH (share/man), bash-completion's, zsh's and fish's vendor directories
/// (those of the same prefix), and systemd's unit search path (/usr/local/lib/systemd/system
/// is in it; systemd.unit(5)).
pub fn files(prefix: &Path) -> Vec<(PathBuf, Content)> {
    [
        ("share/man/man8/proctrace.8", Content::ManPage),
        (
            "share/bash-completion/completions/proctrace",
            Content::Completions("bash"),
        ),
        (
            "share/zsh/site-functions/_proctrace",
            Content::Completions("zsh"),
        ),
        (
            "share/fish/vendor_completions.d/proctrace.fish",
            Content::Completions("fish"),
        ),
        ("lib/systemd/system/proctrace.service", Content::Unit),
    ]
    .into_iter()
    .map(|(relative, content)| (prefix.join(relative), content))
    .collect()
}

/// [`UNIT`] with its ExecStart running `binary` (an absolute path) instead of
/// /usr/local/bin/proctrace.
pub fn unit_for(binary: &Path) -> Result<String> {
    let Some(path) = binary.to_str().filter(|_| binary.is_absolute()) else {
        bail!(
            "{} is not an absolute UTF-8 path, which a unit's ExecStart= needs: \
             pass an absolute --prefix",
            binary.display()
        );
    };
    let mut rewritten = 0;
    let lines: Vec<String> = UNIT
        .lines()
        .map(|line| match line.strip_prefix("ExecStart=") {
            Some(command) => {
                rewritten += 1;
                let args = command.strip_prefix(UNIT_BINARY).unwrap_or(command);
                format!("ExecStart={}{args}", exec_word(path))
            }
            None => line.to_owned(),
        })
        .collect();
    if rewritten != 1 || !UNIT.contains(&format!("ExecStart={UNIT_BINARY} ")) {
        bail!("deploy/systemd/proctrace.service must have one ExecStart={UNIT_BINARY} line");
    }
    Ok(lines.join("\n") + "\n")
}

/// `path` as one word of an ExecStart= command line (systemd.service(5), "Command lines"):
/// `%` starts a specifier and `$` a variable, so both are doubled; a path with blanks,
/// quotes or backslashes is double-quoted, with C-style escapes.
fn exec_word(path: &str) -> String {
    let escaped = path.replace('%', "%%").replace('$', "$$");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || "\"'\\".contains(c))
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_goes_where_its_reader_looks() {
        let files = files(Path::new("/opt/pt"));
        let paths: Vec<&str> = files.iter().filter_map(|(p, _)| p.to_str()).collect();
        assert_eq!(
            paths,
            [
                "/opt/pt/share/man/man8/proctrace.8",
                "/opt/pt/share/bash-completion/completions/proctrace",
                "/opt/pt/share/zsh/site-functions/_proctrace",
                "/opt/pt/share/fish/vendor_completions.d/proctrace.fish",
                "/opt/pt/lib/systemd/system/proctrace.service",
            ]
        );
        let args: Vec<_> = files.iter().map(|(_, c)| c.generator_args()).collect();
        assert_eq!(args[0], Some(vec!["man"]));
        assert_eq!(args[2], Some(vec!["completions", "zsh"]));
        assert_eq!(args[4], None);
    }

    fn exec_start(unit: &str) -> Vec<&str> {
        unit.lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect()
    }

    #[test]
    fn the_default_prefix_keeps_the_unit_as_it_is() {
        let unit = unit_for(Path::new("/usr/local/bin/proctrace")).expect("default");
        assert_eq!(unit, UNIT);
    }

    #[test]
    fn another_prefix_gets_its_own_exec_start() {
        let unit = unit_for(Path::new("/opt/pt/bin/proctrace")).expect("/opt/pt");
        assert_eq!(
            exec_start(&unit),
            ["ExecStart=/opt/pt/bin/proctrace --output /var/log/proctrace/events.jsonl"]
        );
        // Nothing else changes.
        assert_eq!(
            unit.replace("/opt/pt/bin/proctrace", UNIT_BINARY),
            UNIT,
            "only ExecStart"
        );
    }

    #[test]
    fn odd_prefixes_are_escaped_or_refused() {
        let unit = unit_for(Path::new("/srv/my tools/50%/bin/proctrace")).expect("blanks");
        assert_eq!(
            exec_start(&unit),
            ["ExecStart=\"/srv/my tools/50%%/bin/proctrace\" --output /var/log/proctrace/events.jsonl"]
        );
        let unit = unit_for(Path::new("/a$HOME/bin/proctrace")).expect("dollar");
        assert!(exec_start(&unit)[0].starts_with("ExecStart=/a$$HOME/bin/proctrace "));
        let err = unit_for(Path::new("relative/bin/proctrace")).expect_err("relative");
        assert!(
            err.to_string().contains("pass an absolute --prefix"),
            "{err}"
        );
    }
}
