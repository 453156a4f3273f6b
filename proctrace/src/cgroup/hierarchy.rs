//! Which cgroup hierarchy the records' `cgroup` paths come from (README "Containers and
//! namespaces"): on a host that mounts cgroup v1 controllers (hybrid or pure v1) the
//! hierarchy of the first of [`V1_PREFERENCE`] that is mounted, since runtimes put containers
//! in every v1 controller while the hybrid cgroup2 mount only tracks systemd's units; on a
//! pure cgroup v2 host the unified hierarchy.
use std::path::PathBuf;

use serde::Serialize;

/// The v1 controllers, in the order they are preferred: `pids` and `memory` are the ones
/// container runtimes always configure.
pub const V1_PREFERENCE: [&str; 8] = [
    "pids", "memory", "cpu", "cpuacct", "blkio", "devices", "freezer", "cpuset",
];

/// The reported hierarchy (`start.cgroup_hierarchy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hierarchy {
    pub version: u8,
    /// The v1 controller, `null` for cgroup v2.
    pub controller: Option<String>,
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The mount's root inside the hierarchy (not "/" inside a cgroup namespace): prefixed
    /// to the paths found under `mount`.
    #[serde(skip)]
    pub root: String,
}

/// Chooses the hierarchy from /proc/self/mountinfo's text (proc(5): fields 4 root, 5 mount
/// point, then after " - " the fs type, the source and the super options, which for cgroup
/// v1 name its controllers).
pub fn choose(mountinfo: &str) -> Option<Hierarchy> {
    let mut v2 = None;
    let mut v1: Vec<(usize, Hierarchy)> = Vec::new();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = before.split(' ').collect();
        let (Some(root), Some(mount)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        let mut rest = after.split(' ');
        let (fstype, _source, options) = (rest.next(), rest.next(), rest.next().unwrap_or(""));
        let hierarchy = |version, controller: Option<&str>| Hierarchy {
            version,
            controller: controller.map(str::to_owned),
            mount: PathBuf::from(unescape(mount)),
            root: unescape(root),
        };
        match fstype {
            Some("cgroup2") if v2.is_none() => v2 = Some(hierarchy(2, None)),
            Some("cgroup") => {
                let best = options
                    .split(',')
                    .filter_map(|o| V1_PREFERENCE.iter().position(|c| *c == o))
                    .min();
                if let Some(rank) = best {
                    v1.push((rank, hierarchy(1, Some(V1_PREFERENCE[rank]))));
                }
            }
            _ => {}
        }
    }
    v1.sort_by_key(|(rank, _)| *rank);
    v1.into_iter().next().map(|(_, h)| h).or(v2)
}

/// Reads /proc/self/mountinfo; `None` when no cgroup hierarchy is mounted (then `cgroup` is
/// `null` everywhere).
pub fn read() -> Option<Hierarchy> {
    choose(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)
}

/// mountinfo escapes space, tab, newline and backslash as octal (fs/proc_namespace.c
/// show_mountinfo(), seq_path_root() with " \t\n\\").
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if digits.len() == 3 {
                if let Ok(v) = u8::from_str_radix(&digits, 8) {
                    out.push(char::from(v));
                    chars.nth(2);
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This host's mounts (hybrid: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified).
    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_reports_the_pids_hierarchy() {
        let h = choose(HYBRID).expect("a hierarchy");
        assert_eq!((h.version, h.controller.as_deref()), (1, Some("pids")));
        assert_eq!(h.mount, PathBuf::from("/sys/fs/cgroup/pids"));
    }

    #[test]
    fn pure_v2_reports_the_unified_hierarchy() {
        let v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = choose(v2).expect("a hierarchy");
        assert_eq!((h.version, h.controller), (2, None));
        assert_eq!(h.mount, PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn pure_v1_without_pids_takes_memory_and_a_named_hierarchy_alone_is_not_enough() {
        let v1 = "36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  35 30 0:31 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n";
        let h = choose(v1).expect("a hierarchy");
        assert_eq!(h.controller.as_deref(), Some("memory"));
        let named = "32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
        assert_eq!(choose(named), None);
        assert_eq!(choose(""), None);
        assert_eq!(choose("garbage\n - \n1 2"), None);
    }

    #[test]
    fn escaped_mount_points_and_roots() {
        let ns = "31 30 0:27 /kubepods/pod\\0401 /sys/fs/cg\\040v2 rw - cgroup2 cgroup2 rw\n";
        let h = choose(ns).expect("a hierarchy");
        assert_eq!(h.mount, PathBuf::from("/sys/fs/cg v2"));
        assert_eq!(h.root, "/kubepods/pod 1");
    }
}
