//! The binaries the guests run: static release builds of proctrace and of the privileged
//! suite (`-C target-feature=+crt-static`).
//!
//! They are built in one directory per machine, `~/.cache/proctrace/matrix-build`, not in
//! the clone's target/ (where the host build cache is, with other flags): the registry
//! dependencies, most of this build, then compile once per machine instead of once per
//! clone, which a fresh-clone CI run otherwise pays every time. Cargo keeps the clones' own
//! crates apart (their paths are part of their hashes), but the binaries it links last have
//! one name for every clone, so each run copies its own to `target/matrix/bin` under a lock.

use std::{
    fs::{self, File},
    io::Read,
    os::fd::AsRawFd,
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
/// builds proctrace-tests' own binaries too) in `build_dir`; cargo's JSON messages name the
/// executables, which are copied to `<matrix>/bin`.
pub fn build(build_dir: &Path, matrix: &Path) -> Result<StaticBins> {
    fs::create_dir_all(build_dir).with_context(|| format!("creating {}", build_dir.display()))?;
    // Held from the build to the copies: another clone's build would replace the binaries.
    let _lock = lock(&build_dir.join("xtask.lock"))?;
    let mut messages = cargo_static(
        build_dir,
        &["build", "-p", "proctrace", "--bin", "proctrace"],
    )?;
    messages.push_str(&cargo_static(
        build_dir,
        &[
            "test",
            "-p",
            "proctrace-tests",
            "--test",
            "privileged",
            "--no-run",
        ],
    )?);
    let built = executables(&messages)?;
    let bin = matrix.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    let copy = |from: &Path, name: &str| -> Result<PathBuf> {
        ensure!(
            elf::is_static(from)?,
            "{} is dynamically linked; the guests have no libc",
            from.display()
        );
        let to = bin.join(name);
        super::cache::install_file(from, &to)?;
        Ok(to)
    };
    let bins = StaticBins {
        proctrace: copy(&built.proctrace, "proctrace")?,
        scenario: copy(&built.scenario, "proctrace-scenario")?,
        tests: copy(&built.tests, "privileged")?,
    };
    note(format_args!(
        "static binaries (built in {}): {}, {}, {}",
        build_dir.display(),
        bins.proctrace.display(),
        bins.scenario.display(),
        bins.tests.display()
    ));
    Ok(bins)
}

/// An exclusive lock on `path` (created if missing), released when the file is dropped.
fn lock(path: &Path) -> Result<File> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    // SAFETY: flock on a file descriptor we own; blocks until the other holder is done.
    let ret = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    ensure!(
        ret == 0,
        "locking {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Ok(file)
}

/// One static release cargo run into `build_dir`; returns its JSON messages.
fn cargo_static(build_dir: &Path, args: &[&str]) -> Result<String> {
    let mut cargo = cmd::cargo();
    cargo
        .args(args)
        .args(["--release", "--target", TARGET, "--target-dir"])
        .arg(build_dir)
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
