//! `cargo xtask install`: release build, then install proctrace to `<prefix>/bin`, with its
//! man page, shell completions and systemd unit (install/layout.rs says where).

mod layout;

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result};

use crate::{build, cmd, cmd::note};
use layout::Content;

#[derive(clap::Args)]
pub struct Options {
    /// Installation prefix: <PREFIX>/bin/proctrace, <PREFIX>/share/man/man8/proctrace.8, the
    /// completions under <PREFIX>/share, <PREFIX>/lib/systemd/system/proctrace.service
    #[arg(long, default_value = "/usr/local")]
    prefix: PathBuf,
}

pub fn run(Options { prefix }: Options) -> Result<()> {
    // The unit's ExecStart= needs an absolute path.
    let prefix = std::path::absolute(&prefix)
        .with_context(|| format!("making {} absolute", prefix.display()))?;
    let binary = build::build(true)?;
    let installed_binary = prefix.join("bin").join("proctrace");
    // Everything is generated before anything is installed: a failure leaves no half install.
    let files = layout::files(&prefix)
        .into_iter()
        .map(|(dest, content)| Ok((dest, generate(&binary, content, &installed_binary)?)))
        .collect::<Result<Vec<_>>>()?;
    note(format_args!(
        "$ install -m 0755 {} {}",
        binary.display(),
        installed_binary.display()
    ));
    let image = fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    install_file(&installed_binary, &image, 0o755)?;
    for (dest, text) in &files {
        install_file(dest, text, 0o644)?;
    }
    Ok(())
}

/// The bytes of one file: printed by the freshly built binary, or the unit for this prefix.
fn generate(binary: &Path, content: Content, installed_binary: &Path) -> Result<Vec<u8>> {
    match content.generator_args() {
        Some(args) => Ok(cmd::stdout_of(Command::new(binary).args(args))?.into_bytes()),
        None => Ok(layout::unit_for(installed_binary)?.into_bytes()),
    }
}

/// Writes next to `dest` and renames over it: atomic, and works while an older proctrace is
/// running ("text file busy").
fn install_file(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        anyhow::bail!("{} is no file path", dest.display());
    };
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{}.xtask-install", name.to_string_lossy()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", tmp.display()))?;
    fs::rename(&tmp, dest).with_context(|| format!("moving into place: {}", dest.display()))?;
    note(format_args!("installed {}", dest.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated files come from the binary's stdout: /bin/echo stands in for proctrace.
    #[test]
    fn files_are_generated_by_the_binary_and_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("xtask-install-test-{}", std::process::id()));
        let bin = dir.join("bin/proctrace");
        let completions =
            generate(Path::new("/bin/echo"), Content::Completions("fish"), &bin).expect("echo");
        assert_eq!(completions, b"completions fish\n");
        let unit = generate(Path::new("/bin/false"), Content::Unit, &bin).expect("the unit");
        assert!(String::from_utf8_lossy(&unit).contains(&format!("ExecStart={} ", bin.display())));
        assert!(generate(Path::new("/bin/false"), Content::ManPage, &bin).is_err());

        let dest = dir.join("share/man/man8/proctrace.8");
        install_file(&dest, b"old", 0o644).expect("first install");
        install_file(&dest, b"new", 0o644).expect("second install");
        assert_eq!(fs::read(&dest).expect("installed"), b"new");
        let mode = fs::metadata(&dest).expect("installed").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let leftovers: Vec<_> = fs::read_dir(dest.parent().expect("dir"))
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(leftovers, ["proctrace.8"]);
        fs::remove_dir_all(&dir).expect("cleaning up");
    }
}
