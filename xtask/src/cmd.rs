//! Shared helpers: workspace location, printing and running commands, exit codes.

use std::{
    env,
    ffi::{OsStr, OsString},
    fmt, fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use anyhow::{Context as _, Result};

/// A command ran but exited unsuccessfully; `main` turns `code` into xtask's exit code.
#[derive(Debug)]
pub struct CommandFailed {
    pub command: String,
    pub code: Option<i32>,
    /// Captured stderr, if the output was captured.
    pub stderr: String,
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "`{}` failed with exit code {code}", self.command)?,
            None => write!(f, "`{}` was killed by a signal", self.command)?,
        }
        if !self.stderr.is_empty() {
            write!(f, ":\n{}", self.stderr)?;
        }
        Ok(())
    }
}

impl std::error::Error for CommandFailed {}

/// A failure whose details were already printed; `main` only sets the exit code.
#[derive(Debug)]
pub struct Reported {
    pub code: u8,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed (exit code {})", self.code)
    }
}

impl std::error::Error for Reported {}

/// Exit code for a failed subcommand: the failing child's code if there was one, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    if let Some(reported) = err.downcast_ref::<Reported>() {
        return reported.code;
    }
    err.chain()
        .find_map(|e| e.downcast_ref::<CommandFailed>())
        .and_then(|failed| failed.code)
        .and_then(|code| u8::try_from(code).ok())
        .filter(|&code| code != 0)
        .unwrap_or(1)
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> &'static Path {
    // CARGO_MANIFEST_DIR is this crate's directory, fixed at compile time: not input, and
    // an absolute path inside the workspace, so it has a parent.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
}

/// Where cargo puts build output.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// `$CARGO_HOME` (default `~/.cargo`).
pub fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|home| home.join(".cargo")))
}

pub fn home_dir() -> Option<PathBuf> {
    env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Run everything from the workspace root, and make sure binaries installed by
/// `cargo install` (bpf-linker) are found by every child process.
pub fn prepare_environment() {
    if let Err(err) = env::set_current_dir(workspace_root()) {
        eprintln!(
            "[xtask] warning: cannot cd to {}: {err}",
            workspace_root().display()
        );
    }
    let Some(bin) = cargo_home().map(|home| home.join("bin")) else {
        return;
    };
    let path = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&path).any(|p| p == bin) {
        return;
    }
    let joined = env::join_paths(std::iter::once(bin).chain(env::split_paths(&path)));
    if let Ok(joined) = joined {
        // Edition 2021 and single-threaded at this point.
        env::set_var("PATH", joined);
    }
}

/// Effective uid is 0 (read from /proc so xtask needs no libc binding).
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("Uid:")
                    .and_then(|ids| ids.split_whitespace().nth(1))
                    .map(|euid| euid == "0")
            })
        })
        .unwrap_or(false)
}

/// `cargo` through the rustup proxy, so the `+nightly` of [`crate::toolchain::override_arg`]
/// works.
pub fn cargo() -> Command {
    Command::new("cargo")
}

/// Print a status line for the user (stderr, so stdout stays clean for proctrace's JSON).
pub fn note(msg: impl fmt::Display) {
    eprintln!("[xtask] {msg}");
}

/// Shell-like rendering of a command, including the environment variables it sets.
pub fn display(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(key, value)| {
            value.map(|value| format!("{}={}", key.to_string_lossy(), quote(value)))
        })
        .collect();
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Print `cmd` the way it is about to run.
pub fn announce(cmd: &Command) {
    match cmd.get_current_dir() {
        Some(dir) => eprintln!("[xtask] $ (cd {} && {})", dir.display(), display(cmd)),
        None => eprintln!("[xtask] $ {}", display(cmd)),
    }
}

/// Print and run `cmd` with inherited stdio; error (carrying its exit code) if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    announce(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("failed to start `{}`", display(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(CommandFailed {
            command: display(cmd),
            code: status.code(),
            stderr: String::new(),
        }
        .into())
    }
}

/// Print and run `cmd`, capturing its output; `None` if it could not start.
pub fn probe(cmd: &mut Command) -> Option<Output> {
    announce(cmd);
    cmd.stdin(Stdio::null()).output().ok()
}

/// Print and run `cmd`, returning its stdout; error if it cannot start or fails.
pub fn stdout_of(cmd: &mut Command) -> Result<String> {
    let output = probe(cmd).with_context(|| format!("failed to start `{}`", display(cmd)))?;
    if !output.status.success() {
        return Err(CommandFailed {
            command: display(cmd),
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }
        .into());
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}` printed non-UTF-8 output", display(cmd)))
}

/// Append `--release` when asked.
pub fn release_flag(release: bool) -> impl Iterator<Item = OsString> {
    release.then(|| OsString::from("--release")).into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_commands_shell_style() {
        let mut cmd = Command::new("cargo");
        cmd.env("RUSTFLAGS", "-C link-arg=-Wl,-rpath,/x/lib").args([
            "install",
            "bpf-linker",
            "--features",
            "llvm-22",
            "it's",
        ]);
        assert_eq!(
            display(&cmd),
            "RUSTFLAGS='-C link-arg=-Wl,-rpath,/x/lib' cargo install bpf-linker \
             --features llvm-22 'it'\\''s'"
        );
    }

    #[test]
    fn exit_code_comes_from_the_failed_command() {
        let failed = |code| {
            anyhow::Error::new(CommandFailed {
                command: "cargo test".into(),
                code,
                stderr: String::new(),
            })
        };
        assert_eq!(exit_code_of(&failed(Some(101)).context("step 2")), 101);
        assert_eq!(exit_code_of(&failed(None)), 1);
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), 1);
        assert_eq!(exit_code_of(&Reported { code: 3 }.into()), 3);
    }
}
