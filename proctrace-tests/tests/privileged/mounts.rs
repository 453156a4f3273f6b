//! Privileges and tracefs (README, Faults): a user with CAP_BPF + CAP_PERFMON is told that
//! tracefs is unreadable (not that CAP_SYS_ADMIN is missing, nor EBUSY), a tracefs proctrace
//! mounted is unmounted at exit, and a mount point behind a symlink is refused.
//!
//! Each run happens in a private mount namespace made in the child before exec, with tracefs
//! and debugfs unmounted there (or tracefs mounted, or /sys/kernel/tracing a symlink), so the
//! tests do not depend on, nor change, the host's mounts.
use std::{
    os::{fd::AsRawFd, unix::process::CommandExt},
    process::{Command, Output, Stdio},
};

use crate::common::{assert_traced_normally, kernel_release, proctrace_bin};

/// include/uapi/linux/capability.h
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
const NOBODY: u32 = 65534;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tracefs {
    /// Neither tracefs nor debugfs is mounted: proctrace must mount it.
    Absent,
    /// tracefs is mounted at /sys/kernel/tracing (mode 0700, root's).
    Mounted,
    /// /sys/kernel/tracing is a symlink (a tmpfs over /sys/kernel).
    Symlinked,
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// In the child: a private mount namespace laid out as `tracefs` says.
fn private_mounts(tracefs: Tracefs) -> std::io::Result<()> {
    // SAFETY: plain syscalls on static NUL-terminated strings, in the child before exec.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        // Gone in this namespace only; absent already is fine.
        libc::umount2(c"/sys/kernel/debug".as_ptr(), libc::MNT_DETACH);
        libc::umount2(c"/sys/kernel/tracing".as_ptr(), libc::MNT_DETACH);
        match tracefs {
            Tracefs::Absent => {}
            Tracefs::Mounted => check(libc::mount(
                c"tracefs".as_ptr(),
                c"/sys/kernel/tracing".as_ptr(),
                c"tracefs".as_ptr(),
                0,
                std::ptr::null(),
            ))?,
            Tracefs::Symlinked => {
                check(libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/sys/kernel".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                ))?;
                check(libc::symlink(
                    c"/tmp".as_ptr(),
                    c"/sys/kernel/tracing".as_ptr(),
                ))?;
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// In the child: become `nobody` keeping exactly `caps`, as ambient capabilities so that they
/// survive the exec of proctrace (capabilities(7)).
fn nobody_with(caps: &[u32]) -> std::io::Result<()> {
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    for &cap in caps {
        let word = &mut data[(cap / 32) as usize];
        let bit = 1 << (cap % 32);
        word.effective |= bit;
        word.permitted |= bit;
        word.inheritable |= bit;
    }
    let header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    // SAFETY: plain syscalls with valid pointers, in the child before exec.
    unsafe {
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0))?;
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setgid(NOBODY))?;
        check(libc::setuid(NOBODY))?;
        check(libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as libc::c_int)?;
        for &cap in caps {
            check(libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                libc::c_ulong::from(cap),
                0,
                0,
            ))?;
        }
    }
    Ok(())
}

/// A process that holds a private mount namespace laid out as `tracefs` says, for as long as
/// the test needs to look at it (a process that exited has no namespace links in /proc).
struct Namespace {
    holder: std::process::Child,
    ns: std::fs::File,
}

impl Namespace {
    fn new(tracefs: Tracefs) -> Self {
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("600").stdin(Stdio::null());
        // SAFETY: the closure makes syscalls only (no allocation), in the child before exec.
        unsafe {
            cmd.pre_exec(move || private_mounts(tracefs));
        }
        // spawn() returns once the exec succeeded, so the namespace is ready.
        let holder = cmd.spawn().expect("spawn the namespace holder");
        let ns = std::fs::File::open(format!("/proc/{}/ns/mnt", holder.id()))
            .expect("the holder's mount namespace");
        Namespace { holder, ns }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// proctrace --duration 100ms in a private mount namespace, as root or as nobody with `caps`;
/// returns its output and the namespace's mounts after it exited. What is judged is the start
/// (or the refusal) and the end, not what is traced in between: a longer trace adds nothing.
fn run(tracefs: Tracefs, caps: Option<&'static [u32]>) -> (Output, String) {
    let ns = Namespace::new(tracefs);
    let fd = ns.ns.as_raw_fd();
    let mut cmd = Command::new(proctrace_bin());
    cmd.args(["--duration", "100ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure makes syscalls only (no allocation), in the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            check(libc::setns(fd, libc::CLONE_NEWNS))?;
            match caps {
                Some(caps) => nobody_with(caps),
                None => Ok(()),
            }
        });
    }
    let out = cmd.output().expect("run proctrace");
    let after = mounts_in(&ns.ns);
    (out, after)
}

/// /proc/self/mounts as seen in the mount namespace `ns`.
fn mounts_in(ns: &std::fs::File) -> String {
    let fd = ns.as_raw_fd();
    let mut cat = Command::new("/bin/cat");
    cat.arg("/proc/self/mounts");
    // SAFETY: setns only, in the child before exec.
    unsafe {
        cat.pre_exec(move || check(libc::setns(fd, libc::CLONE_NEWNS)));
    }
    let out = cat.output().expect("cat in the namespace");
    assert!(out.status.success(), "cat /proc/self/mounts failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tracefs_at_sys(mounts: &str) -> bool {
    mounts.lines().any(|l| {
        l.split_whitespace().nth(1) == Some("/sys/kernel/tracing") && l.contains("tracefs")
    })
}

/// One line on stderr, exit 1, nothing on stdout.
fn assert_refused(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    stderr
}

#[test]
fn a_tracefs_it_mounted_is_unmounted_at_exit() {
    let (out, after) = run(Tracefs::Absent, None);
    assert_traced_normally(&out, "tracefs absent");
    assert!(!tracefs_at_sys(&after), "tracefs left mounted:\n{after}");

    let (out, after) = run(Tracefs::Mounted, None);
    assert_traced_normally(&out, "tracefs mounted before");
    assert!(
        tracefs_at_sys(&after),
        "someone else's tracefs unmounted:\n{after}"
    );
}

#[test]
fn capabilities_without_tracefs_access_name_tracefs() {
    let cases: [(&str, &'static [u32]); 2] = [
        ("CAP_BPF + CAP_PERFMON", &[CAP_BPF, CAP_PERFMON]),
        (
            "CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN",
            &[CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN],
        ),
    ];
    for (what, caps) in cases {
        let (out, _) = run(Tracefs::Mounted, Some(caps));
        let stderr = assert_refused(&out, what);
        assert!(
            stderr.contains("tracefs is mounted, but uid 65534 cannot read /sys/kernel/tracing")
                && stderr.contains("mode 0700"),
            "{what}: {stderr}"
        );
        assert!(
            !stderr.contains("busy") && !stderr.contains("missing"),
            "{what}: {stderr}"
        );
    }
    // Not mounted: then CAP_SYS_ADMIN is what is missing.
    let (out, _) = run(Tracefs::Absent, Some(&[CAP_BPF, CAP_PERFMON]));
    let stderr = assert_refused(&out, "tracefs absent");
    assert!(stderr.contains("missing: CAP_SYS_ADMIN"), "{stderr}");
}

/// What the README says is enough for a non-root user is enough: CAP_BPF, CAP_PERFMON and
/// CAP_DAC_READ_SEARCH, plus CAP_SYS_RESOURCE before 5.11 (maps charged to RLIMIT_MEMLOCK;
/// the version is the test's oracle only), plus CAP_SYS_ADMIN to mount tracefs.
#[test]
fn the_documented_capabilities_are_enough() {
    let old = kernel_release() < (5, 11);
    let (enough, with_mount): (&'static [u32], &'static [u32]) = if old {
        (
            &[CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH, CAP_SYS_RESOURCE],
            &[
                CAP_BPF,
                CAP_PERFMON,
                CAP_DAC_READ_SEARCH,
                CAP_SYS_RESOURCE,
                CAP_SYS_ADMIN,
            ],
        )
    } else {
        (
            &[CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH],
            &[CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN],
        )
    };
    let (out, _) = run(Tracefs::Mounted, Some(enough));
    assert_traced_normally(&out, "the documented capabilities");
    if old {
        // Without CAP_SYS_RESOURCE the refusal says what to add.
        let (out, _) = run(
            Tracefs::Mounted,
            Some(&[CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH]),
        );
        let stderr = assert_refused(&out, "no CAP_SYS_RESOURCE before 5.11");
        assert!(stderr.contains("CAP_SYS_RESOURCE"), "{stderr}");
    }
    let (out, after) = run(Tracefs::Absent, Some(with_mount));
    assert_traced_normally(&out, "… + CAP_SYS_ADMIN, tracefs absent");
    assert!(!tracefs_at_sys(&after), "tracefs left mounted:\n{after}");
}

#[test]
fn a_symlinked_mount_point_is_refused() {
    let (out, after) = run(Tracefs::Symlinked, None);
    let stderr = assert_refused(&out, "symlinked");
    assert!(
        stderr.contains("refusing to mount tracefs at /sys/kernel/tracing")
            && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert!(
        !after
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("/tmp") && l.contains("tracefs")),
        "tracefs mounted through the link:\n{after}"
    );
}
