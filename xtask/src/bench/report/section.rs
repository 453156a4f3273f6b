//! BENCHMARKS.md's generated sections: each between its own markers, replaced on its own,
//! everything outside them kept.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};

const INTRO: &str = "# Benchmarks

proctrace side by side with the tracers a user would pick instead, on process-churn
workloads and a syscall loop, measured by `cargo xtask bench` (code: `xtask/src/bench/`; workloads:
`proctrace-tests/src/bin/proctrace-workload.rs`). Both sections below are generated: `cargo xtask
bench` rewrites the first, `cargo xtask bench --soak` the second; text outside them is kept.
";

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- bench:{name} begin (generated) -->"),
        format!("<!-- bench:{name} end -->"),
    )
}

/// Replace the generated section `name` of the report (creating the file, or appending the
/// section, when missing) and keep everything else.
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<()> {
    let existing = fs::read_to_string(path).unwrap_or_default();
    let text = replace_section(&existing, name, body);
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `existing` with section `name` replaced by `body`; a new report when `existing` is empty.
fn replace_section(existing: &str, name: &str, body: &str) -> String {
    let (begin, end) = markers(name);
    let section = format!("{begin}\n{}\n{end}", body.trim_end());
    let mut text = if existing.trim().is_empty() {
        new_report()
    } else {
        existing.to_owned()
    };
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            text.replace_range(b..e + end.len(), &section);
        }
        _ => {
            let _ = write!(text, "\n{section}\n");
        }
    }
    text
}

/// The intro and both sections, not run yet.
fn new_report() -> String {
    let mut text = INTRO.to_owned();
    for (other, placeholder) in [
        (
            "quick",
            "## Side by side\n\nNot run yet: `cargo xtask bench`.",
        ),
        (
            "soak",
            "## Soak\n\nNot run yet: `cargo xtask bench --soak`.",
        ),
    ] {
        let (b, e) = markers(other);
        let _ = write!(text, "\n{b}\n{placeholder}\n{e}\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_and_kept() {
        let first = replace_section("", "quick", "## Side by side\n\nA");
        assert!(first.starts_with("# Benchmarks"));
        assert!(first.contains("\nA\n"));
        assert!(first.contains("cargo xtask bench --soak`."));
        let notes = format!("{first}\n## Profile\n\nnotes\n");
        let second = replace_section(&notes, "soak", "## Soak\n\nB");
        assert!(second.contains("\nA\n") && second.contains("\nB\n"));
        assert!(second.contains("## Profile\n\nnotes"));
        assert!(!second.contains("Not run yet: `cargo xtask bench --soak`"));
        let third = replace_section(&second, "quick", "## Side by side\n\nC");
        assert!(!third.contains("\nA\n") && third.contains("\nC\n") && third.contains("\nB\n"));
    }
}
