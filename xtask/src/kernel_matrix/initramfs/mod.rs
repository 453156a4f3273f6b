//! The guests' initramfs: an uncompressed cpio (newc) archive with a static busybox and its
//! applet links, the static proctrace, proctrace-scenario and privileged-test binaries, the
//! test script and an `/init` that mounts the kernel filesystems, runs the script and powers
//! off ([`super::scripts`]). Written with [`cpio`] rather than cpio(1), which the machines do
//! not have.

mod cpio;

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::{ensure, Context as _, Result};

use super::scripts::{self, TestRun};
use cpio::Cpio;

/// Where the binaries go in the guest.
pub const GUEST_DIR: &str = "/opt/proctrace";

/// What goes into the archive.
pub struct Contents<'a> {
    pub busybox: &'a Path,
    /// `busybox --list-full` output: applet paths relative to /.
    pub applets: &'a str,
    pub proctrace: &'a Path,
    pub scenario: &'a Path,
    pub tests: &'a Path,
    pub run: &'a TestRun,
}

/// Writes the initramfs to `out`.
pub fn write(out: &Path, contents: &Contents) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cpio = Cpio::new(BufWriter::new(file));
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "etc",
        "opt",
        &GUEST_DIR[1..],
    ] {
        cpio.dir(dir)?;
    }
    cpio.file_from("bin/busybox", 0o755, contents.busybox)?;
    let mut linked = 0;
    for applet in contents.applets.lines().map(str::trim) {
        let applet = applet.trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" || applet.starts_with("linuxrc") {
            continue;
        }
        ensure!(
            applet.starts_with("bin/")
                || applet.starts_with("sbin/")
                || applet.starts_with("usr/bin/")
                || applet.starts_with("usr/sbin/"),
            "unexpected busybox applet path {applet:?}"
        );
        cpio.symlink(applet, "/bin/busybox")?;
        linked += 1;
    }
    ensure!(
        linked > 50,
        "busybox --list-full named only {linked} applets"
    );
    cpio.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
    cpio.file("etc/group", 0o644, b"root:x:0:\n")?;
    let dir = &GUEST_DIR[1..];
    cpio.file_from(&format!("{dir}/proctrace"), 0o755, contents.proctrace)?;
    cpio.file_from(
        &format!("{dir}/proctrace-scenario"),
        0o755,
        contents.scenario,
    )?;
    cpio.file_from(&format!("{dir}/privileged"), 0o755, contents.tests)?;
    cpio.file(
        &format!("{dir}/run-tests.sh"),
        0o755,
        scripts::RUN_TESTS_SH.as_bytes(),
    )?;
    cpio.file("init", 0o755, scripts::init_script(contents.run).as_bytes())?;
    cpio.finish()?
        .flush()
        .with_context(|| format!("writing {}", out.display()))
}
