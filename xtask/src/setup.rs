//! `cargo xtask setup`: make sure the toolchain for the eBPF programs is present.
//!
//! Userspace builds with the default (stable) toolchain. The kernel programs need
//! nightly + `rust-src` (for `-Z build-std=core`) and `bpf-linker` built against
//! nightly's own LLVM. Everything here is idempotent and cheap when already set up,
//! so every other subcommand calls [`ensure`] first.

use std::{
    env, fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    cmd::{self, note},
    toolchain::{self, NIGHTLY},
};

/// Pinned: its `llvm-<major>` features and required rustc change between releases.
const BPF_LINKER_VERSION: &str = "0.13.0";

#[derive(clap::Args)]
pub struct Options {}

pub fn run(Options {}: Options) -> Result<()> {
    ensure()
}

/// Check (and if needed install) nightly's rust-src and a working bpf-linker; fail if the
/// nightly toolchain is not the pinned release ([`toolchain::check_release`]).
pub fn ensure() -> Result<()> {
    let nightly = nightly()?;
    toolchain::check_release(&nightly.release)?;
    let rust_src = ensure_rust_src()?;
    let linker = ensure_bpf_linker(&nightly)?;
    note(format_args!(
        "setup: ok (nightly {}, LLVM {}; rust-src {rust_src}; {linker})",
        nightly.release, nightly.llvm_version
    ));
    Ok(())
}

/// What `rustc +nightly -vV` reports.
struct Nightly {
    release: String,
    llvm_version: String,
}

impl Nightly {
    /// Parse `rustc -vV` output.
    fn parse(version: &str) -> Result<Self> {
        let field = |name: &str| {
            version
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .with_context(|| {
                    format!("no `{name}` line in `rustc +{NIGHTLY} -vV` output:\n{version}")
                })
        };
        Ok(Self {
            release: field("release:")?,
            llvm_version: field("LLVM version:")?,
        })
    }

    fn llvm_major(&self) -> &str {
        self.llvm_version
            .split('.')
            .next()
            .unwrap_or(&self.llvm_version)
    }
}

fn nightly() -> Result<Nightly> {
    let version = match cmd::stdout_of(toolchain::rustc().arg("-vV")) {
        Ok(version) => version,
        Err(err) => {
            note(format_args!(
                "nightly toolchain not usable ({err:#}); installing it"
            ));
            cmd::run(Command::new("rustup").args([
                "toolchain",
                "install",
                NIGHTLY,
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ]))
            .context("installing the nightly toolchain")?;
            cmd::stdout_of(toolchain::rustc().arg("-vV"))?
        }
    };
    Nightly::parse(&version)
}

fn ensure_rust_src() -> Result<&'static str> {
    ensure_component(Some(NIGHTLY), "rust-src")
}

/// Install a rustup component if missing, for `toolchain` or (None) the current one.
/// Returns "present" or "installed".
pub fn ensure_component(toolchain: Option<&str>, component: &str) -> Result<&'static str> {
    let mut list = Command::new("rustup");
    list.args(["component", "list", "--installed"]);
    let mut add = Command::new("rustup");
    add.args(["component", "add", component]);
    if let Some(toolchain) = toolchain {
        list.args(["--toolchain", toolchain]);
        add.args(["--toolchain", toolchain]);
    }
    let installed = cmd::stdout_of(&mut list)?;
    if lists_component(&installed, component) {
        return Ok("present");
    }
    let toolchain = toolchain.unwrap_or("the current toolchain");
    note(format_args!(
        "{component} is missing for {toolchain}; installing it"
    ));
    cmd::run(&mut add).with_context(|| format!("installing {component} for {toolchain}"))?;
    Ok("installed")
}

/// Whether `rustup component list --installed` output names `component`; lines look
/// like `rust-src` or `clippy-x86_64-unknown-linux-gnu`.
fn lists_component(installed: &str, component: &str) -> bool {
    installed.lines().map(str::trim).any(|line| {
        line == component
            || line
                .strip_prefix(component)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// `bpf-linker --version`, if it runs (it dlopens nightly's libLLVM through its rpath).
fn bpf_linker_version() -> Result<String, String> {
    match cmd::probe(Command::new("bpf-linker").arg("--version")) {
        None => Err("bpf-linker not found on PATH".to_owned()),
        Some(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Some(out) => Err(format!(
            "bpf-linker --version failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Returns a description of the working bpf-linker.
fn ensure_bpf_linker(nightly: &Nightly) -> Result<String> {
    let why = match bpf_linker_version() {
        Ok(version) => return Ok(format!("{version} works")),
        Err(why) => why,
    };
    note(format_args!(
        "{why}; building bpf-linker against nightly's LLVM {}",
        nightly.llvm_version
    ));
    build_bpf_linker(nightly)?;
    match bpf_linker_version() {
        Ok(version) => Ok(format!("{version} built and works")),
        Err(why) => bail!(
            "bpf-linker was installed but does not work: {why}\n\
             (cargo installs it to $CARGO_HOME/bin, which must be on PATH)"
        ),
    }
}

/// `cargo install bpf-linker` linked against the libLLVM shipped with nightly:
/// a prefix dir whose `lib/libLLVM.so` points at nightly's versioned libLLVM, and an
/// rpath to nightly's lib dir so the binary finds it at run time.
fn build_bpf_linker(nightly: &Nightly) -> Result<()> {
    let sysroot = cmd::stdout_of(toolchain::rustc().args(["--print", "sysroot"]))?;
    let lib_dir = Path::new(sysroot.trim()).join("lib");
    let libllvm = find_libllvm(&lib_dir)?;

    let prefix = cache_dir()?.join("llvm");
    let prefix_lib = prefix.join("lib");
    fs::create_dir_all(&prefix_lib)
        .with_context(|| format!("creating {}", prefix_lib.display()))?;
    let link = prefix_lib.join("libLLVM.so");
    if link.symlink_metadata().is_ok() {
        fs::remove_file(&link).with_context(|| format!("removing {}", link.display()))?;
    }
    symlink(&libllvm, &link)
        .with_context(|| format!("symlinking {} -> {}", link.display(), libllvm.display()))?;
    note(format_args!("{} -> {}", link.display(), libllvm.display()));

    let mut rustflags = std::ffi::OsString::from("-C link-arg=-Wl,-rpath,");
    rustflags.push(&lib_dir);
    cmd::run(
        cmd::cargo()
            .env("LLVM_PREFIX", &prefix)
            .env("RUSTFLAGS", rustflags)
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--locked",
                "--force",
            ])
            .args(["--no-default-features", "--features"])
            .arg(format!("llvm-{}", nightly.llvm_major())),
    )
    .context("building bpf-linker (needs crates.io and a C/C++ toolchain)")
}

/// Nightly's shared libLLVM, e.g. `libLLVM.so.22.1-rust-1.97.0-nightly`.
fn find_libllvm(lib_dir: &Path) -> Result<PathBuf> {
    let entries =
        fs::read_dir(lib_dir).with_context(|| format!("reading {}", lib_dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let versioned = |name: &&String| name.starts_with("libLLVM.so.") && name.contains("-rust-");
    let dashed = |name: &&String| name.starts_with("libLLVM-") && name.ends_with(".so");
    let name = names
        .iter()
        .find(versioned)
        .or_else(|| names.iter().find(dashed))
        .with_context(|| format!("no libLLVM shared library in {}", lib_dir.display()))?;
    Ok(lib_dir.join(name))
}

/// `$XDG_CACHE_HOME/proctrace` (or `~/.cache/proctrace`): downloads and builds kept between runs.
pub(crate) fn cache_dir() -> Result<PathBuf> {
    let base = env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| cmd::home_dir().map(|home| home.join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(base.join("proctrace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rustc_version() {
        let nightly = Nightly::parse(
            "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)\nbinary: rustc\n\
             host: x86_64-unknown-linux-gnu\nrelease: 1.97.0-nightly\nLLVM version: 22.1.4\n",
        )
        .unwrap();
        assert_eq!(nightly.release, "1.97.0-nightly");
        assert_eq!(nightly.llvm_version, "22.1.4");
        assert_eq!(nightly.llvm_major(), "22");
        assert!(Nightly::parse("release: 1.97.0-nightly\n").is_err());
    }

    #[test]
    fn matches_component_names() {
        let installed =
            "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrust-src\n";
        assert!(lists_component(installed, "rust-src"));
        assert!(lists_component(installed, "clippy"));
        assert!(!lists_component(installed, "rustfmt"));
        assert!(!lists_component(
            "rust-std-x86_64-unknown-linux-gnu\n",
            "rust-src"
        ));
    }

    #[test]
    fn finds_nightly_libllvm() {
        let dir = env::temp_dir().join(format!("xtask-libllvm-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for name in [
            "librustc_driver-b5a965480ee51f9a.so",
            "libLLVM-22-rust-1.97.0-nightly.so",
            "libLLVM.so.22.1-rust-1.97.0-nightly",
        ] {
            fs::write(dir.join(name), b"").unwrap();
        }
        let found = find_libllvm(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            found.unwrap(),
            dir.join("libLLVM.so.22.1-rust-1.97.0-nightly")
        );
    }
}
