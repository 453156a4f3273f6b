//! Errors a user can meet, each one sentence saying what to do.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use crate::common::{proctrace_bin, TestCgroup};

/// A memory cgroup with a 100 MiB limit: v1's `memory` controller on a hybrid host, the
/// unified hierarchy's `memory.max` otherwise.
fn memory_limited_cgroup() -> TestCgroup {
    const LIMIT: &str = "104857600";
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        let cg = TestCgroup::create("/sys/fs/cgroup/memory", "small");
        std::fs::write(cg.dir.join("memory.limit_in_bytes"), LIMIT).expect("v1 memory limit");
        return cg;
    }
    let root = if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        "/sys/fs/cgroup/unified"
    } else {
        "/sys/fs/cgroup"
    };
    let cg = TestCgroup::create(root, "small");
    // The controller must be enabled on the way down (cgroup-v2.rst, "Enabling and
    // Disabling"); the test's parent cgroup holds no process, so it may.
    let parent = cg.dir.parent().expect("parent");
    for dir in [Path::new(root), parent] {
        std::fs::write(dir.join("cgroup.subtree_control"), "+memory")
            .unwrap_or_else(|e| panic!("enable the memory controller in {dir:?}: {e}"));
    }
    std::fs::write(cg.dir.join("memory.max"), LIMIT).expect("v2 memory limit");
    cg
}

/// A ring buffer larger than proctrace's memory cgroup allows: the kernel charges BPF maps
/// to the memory cgroup since 5.11 and says ENOMEM; proctrace names the flag to change.
#[test]
fn a_ring_buffer_too_big_for_the_cgroup_says_what_to_do() {
    let cg = memory_limited_cgroup();
    let procs = cg.procs();
    let out = Command::new("/bin/sh")
        .args(["-c", r#"echo $$ > "$1" && shift && exec "$@""#, "sh"])
        .arg(&procs)
        .arg(proctrace_bin())
        .args(["--ring-buffer-size", "1G", "--duration", "2s"])
        .stdin(Stdio::null())
        .output()
        .expect("run proctrace in the small cgroup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with(
            "proctrace: the kernel could not allocate memory for proctrace's maps, mostly the \
             1G ring buffer: use a smaller --ring-buffer-size"
        ),
        "{stderr}"
    );
    assert!(
        lines[0].contains("Cannot allocate memory"),
        "the kernel's own error: {stderr}"
    );
}
