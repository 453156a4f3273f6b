//! Container ids parsed from cgroup paths. Runtimes name a container's cgroup after its id,
//! a 64-digit lowercase hex string, in one of two layouts:
//! - systemd cgroup driver: `<prefix>-<id>.scope` under a slice, with the prefix naming the
//!   runtime: `docker-` (moby daemon/cgroups), `cri-containerd-` (containerd's CRI plugin),
//!   `crio-` (cri-o internal/config/cgmgr), `libpod-` (podman), `runc-` (runc's own systemd
//!   driver, "system.slice:runc:<id>");
//! - cgroupfs driver: a directory named by the bare id (`/docker/<id>`,
//!   `/kubepods/besteffort/pod<uid>/<id>`) or `<prefix>-<id>` (`/libpod_parent/libpod-<id>`,
//!   CRI-O's `crio-<id>`).
//!
//! The first (outermost) component that matches names the container: a container's own
//! sub-cgroups (podman's `.../libpod-<id>.scope/container`, a nested cgroup namespace) belong
//! to it. The runtimes' monitor processes are not containers: `crio-conmon-<id>.scope` and
//! `libpod-conmon-<id>.scope` give `None`.

/// Runtime prefixes of `<prefix>-<id>[.scope]` components.
const PREFIXES: [&str; 5] = ["docker-", "cri-containerd-", "crio-", "libpod-", "runc-"];
/// Monitor processes' cgroups (CRI-O and podman run conmon beside the container).
const MONITORS: [&str; 2] = ["crio-conmon-", "libpod-conmon-"];
const ID_LEN: usize = 64;

/// The container a cgroup path belongs to, or `None` on the host.
pub fn container_id(path: &str) -> Option<&str> {
    for component in path.split('/') {
        let name = component.strip_suffix(".scope").unwrap_or(component);
        if MONITORS.iter().any(|m| name.starts_with(m)) {
            return None;
        }
        if is_id(name) {
            return Some(name);
        }
        if let Some(id) = PREFIXES
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .filter(|id| is_id(id))
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
        ] {
            assert_eq!(container_id(&path), None, "{path}");
        }
    }

    #[test]
    fn hostile_input_is_linear_and_never_panics() {
        let long = "/a".repeat(100_000) + "/\u{fffd}" + &"x".repeat(1 << 16);
        assert_eq!(container_id(&long), None);
        assert_eq!(container_id("////.scope/-.scope"), None);
    }
}
