//! Real container runtimes (runc, crun, podman; see oci.rs): a container whose PID 1 forks
//! children and never reaps them. proctrace must say where the zombies live (`container_id`
//! the runtime's id, `nspid` 2–4, the container's `pidns`) and why they stay (`diagnosis`:
//! `container_init_does_not_reap`, the parent an `ns_init`); once the container is killed, the
//! dying init reaps them (the kernel's zap_pid_ns_processes()) and is reaped in turn.
//!
//! These run on the host only: the kernel-matrix guests have no runtimes and skip
//! `containers::` (xtask/src/kernel_matrix/scripts.rs).
use std::{os::unix::fs::MetadataExt, time::Duration};

use serde_json::Value;

use crate::{
    common::{wait_record, Tracer},
    oci::{Container, Runtime},
};

crate::both_modes!(
    runc_init_leaves_zombies,
    crun_init_leaves_zombies,
    podman_init_leaves_zombies
);

/// PID 1 forks three children, then becomes `sleep`, which never waits: the children, gone
/// after 0.1 s, stay zombies until the container dies.
const INIT: [&str; 3] = [
    "sh",
    "-c",
    "sleep 0.1 & sleep 0.1 & sleep 0.1 & exec sleep 600",
];

fn runc_init_leaves_zombies(mode: &str) {
    init_leaves_zombies(mode, Runtime::Runc);
}

fn crun_init_leaves_zombies(mode: &str) {
    init_leaves_zombies(mode, Runtime::Crun);
}

fn podman_init_leaves_zombies(mode: &str) {
    init_leaves_zombies(mode, Runtime::Podman);
}

fn host_pidns() -> u64 {
    std::fs::metadata("/proc/self/ns/pid")
        .expect("stat /proc/self/ns/pid")
        .ino()
}

fn init_leaves_zombies(mode: &str, runtime: Runtime) {
    let version = runtime.require();
    let mut t = Tracer::start(&["--hooks", mode, "--zombie-threshold", "300ms"]);
    let mut container = Container::run(runtime, &INIT);
    let (id, init) = (container.id.clone(), container.init_pid);
    let what = format!("{version}, container {id}, init {init}");

    // The three alerts: 0.1 s + the 300 ms threshold + at most 100 ms.
    let alerts = std::cell::Cell::new(0);
    t.wait_for(Duration::from_secs(10), |r| {
        if r["type"] == "zombie" && r["container_id"] == id.as_str() {
            alerts.set(alerts.get() + 1);
        }
        alerts.get() == 3
    })
    .unwrap_or_else(|| {
        let children: Vec<&Value> = t
            .records
            .iter()
            .filter(|r| r["type"] == "zombie" && r["ppid"] == init)
            .collect();
        panic!(
            "{what}: {} zombie alerts naming the container in 10 s, not 3; alerts for the \
             init's children: {children:?}",
            alerts.get()
        )
    });
    let zombies: Vec<u32> = t
        .records
        .iter()
        .filter(|r| r["type"] == "zombie" && r["container_id"] == id.as_str())
        .filter_map(|r| r["pid"].as_u64()?.try_into().ok())
        .collect();

    container.kill();
    for &pid in zombies.iter().chain([&init]) {
        wait_record(&mut t, "reap", pid);
    }
    drop(container);
    let records = t.stop();

    let in_container = |ty: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["type"] == ty && r["container_id"] == id.as_str())
            .collect()
    };
    let one = |ty: &str, pid: u64| -> (usize, &Value) {
        let found: Vec<(usize, &Value)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r["type"] == ty && r["pid"] == pid)
            .collect();
        assert_eq!(found.len(), 1, "{what}: one {ty} of {pid}: {found:?}");
        found[0]
    };

    // The init: `sh` exec'd by the runtime, then `sleep`, PID 1 of a namespace of its own.
    let host = host_pidns();
    let execs: Vec<&Value> = in_container("exec")
        .into_iter()
        .filter(|r| r["pid"] == init)
        .collect();
    let argv = |r: &Value| -> Vec<String> {
        r["argv"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().unwrap_or("?").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        execs.iter().map(|r| argv(r)).collect::<Vec<_>>(),
        [INIT.to_vec(), vec!["sleep", "600"]],
        "{what}: the init's execs in the container: {execs:?}"
    );
    let ns = execs[0]["pidns"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: no pidns: {}", execs[0]));
    assert_ne!(ns, host, "{what}: the container has its own pid namespace");
    let (_, init_exit) = one("exit", init.into());
    let (_, init_reap) = one("reap", init.into());
    for r in execs.iter().copied().chain([init_exit, init_reap]) {
        assert_eq!(
            (&r["pidns"], &r["nspid"]),
            (&Value::from(ns), &Value::from(1)),
            "{what}: {r}"
        );
        assert_eq!(r["container_id"], id.as_str(), "{what}: {r}");
    }
    assert_eq!(init_exit["signal"], libc::SIGKILL, "{what}: {init_exit}");

    // The zombies: children of the init, which never waits, with pids of their own inside.
    // Not always 2, 3 and 4: runc's init is a Go program until it execs, and its threads
    // take namespace pids too (6, 7 and 8 with runc 1.1.5).
    let alerts = in_container("zombie");
    let mut nspids: Vec<u64> = alerts.iter().filter_map(|r| r["nspid"].as_u64()).collect();
    nspids.sort_unstable();
    nspids.dedup();
    assert!(
        nspids.len() == 3 && nspids.iter().all(|&n| (2..100).contains(&n)),
        "{what}: three zombies with pids of the container: {alerts:?}"
    );
    for z in &alerts {
        assert_eq!(z["ppid"], init, "{what}: {z}");
        assert_eq!(z["pidns"], ns, "{what}: {z}");
        assert_eq!(z["source"], "trace", "{what}: {z}");
        assert_eq!(z["exit_code"], 0, "{what}: {z}");
        assert_eq!(z["reparented"], false, "{what}: {z}");
        let siblings = z["siblings_unreaped"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no siblings_unreaped: {z}"));
        assert!(siblings <= 2, "{what}: {z}");
        let d = &z["diagnosis"];
        assert_eq!(d["verdict"], "container_init_does_not_reap", "{what}: {z}");
        assert_eq!(d["parent_role"], "ns_init", "{what}: {z}");
        assert_eq!(d["parent_state"], "S", "{what}: sleep sleeps: {z}");
    }
    // The last alert counts the two before it, however the three are ordered.
    let last = alerts.last().expect("three alerts");
    assert_eq!(last["siblings_unreaped"], 2, "{what}: {last}");

    // Killed, the init reaps them on its way out (its exit record comes first): each gets
    // its reap, after its alert.
    for z in &alerts {
        let pid = z["pid"].as_u64().expect("pid");
        let (alert_at, _) = one("zombie", pid);
        let (reap_at, reap) = one("reap", pid);
        assert!(
            alert_at < reap_at,
            "{what}: the reap of {pid} before its alert"
        );
        assert!(
            reap["ktime_ns"].as_u64() >= init_exit["ktime_ns"].as_u64(),
            "{what}: {pid} reaped before the init died: {reap}, {init_exit}"
        );
        assert_eq!(reap["zombie_class"], "long_lived", "{what}: {reap}");
        for key in ["container_id", "pidns", "nspid"] {
            assert_eq!(reap[key], z[key], "{what}: {key}: {reap}");
        }
    }

    // The summary: nothing of the container left unreaped; its three long-lived zombies,
    // by container and by parent.
    let summary = records.last().expect("the summary");
    let unreaped = summary["unreaped"].as_array().expect("summary.unreaped");
    assert!(
        unreaped.iter().all(|u| u["container_id"] != id.as_str()),
        "{what}: {unreaped:?}"
    );
    let by_container = summary["zombies_by_container"]
        .as_array()
        .and_then(|a| a.iter().find(|g| g["container_id"] == id.as_str()))
        .unwrap_or_else(|| panic!("{what}: not in zombies_by_container: {summary}"));
    assert_eq!(
        (
            &by_container["unreaped"],
            &by_container["long_lived_reaped"]
        ),
        (&0.into(), &3.into()),
        "{what}: {by_container}"
    );
    let by_parent = summary["zombies_by_parent"]
        .as_array()
        .and_then(|a| a.iter().find(|g| g["ppid"] == init))
        .unwrap_or_else(|| panic!("{what}: the init not in zombies_by_parent: {summary}"));
    assert_eq!(
        (&by_parent["unreaped"], &by_parent["long_lived_reaped"]),
        (&0.into(), &3.into()),
        "{what}: {by_parent}"
    );
}
