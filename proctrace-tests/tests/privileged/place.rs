//! Where a process lives: `pidns`/`nspid` of processes in a new pid namespace, and the
//! `cgroup` path and `container_id` of a process moved into a cgroup named as docker names
//! its containers', on the exec, exit and reap records (the place captured at exit travels
//! to the reap).
use std::{
    collections::HashSet,
    os::unix::{fs::MetadataExt, process::CommandExt},
    process::Command,
    time::Duration,
};

use serde_json::Value;

use crate::common::{cgroup_mount, random_hex64, tracer, tree, wait_exit, wait_record, TestCgroup};

crate::both_modes!(
    a_pid_namespace_gives_namespace_pids,
    a_moved_process_names_its_container
);

fn host_pidns() -> u64 {
    std::fs::metadata("/proc/self/ns/pid")
        .expect("stat /proc/self/ns/pid")
        .ino()
}

fn execs_in<'a>(records: &'a [Value], pids: &HashSet<u64>) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == "exec" && pids.contains(&r["pid"].as_u64().unwrap_or(0)))
        .collect()
}

/// `unshare(CLONE_NEWPID)` in the child before it execs the outer shell: the outer shell
/// stays in our namespace, its first child (the inner shell) is pid 1 of the new one, and
/// the inner shell's children are 2 and 3 (the trailing `:` keeps each shell from exec'ing
/// its last command in place).
fn a_pid_namespace_gives_namespace_pids(mode: &str) {
    let mut t = tracer(mode);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sh -c 'sleep 0.05; /bin/true; :'; :"]);
    // SAFETY: unshare only, in the forked child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWPID) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = cmd.spawn().expect("spawn sh in a new pid namespace");
    let outer = child.id();
    assert!(child.wait().expect("wait").success());
    wait_exit(&mut t, outer);
    // Inside the namespace the waits return the namespace's pids: those reaps come from the
    // releases, an RCU grace period after the waits; the inner shell's (the outer one's only child) is the last.
    t.wait_for(Duration::from_secs(10), |r| {
        r["type"] == "reap" && r["ppid"] == outer
    })
    .expect("the reap of the namespace's init");
    let records = t.stop();

    let pids = tree(&records, outer);
    let execs = execs_in(&records, &pids);
    // By argv[0], not comm: the guests' busybox runs its applets through /proc/self/exe,
    // so there every comm but true's is "exe".
    let program = |r: &Value| -> String {
        let argv0 = r["argv"][0].as_str().unwrap_or_default();
        argv0.rsplit('/').next().unwrap_or_default().to_owned()
    };
    let by_name = |name: &str| -> &Value {
        execs
            .iter()
            .find(|r| program(r) == name && r["pid"] != outer)
            .unwrap_or_else(|| panic!("no exec of {name} under {outer}: {execs:?}"))
    };
    let (init, sleep, truth) = (by_name("sh"), by_name("sleep"), by_name("true"));
    let host = host_pidns();
    let outer_exec = execs
        .iter()
        .find(|r| r["pid"] == outer)
        .expect("the outer shell's exec");
    assert_eq!(outer_exec["pidns"], host, "{outer_exec}");
    assert_eq!(outer_exec["nspid"], outer, "{outer_exec}");
    let ns = init["pidns"].as_u64().expect("the namespace's inode");
    assert_ne!(ns, host, "{init}");
    for (exec, nspid) in [(init, 1), (sleep, 2), (truth, 3)] {
        assert_eq!(exec["pidns"], ns, "{exec}");
        assert_eq!(exec["nspid"], nspid, "{exec}");
        let pid = exec["pid"].as_u64().expect("pid");
        for ty in ["exit", "reap"] {
            let r = records
                .iter()
                .find(|r| r["type"] == ty && r["pid"] == pid)
                .unwrap_or_else(|| panic!("no {ty} of {pid}"));
            assert_eq!(
                (&r["pidns"], &r["nspid"]),
                (&exec["pidns"], &exec["nspid"]),
                "{r}"
            );
        }
    }
}

/// Moved into `<hierarchy>/proctrace-test-<pid>/docker-<64 hex>.scope` (the layout of docker's
/// systemd cgroup driver), the process's `true` exec, its exit and its reap name the path and
/// the id. Created in the hierarchy `start.cgroup_hierarchy` names: v1 `pids` on a hybrid
/// host, the unified one on a v2 host (the kernel-matrix guests).
fn a_moved_process_names_its_container(mode: &str) {
    let mut t = tracer(mode);
    let id = random_hex64();
    let cg = TestCgroup::create(&cgroup_mount(&t), &format!("docker-{id}.scope"));
    let procs = cg.procs();
    let script = format!("echo $$ > {} && exec /bin/true", procs.display());
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    assert!(
        child.wait().expect("wait").success(),
        "moving into {procs:?}"
    );
    wait_record(&mut t, "reap", pid);
    let records = t.stop();
    let want_suffix = cg.suffix();
    drop(cg);

    let exec = records
        .iter()
        .find(|r| r["type"] == "exec" && r["pid"] == pid && r["comm"] == "true")
        .expect("the exec of true");
    let exit = records
        .iter()
        .find(|r| r["type"] == "exit" && r["pid"] == pid)
        .expect("the exit");
    let reap = records
        .iter()
        .find(|r| r["type"] == "reap" && r["pid"] == pid)
        .expect("the reap");
    for r in [exec, exit, reap] {
        let path = r["cgroup"]
            .as_str()
            .unwrap_or_else(|| panic!("no cgroup: {r}"));
        assert!(
            path.ends_with(&want_suffix),
            "{path} should end with {want_suffix}: {r}"
        );
        assert_eq!(r["container_id"], id.as_str(), "{r}");
    }
    // The shell's exec, before the move, was not in a container.
    let sh = records
        .iter()
        .find(|r| r["type"] == "exec" && r["pid"] == pid && r["comm"] == "sh")
        .expect("the exec of sh");
    assert_eq!(sh["container_id"], Value::Null, "{sh}");
}
