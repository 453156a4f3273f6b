//! Making sure tracefs is mounted where aya looks for it, and unmounting the one proctrace
//! mounted itself when it exits, so that the host is left as it was found.
//!
//! tracefs is mode 0700, owned by root (fs/tracefs/inode.c, `TRACEFS_DEFAULT_MODE`), so a
//! non-root user with CAP_BPF and CAP_PERFMON can still not read the format files: that is
//! said as such, rather than taking the unreadable mount for a missing one (and failing to
//! mount it again with EBUSY).
use std::{
    ffi::CString,
    fs, io,
    os::{
        fd::{FromRawFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    path::{Path, PathBuf},
};

use thiserror::Error;

use crate::diag;

/// Where tracefs is mounted when we mount it ourselves. aya's `TracePoint::attach` only looks at
/// this path and at [`DEBUGFS_TRACING`] (aya `programs::utils::find_tracefs_path`), so a tracefs
/// mounted anywhere else would be invisible to it.
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// Legacy location: with debugfs mounted at /sys/kernel/debug, the kernel automounts tracefs
/// on `tracing` there (`debugfs_create_automount` in kernel/trace/trace.c `tracer_init_tracefs`).
pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";
const DEBUGFS_PATH: &str = "/sys/kernel/debug";
const PROC_MOUNTS: &str = "/proc/self/mounts";

#[derive(Debug, Error)]
pub enum MountError {
    #[error("cannot read {PROC_MOUNTS}: {0}")]
    Mounts(#[source] io::Error),
    #[error(
        "tracefs is mounted, but uid {uid} cannot read {path} (mode {mode:04o}, owner uid \
         {owner}): run proctrace as root, or give it CAP_DAC_READ_SEARCH too, or mount tracefs \
         with the gid= and mode= options so that this user can read it"
    )]
    NotReadable {
        path: PathBuf,
        uid: u32,
        mode: u32,
        owner: u32,
    },
    #[error(
        "tracefs is not mounted, and mounting it at {path} was refused: that needs root or \
         CAP_SYS_ADMIN in the initial user namespace"
    )]
    Permission { path: PathBuf },
    #[error(
        "cannot mount tracefs at {path}: the kernel does not support tracefs (CONFIG_TRACING)"
    )]
    NoTracefsSupport { path: PathBuf },
    #[error(
        "cannot mount tracefs at {path}: mount point does not exist (kernel built without \
         CONFIG_TRACING, or /sys is not sysfs)"
    )]
    NoMountPoint { path: PathBuf },
    #[error(
        "refusing to mount tracefs at {path}: the path goes through a symbolic link, so the \
         mount would land somewhere else (is /sys the kernel's sysfs?)"
    )]
    Symlinked { path: PathBuf },
    #[error("cannot mount tracefs at {path}: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "tracefs at {path} has no events directory (kernel built without CONFIG_EVENT_TRACING?)"
    )]
    NoEvents { path: PathBuf },
}

/// tracefs, where aya will look for it. Dropping it unmounts a tracefs that proctrace mounted.
#[derive(Debug)]
pub struct Tracefs {
    root: PathBuf,
    mounted_by_us: bool,
}

impl Tracefs {
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if !self.mounted_by_us {
            return;
        }
        // Plain umount, not MNT_DETACH: if something else has opened a file there since, the
        // mount stays (EBUSY) rather than vanishing under it.
        if let Err(err) = unmount(&self.root) {
            diag::warn!(
                "could not unmount the tracefs proctrace mounted at {}: {err}",
                self.root.display()
            );
        }
    }
}

/// Makes sure tracefs is mounted where aya will look for it.
///
/// Must run before the first `TracePoint::attach`: aya looks the path up once and caches the
/// answer for the life of the process (a `LazyLock` in `find_tracefs_path`).
pub fn ensure_mounted() -> Result<Tracefs, MountError> {
    let mounts = fs::read_to_string(PROC_MOUNTS).map_err(MountError::Mounts)?;
    let mut unreadable = None;
    for candidate in candidates(&mounts) {
        // For the debugfs candidate, this lookup is also what triggers the automount.
        match fs::metadata(candidate.join("events")) {
            Ok(meta) if meta.is_dir() => {
                return Ok(Tracefs {
                    root: candidate,
                    mounted_by_us: false,
                })
            }
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                unreadable.get_or_insert_with(|| not_readable(&candidate));
            }
            _ if candidate == Path::new(TRACEFS_PATH) => {
                return Err(MountError::NoEvents { path: candidate })
            }
            _ => {}
        }
    }
    if let Some(err) = unreadable {
        return Err(err);
    }
    let path = PathBuf::from(TRACEFS_PATH);
    mount_tracefs(&path)?;
    let tracefs = Tracefs {
        root: path,
        mounted_by_us: true,
    };
    if !tracefs.root.join("events").is_dir() {
        return Err(MountError::NoEvents {
            path: tracefs.root.clone(),
        });
    }
    Ok(tracefs)
}

/// The error for a tracefs we may not look into, naming the directory that stops us (the
/// nearest ancestor of `events` we can stat).
fn not_readable(candidate: &Path) -> MountError {
    let events = candidate.join("events");
    let stopper = events.ancestors().skip(1).find_map(|dir| {
        let meta = fs::metadata(dir).ok()?;
        Some((dir.to_owned(), meta.mode() & 0o7777, meta.uid()))
    });
    let (path, mode, owner) = stopper.unwrap_or((candidate.to_owned(), 0, 0));
    MountError::NotReadable {
        path,
        // SAFETY: geteuid cannot fail.
        uid: unsafe { libc::geteuid() },
        mode,
        owner,
    }
}

/// Paths, in the order aya tries them, where `/proc/self/mounts` says tracefs is (or will be
/// automounted). tracefs mounts elsewhere are ignored: aya would not find them.
fn candidates(mounts: &str) -> Vec<PathBuf> {
    let mut tracefs_at_sys = false;
    let mut tracefs_at_debug = false;
    let mut debugfs = false;
    for line in mounts.lines() {
        let mut it = line.split_whitespace();
        let (Some(_source), Some(target), Some(fstype)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let target = unescape_mount_path(target);
        match (fstype, target.as_str()) {
            ("tracefs", TRACEFS_PATH) => tracefs_at_sys = true,
            ("tracefs", DEBUGFS_TRACING) => tracefs_at_debug = true,
            ("debugfs", DEBUGFS_PATH) => debugfs = true,
            _ => {}
        }
    }
    let mut out = Vec::new();
    if tracefs_at_sys {
        out.push(PathBuf::from(TRACEFS_PATH));
    }
    if tracefs_at_debug || debugfs {
        out.push(PathBuf::from(DEBUGFS_TRACING));
    }
    out
}

/// /proc/self/mounts escapes space, tab, newline and backslash as `\ooo` octal
/// (fs/proc_namespace.c `show_vfsmnt` → `mangle`).
fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(digits) = b.get(i + 1..i + 4) {
                if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let v = digits
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    if let Ok(byte) = u8::try_from(v) {
                        out.push(byte);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn c_path(path: &Path) -> io::Result<CString> {
    // Paths are our constants; a NUL can only come from a caller bug, reported as EINVAL.
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Mounts tracefs on `path`, refusing a path through a symbolic link: the mount point is
/// opened with `RESOLVE_NO_SYMLINKS` and the mount made on that very directory (through its
/// /proc/self/fd link), so nothing can swap it in between.
fn mount_tracefs(path: &Path) -> Result<(), MountError> {
    let mount_err = |err: io::Error| {
        let path = path.to_owned();
        match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => MountError::Permission { path },
            Some(libc::ENODEV) => MountError::NoTracefsSupport { path },
            Some(libc::ENOENT) => MountError::NoMountPoint { path },
            Some(libc::ELOOP) => MountError::Symlinked { path },
            _ => MountError::Mount { path, source: err },
        }
    };
    let dir = open_no_symlinks(path).map_err(mount_err)?;
    let target = c_path(&PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    )))
    .map_err(mount_err)?;
    // SAFETY: all strings are NUL-terminated and outlive the call; tracefs takes no data.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(mount_err(io::Error::last_os_error()))
    }
}

/// An `O_PATH` descriptor of the directory `path`, or ELOOP if any component is a symlink.
/// Kernels before 5.6 have no openat2 (ENOSYS): each component is checked with lstat instead.
fn open_no_symlinks(path: &Path) -> io::Result<OwnedFd> {
    let c = c_path(path)?;
    // SAFETY: open_how is plain data; zero is "no flags".
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: a valid NUL-terminated path and a `how` of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: a fresh descriptor that nothing else owns.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    for dir in path.ancestors() {
        if fs::symlink_metadata(dir)?.file_type().is_symlink() {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
    }
    let file = fs::File::open(path)?;
    Ok(OwnedFd::from(file))
}

fn unmount(path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_candidates() {
        let none = "sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n";
        assert!(candidates(none).is_empty());
        let sys = "nodev /sys/kernel/tracing tracefs rw,relatime 0 0\n";
        assert_eq!(candidates(sys), vec![PathBuf::from(TRACEFS_PATH)]);
        let debug = "debugfs /sys/kernel/debug debugfs rw 0 0\n";
        assert_eq!(candidates(debug), vec![PathBuf::from(DEBUGFS_TRACING)]);
        let both = format!("{sys}{debug}tracefs /sys/kernel/debug/tracing tracefs rw 0 0\n");
        assert_eq!(
            candidates(&both),
            vec![PathBuf::from(TRACEFS_PATH), PathBuf::from(DEBUGFS_TRACING)]
        );
        // Somewhere aya does not look: not a candidate.
        let elsewhere = "tracefs /mnt/my\\040trace tracefs rw 0 0\nshort line\n";
        assert!(candidates(elsewhere).is_empty());
        assert_eq!(unescape_mount_path("/mnt/my\\040trace"), "/mnt/my trace");
        assert_eq!(unescape_mount_path("/a\\"), "/a\\");
        assert_eq!(unescape_mount_path("/a\\04"), "/a\\04");
    }

    #[test]
    fn a_symlink_on_the_way_is_refused() {
        let dir = std::env::temp_dir().join(format!("proctrace-mount-{}", std::process::id()));
        let real = dir.join("real");
        fs::create_dir_all(&real).expect("mkdir");
        let link = dir.join("link");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let err = open_no_symlinks(&link.join(".")).expect_err("through a symlink");
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        assert!(open_no_symlinks(&real).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }
}
