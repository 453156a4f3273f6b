//! The guests: qemu (installed when missing) booting each kernel with the initramfs.

use std::{ffi::OsString, fs, path::Path, process::Command, time::Duration};

use anyhow::{ensure, Context as _, Result};

use super::{
    apt::{self, AptRoot},
    console,
    report::Row,
};
use crate::cmd::{self, note};

/// Suites for installing qemu from bookworm-backports (trixie-backports stays out).
const QEMU_SUITES: [&str; 4] = [
    "bookworm",
    "bookworm-updates",
    "bookworm-security",
    "bookworm-backports",
];
const QEMU: &str = "qemu-system-x86_64";

/// How a guest is emulated.
#[derive(Clone, Copy)]
pub struct Emulation {
    /// One host thread for both vCPUs (`-accel tcg,thread=single`), for guests that run
    /// side by side: with a thread per vCPU (MTTCG), five rows at once on two cores took
    /// 961 s instead of 847 s for four one after another, and eight tests failed, their
    /// vCPUs spinning on siblings the host had descheduled. The guest still has 2 CPUs, but
    /// its vCPUs take turns, which is why it is not the default (README, The kernel matrix).
    pub single_thread: bool,
    pub timeout: Duration,
}

/// One guest's row: `vmlinuz` booted with `initrd`, its console in `<logs>/<label>.log`.
pub fn row(label: &str, vmlinuz: &Path, initrd: &Path, logs: &Path, emu: Emulation) -> Row {
    // Niced: the host row runs beside the guests, and its tests come first (starved by
    // four guests, its proctrace missed the 2 s detach bound, which waits on RCU grace
    // periods); the guests take what is left. `nice` execs qemu, so the timeout still
    // kills qemu itself.
    let mut command = Command::new("nice");
    command
        .args(["-n", "10", QEMU])
        .args(qemu_args(vmlinuz, initrd, emu.single_thread));
    let timeout = emu.timeout;
    let row = console::run_logged(label, command, logs, timeout);
    // The kernel that booted must be the one asked for.
    let expected = fs::read_to_string(vmlinuz.with_file_name("release")).unwrap_or_default();
    if let Some(uname) = row.log.uname.as_deref().filter(|u| *u != expected.trim()) {
        note(format_args!(
            "warning: {label} booted {uname}, its package says {}",
            expected.trim()
        ));
    }
    row
}

/// TCG (one thread per vCPU unless `single_thread`) with every CPU feature, 2 CPUs and 2 GiB, no network, the serial console on stdio;
/// the guest's poweroff ends qemu (`-no-reboot`, `panic=-1`).
fn qemu_args(vmlinuz: &Path, initrd: &Path, single_thread: bool) -> Vec<OsString> {
    let accel = if single_thread {
        "tcg,thread=single"
    } else {
        "tcg"
    };
    let mut args: Vec<OsString> = [
        "-nodefaults",
        "-nic",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-display",
        "none",
        "-accel",
        accel,
        "-cpu",
        "max",
        "-m",
        "2G",
        "-smp",
        "2",
        "-append",
        "console=ttyS0 panic=-1 rdinit=/init",
        "-kernel",
    ]
    .map(Into::into)
    .to_vec();
    args.push(vmlinuz.into());
    args.push("-initrd".into());
    args.push(initrd.into());
    args
}

/// Install qemu-system-x86 if `qemu-system-x86_64` does not run: from bookworm-backports
/// (qemu 10, which keeps the machines' qemu-utils 10) through a private apt configuration on
/// bookworm, from the host's own sources elsewhere.
pub fn ensure_qemu(cache: &Path) -> Result<()> {
    if let Some(out) = cmd::probe(Command::new(QEMU).arg("--version")) {
        if out.status.success() {
            let version = String::from_utf8_lossy(&out.stdout);
            note(format_args!(
                "qemu: {}",
                version.lines().next().unwrap_or("?")
            ));
            return Ok(());
        }
    }
    ensure!(
        cmd::is_root(),
        "{QEMU} is missing and installing qemu-system-x86 needs root"
    );
    match apt::host_codename().as_deref() {
        Some("bookworm") => {
            note("qemu missing: installing qemu-system-x86 from bookworm-backports");
            let apt = AptRoot::new(cache.join("apt-qemu"), &QEMU_SUITES)?;
            apt.update(false)?;
            apt.install("bookworm-backports", &["qemu-system-x86"])?;
        }
        other => {
            note(format_args!(
                "qemu missing: installing qemu-system-x86 from the host's sources ({})",
                other.unwrap_or("unknown release")
            ));
            cmd::run(Command::new("apt-get").args(["-q", "update"]))?;
            cmd::run(
                Command::new("apt-get")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .args(["-q", "-y", "--no-install-recommends", "install"])
                    .arg("qemu-system-x86"),
            )?;
        }
    }
    cmd::run(Command::new(QEMU).arg("--version")).context("qemu after installing it")
}
