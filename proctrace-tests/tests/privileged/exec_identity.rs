//! Who an exec made the process, and with what arguments: an exec with argc 0 (the PwnKit
//! pattern) is reported as the program got it and flagged, and a setuid exec shows its
//! effective uid next to the real one.
use std::{
    ffi::CString,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::PathBuf,
    process::Command,
};

use crate::common::{tracer, wait_record};

crate::both_modes!(argc_zero_exec_is_flagged, setuid_exec_reports_euid);

const TRUE: &str = "/bin/true";
const OWNER: u32 = 4321;
const NOBODY: u32 = 65534;

/// Runs `path` with no arguments at all (`argv = {NULL}`): std always passes an argv[0], so
/// the child calls execve itself.
fn exec_with_argc_zero(path: &str) -> u32 {
    let c_path = CString::new(path).expect("path");
    let mut cmd = Command::new(path);
    // SAFETY: execve only, in the child before std's own exec; it returns only on failure.
    unsafe {
        cmd.pre_exec(move || {
            let argv: [*const libc::c_char; 1] = [std::ptr::null()];
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            libc::execve(c_path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            Err(std::io::Error::last_os_error())
        });
    }
    let mut child = cmd.spawn().expect("spawn with argc 0");
    let pid = child.id();
    // How the program copes with no argv[0] is its own business (busybox's applets, in the
    // kernel-matrix guests, cannot tell who they are): the exec is what is tested.
    child.wait().expect("wait");
    pid
}

fn argc_zero_exec_is_flagged(mode: &str) {
    let mut t = tracer(mode);
    let pid = exec_with_argc_zero(TRUE);
    let normal = Command::new(TRUE).spawn().expect("spawn");
    let normal_pid = normal.id();
    assert!(normal.wait_with_output().expect("wait").status.success());
    let exec = wait_record(&mut t, "exec", pid);
    let plain = wait_record(&mut t, "exec", normal_pid);
    t.stop();

    // Linux 5.18+ inserts "" for the program (fs/exec.c do_execveat_common()); older kernels
    // leave argv empty. Either way it is what /proc/<pid>/cmdline would show.
    let argv = exec["argv"].as_array().expect("argv");
    assert!(
        argv.is_empty() || argv == &[serde_json::Value::from("")],
        "{exec}"
    );
    assert_eq!(exec["argv0_empty"], true, "{exec}");
    assert_eq!(exec["argv_read_failed"], false, "{exec}");
    assert_eq!(plain["argv0_empty"], false, "{plain}");
    assert_eq!(plain["argv"][0], TRUE, "{plain}");
}

/// A copy of /bin/true owned by [`OWNER`] with the setuid bit, removed on drop.
struct SetuidCopy(PathBuf);

impl SetuidCopy {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("proctrace-suid-{}", std::process::id()));
        std::fs::copy(TRUE, &path).expect("copy /bin/true");
        std::os::unix::fs::chown(&path, Some(OWNER), Some(OWNER)).expect("chown");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
        SetuidCopy(path)
    }
}

impl Drop for SetuidCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn setuid_exec_reports_euid(mode: &str) {
    let copy = SetuidCopy::new();
    let mut t = tracer(mode);
    let mut child = Command::new(&copy.0)
        .uid(NOBODY)
        .gid(NOBODY)
        .spawn()
        .expect("spawn the setuid copy as nobody");
    let pid = child.id();
    // Whether the copy runs is not the point (a copy of busybox does not know its name).
    child.wait().expect("wait");
    let exec = wait_record(&mut t, "exec", pid);
    t.stop();
    assert_eq!(exec["uid"], NOBODY, "{exec}");
    assert_eq!(exec["euid"], OWNER, "{exec}");
    assert_eq!(exec["argv0_empty"], false, "{exec}");
}
