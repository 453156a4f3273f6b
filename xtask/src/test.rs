//! `cargo xtask test`: the whole suite, in order, stopping at the first failure:
//!   1. setup (toolchain for the eBPF programs),
//!   2. the non-privileged workspace tests,
//!   3. the privileged integration tests (proctrace-tests' `privileged` test): root + BPF,
//!      one at a time, against the `proctrace` binary built here (PROCTRACE_BIN). Not root is
//!      a failure, never a skip.

use std::{fs, path::Path};

use anyhow::{bail, Context as _, Result};

use crate::{
    cmd::{self, note, Reported},
    setup,
};

#[derive(clap::Args)]
pub struct Options {}

/// Built for the BPF target by proctrace/build.rs; it has no host tests.
const EBPF_CRATE: &str = "proctrace-ebpf";
/// The package of the privileged suite and the test programs it runs.
const TESTS_CRATE: &str = "proctrace-tests";
/// `<crate>/tests/<PRIVILEGED>.rs` or `<crate>/tests/<PRIVILEGED>/main.rs`; step 3 only.
const PRIVILEGED: &str = "privileged";

type Step = (&'static str, fn() -> Result<()>);

const STEPS: [Step; 3] = [
    ("setup", setup::ensure),
    ("workspace tests", workspace_tests),
    ("privileged integration tests", privileged_tests),
];

pub fn run(Options {}: Options) -> Result<()> {
    if !cmd::is_root() {
        note("not root: step 3 (privileged integration tests) will fail; run as root");
    }
    let mut summary = Vec::new();
    let mut failure = None;
    for (index, (name, step)) in STEPS.iter().enumerate() {
        if failure.is_some() {
            summary.push(format!("{name}: not run"));
            continue;
        }
        note(format_args!(
            "test step {}/{}: {name}",
            index + 1,
            STEPS.len()
        ));
        match step() {
            Ok(()) => summary.push(format!("{name}: ok")),
            Err(err) => {
                summary.push(format!("{name}: FAILED"));
                failure = Some((index, *name, err));
            }
        }
    }
    let summary = summary.join(", ");
    match failure {
        None => {
            note(format_args!("test summary: PASSED ({summary})"));
            Ok(())
        }
        Some((index, name, err)) => {
            eprintln!("error: {err:#}");
            note(format_args!(
                "test summary: FAILED at step {}/{} {name} ({summary})",
                index + 1,
                STEPS.len()
            ));
            Err(Reported {
                code: cmd::exit_code_of(&err),
            }
            .into())
        }
    }
}

/// Everything `cargo test` would run for the host crates except the privileged
/// integration tests: unit tests, the other integration tests, then doc tests.
fn workspace_tests() -> Result<()> {
    let mut unit = cmd::cargo();
    unit.args(["test", "--workspace", "--exclude", EBPF_CRATE]);
    unit.args(["--lib", "--bins", "--examples"]);
    for test in integration_tests()? {
        unit.args(["--test", &test]);
    }
    cmd::run(&mut unit)?;
    cmd::run(cmd::cargo().args(["test", "--workspace", "--exclude", EBPF_CRATE, "--doc"]))
}

fn privileged_tests() -> Result<()> {
    if !cmd::is_root() {
        bail!(
            "the privileged integration tests need root (they load eBPF programs and mount \
             tracefs); re-run `cargo xtask test` as root (they are never skipped)"
        );
    }
    // The suite runs the real binary of another package: build it, then name it.
    cmd::run(cmd::cargo().args(["build", "-p", "proctrace", "--bin", "proctrace"]))?;
    let proctrace = cmd::target_dir().join("debug").join("proctrace");
    cmd::run(
        cmd::cargo()
            .args(["test", "-p", TESTS_CRATE, "--test", PRIVILEGED])
            .args(["--", "--test-threads=1"])
            .env("PROCTRACE_BIN", &proctrace),
    )
}

/// Names of the auto-discovered integration tests (`<crate>/tests/NAME.rs` and
/// `<crate>/tests/NAME/main.rs`) of the host crates, minus the privileged one.
fn integration_tests() -> Result<Vec<String>> {
    let root = cmd::workspace_root();
    let mut names = Vec::new();
    for krate in fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let krate = krate?.path();
        let is_host_crate = krate.join("Cargo.toml").is_file()
            && krate.file_name().is_some_and(|name| name != EBPF_CRATE);
        if is_host_crate {
            names.extend(tests_in(&krate.join("tests"))?);
        }
    }
    names.retain(|name| name != PRIVILEGED);
    names.sort();
    names.dedup();
    Ok(names)
}

fn tests_in(dir: &Path) -> Result<Vec<String>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let is_test = if path.is_dir() {
            path.join("main.rs").is_file()
        } else {
            path.extension().is_some_and(|ext| ext == "rs")
        };
        let stem = path.file_stem().and_then(|stem| stem.to_str());
        if let (true, Some(stem)) = (is_test, stem) {
            names.push(stem.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_integration_tests() {
        let dir = std::env::temp_dir().join(format!("xtask-tests-{}", std::process::id()));
        for sub in ["common", "data", "multi"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for file in [
            "a.rs",
            "privileged.rs",
            "notes.txt",
            "common/mod.rs",
            "multi/main.rs",
        ] {
            fs::write(dir.join(file), b"").unwrap();
        }
        let mut names = tests_in(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        names.sort();
        assert_eq!(names, ["a", "multi", "privileged"]);
        assert!(tests_in(Path::new("/nonexistent/tests"))
            .unwrap()
            .is_empty());
    }
}
