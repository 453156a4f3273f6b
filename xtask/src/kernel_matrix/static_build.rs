//! The binaries the guests run: static release builds of proctrace and of the privileged
//! suite (`-C target-feature=+crt-static`, in target/matrix so the host build cache stays).

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::{ensure, Context as _, Result};

use super::elf;
use crate::cmd::{self, note};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The static executables.
pub struct StaticBins {
    pub proctrace: PathBuf,
    pub scenario: PathBuf,
    pub tests: PathBuf,
}

/// Static release builds of proctrace and of the privileged suite (`cargo test --no-run`
/// builds proctrace-tests' own binaries too); cargo's JSON messages name the executables.
pub fn build(matrix: &Path) -> Result<StaticBins> {
    let mut messages = cargo_static(matrix, &["build", "-p", "proctrace", "--bin", "proctrace"])?;
    messages.push_str(&cargo_static(
        matrix,
        &[
            "test",
            "-p",
            "proctrace-tests",
            "--test",
            "privileged",
            "--no-run",
        ],
    )?);
    let bins = executables(&messages)?;
    for path in [&bins.proctrace, &bins.scenario, &bins.tests] {
        ensure!(
            elf::is_static(path)?,
            "{} is dynamically linked; the guests have no libc",
            path.display()
        );
    }
    note(format_args!(
        "static binaries: {}, {}, {}",
        bins.proctrace.display(),
        bins.scenario.display(),
        bins.tests.display()
    ));
    Ok(bins)
}

/// One static release cargo run into `matrix`; returns its JSON messages.
fn cargo_static(matrix: &Path, args: &[&str]) -> Result<String> {
    let mut cargo = cmd::cargo();
    cargo
        .args(args)
        .args(["--release", "--target", TARGET, "--target-dir"])
        .arg(matrix)
        .arg("--message-format=json-render-diagnostics")
        // With --target, RUSTFLAGS reach only the target's crates, not build scripts;
        // proctrace's build.rs sets the eBPF build's own flags (CARGO_ENCODED_RUSTFLAGS).
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=debuginfo",
        )
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(Stdio::piped());
    cmd::announce(&cargo);
    let mut child = cargo.spawn().context("starting cargo")?;
    let mut messages = String::new();
    child
        .stdout
        .take()
        .context("cargo stdout")?
        .read_to_string(&mut messages)?;
    let status = child.wait()?;
    if !status.success() {
        return Err(cmd::CommandFailed {
            command: cmd::display(&cargo),
            code: status.code(),
            stderr: String::new(),
        }
        .into());
    }
    Ok(messages)
}

/// The executables of cargo's `compiler-artifact` messages.
fn executables(messages: &str) -> Result<StaticBins> {
    let (mut proctrace, mut scenario, mut tests) = (None, None, None);
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let kinds = msg["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has_kind = |kind: &str| kinds.iter().any(|k| k == kind);
        let slot = match msg["target"]["name"].as_str() {
            Some("proctrace") if has_kind("bin") => &mut proctrace,
            Some("proctrace-scenario") if has_kind("bin") => &mut scenario,
            Some("privileged") if has_kind("test") => &mut tests,
            _ => continue,
        };
        *slot = Some(PathBuf::from(exe));
    }
    let need = |path: Option<PathBuf>, what: &str| {
        path.with_context(|| format!("cargo did not report the {what} executable"))
    };
    Ok(StaticBins {
        proctrace: need(proctrace, "proctrace")?,
        scenario: need(scenario, "proctrace-scenario")?,
        tests: need(tests, "privileged test")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_in_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"proctrace_common"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"proctrace"},"executable":"/t/release/proctrace"}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"proctrace-scenario"},"executable":"/t/release/proctrace-scenario"}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"proctrace"},"executable":"/t/release/deps/proctrace-1234"}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"privileged"},"executable":"/t/release/deps/privileged-abcd"}
{"reason":"build-finished","success":true}"#;
        let bins = executables(messages).unwrap();
        assert_eq!(bins.proctrace, Path::new("/t/release/proctrace"));
        assert_eq!(bins.scenario, Path::new("/t/release/proctrace-scenario"));
        assert_eq!(bins.tests, Path::new("/t/release/deps/privileged-abcd"));
        assert!(executables(r#"{"reason":"build-finished","success":true}"#).is_err());
    }
}
