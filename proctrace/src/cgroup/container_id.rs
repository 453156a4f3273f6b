//! Container ids parsed from cgroup paths. Runtimes name a container's cgroup after its id,
//! a 64-digit lowercase hex string, in one of two layouts:
//! - systemd cgroup driver: `<prefix>-<id>.scope` under a slice, with the prefix naming the
//!   runtime: `docker-` (moby daemon/oci_linux.go), `cri-containerd-` (containerd's CRI plugin),
//!   `crio-` (cri-o internal/config/cgmgr), `libpod-` (podman), `runc-` (runc's own systemd
//!   driver, "system.slice:runc:<id>"), `crun-` (crun's), `nerdctl-` (nerdctl's);
//! - cgroupfs driver: a directory named by the bare id (`/docker/<id>`,
//!   `/kubepods/besteffort/pod<uid>/<id>`, containerd's `/<namespace>/<id>`) or `<prefix>-<id>`
//!   (`/libpod_parent/libpod-<id>`, CRI-O's `crio-<id>`, podman's `--cgroups=split`
//!   `libpod-payload-<id>`).
//!
//! The first (outermost) component that matches names the container: a container's own
//! sub-cgroups (crun's `.../libpod-<id>.scope/container`, systemd running in the container, a
//! nested cgroup namespace) belong to it. The runtimes' monitor processes are not containers:
//! `crio-conmon-<id>.scope` and `libpod-conmon-<id>.scope` give `None`. Nor is a podman pod,
//! whose cgroupfs cgroup is named by its bare id as well (`/libpod_parent/<pod id>`, with its
//! containers' `libpod-<id>` and its `conmon` inside, libpod/runtime_pod_linux.go): a bare id
//! followed by such a component is skipped (the container's id follows) or, before `conmon`,
//! gives `None`. testdata/container_cgroups.txt lists the real layouts, with their sources.

/// Runtime prefixes of `<prefix>-<id>[.scope]` components.
const PREFIXES: [&str; 8] = [
    "docker-",
    "cri-containerd-",
    "crio-",
    "libpod-payload-",
    "libpod-",
    "runc-",
    "crun-",
    "nerdctl-",
];
/// Monitor processes' cgroups (CRI-O and podman run conmon beside the container).
const MONITORS: [&str; 2] = ["crio-conmon-", "libpod-conmon-"];
/// What a podman pod's cgroupfs cgroup holds: its containers (`libpod-<id>`) and its conmon.
const POD_MEMBER: &str = "libpod-";
const POD_CONMON: &str = "conmon";
const ID_LEN: usize = 64;

/// The container a cgroup path belongs to, or `None` on the host.
pub fn container_id(path: &str) -> Option<&str> {
    let mut components = path.split('/').peekable();
    while let Some(component) = components.next() {
        let name = component.strip_suffix(".scope").unwrap_or(component);
        if MONITORS.iter().any(|m| name.starts_with(m)) {
            return None;
        }
        if is_id(name) {
            match components.peek() {
                Some(&next) if next == POD_CONMON => return None,
                Some(next) if next.strip_prefix(POD_MEMBER).is_some_and(is_id) => continue,
                _ => return Some(name),
            }
        }
        if let Some(id) = PREFIXES
            .iter()
            .filter_map(|p| name.strip_prefix(p))
            .find(|id| is_id(id))
        {
            return Some(id);
        }
    }
    None
}

fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn runtimes_layouts() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods/besteffort/pod1a2b/{ID}"),
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/\
                 cri-containerd-{ID}.scope"
            ),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/libpod_parent/libpod-{ID}"),
            format!("/system.slice/runc-{ID}.scope"),
            format!("/docker/{ID}/nested"),
            format!("/docker/{ID}/libpod-not-an-id"),
            format!("/libpod_parent/{}/libpod-{ID}", ID.replace('0', "f")),
        ] {
            assert_eq!(container_id(&path), Some(ID), "{path}");
        }
    }

    #[test]
    fn host_cgroups_and_monitors_are_not_containers() {
        for path in [
            "/".to_owned(),
            String::new(),
            "/user.slice/user-1000.slice/session-2.scope".to_owned(),
            "/system.slice/sshd.service".to_owned(),
            "/init.scope".to_owned(),
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            format!("/docker/{}", &ID[1..]),
            format!("/docker/{ID}0"),
            format!("/docker/{}", ID.to_uppercase()),
            format!("/system.slice/foo-{ID}.scope"),
            format!("/libpod_parent/{ID}/conmon"),
        ] {
            assert_eq!(container_id(&path), None, "{path}");
        }
    }

    /// testdata/container_cgroups.txt: `path<TAB>expected id or -<TAB>source` per line, `#`
    /// lines are comments. Every real layout listed there is parsed as expected.
    #[test]
    fn real_layouts_from_the_runtimes_sources() {
        const FIXTURES: &str = include_str!("testdata/container_cgroups.txt");
        let mut checked = 0;
        let mut wrong = Vec::new();
        for (n, line) in FIXTURES.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let [path, expected, source] = fields[..] else {
                panic!("line {}: not path<TAB>expected<TAB>source: {line:?}", n + 1);
            };
            assert!(!source.trim().is_empty(), "line {}: no source", n + 1);
            let expected = (expected != "-").then_some(expected);
            if let Some(id) = expected {
                assert!(is_id(id), "line {}: {id:?} is no container id", n + 1);
            }
            if container_id(path) != expected {
                wrong.push(format!(
                    "line {}: {path}: got {:?}, want {expected:?} ({source})",
                    n + 1,
                    container_id(path)
                ));
            }
            checked += 1;
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked >= 50, "only {checked} fixtures");
    }

    #[test]
    fn hostile_input_is_linear_and_never_panics() {
        let long = "/a".repeat(100_000) + "/\u{fffd}" + &"x".repeat(1 << 16);
        assert_eq!(container_id(&long), None);
        assert_eq!(container_id("////.scope/-.scope"), None);
    }
}
