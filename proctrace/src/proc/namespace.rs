//! The pid namespace proctrace runs in. The kernel programs report pids as the initial pid
//! namespace numbers them, while /proc shows those of the namespace that mounted it: inside a
//! pid namespace (`unshare -p -f --mount-proc`, a container) the two never match, the seed
//! and every `proc_check` compare different numbers, and live processes would be reported
//! `missing`. So proctrace refuses to start there, before loading anything.
use std::io;

use thiserror::Error;

/// The inode of the initial pid namespace: fixed since Linux 3.8 (include/linux/proc_ns.h,
/// `PROC_PID_INIT_INO`), so `/proc/self/ns/pid` reads `pid:[4026531836]` there.
pub const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "refusing to run inside a pid namespace ({evidence}): the kernel reports pids as the host \
     numbers them, not as this namespace does, so the records and /proc would disagree; start \
     proctrace from the host's initial pid namespace"
)]
pub struct NestedPidNamespace {
    /// What showed it, e.g. `pid:[4026532175]` or `NSpid: 18458 3`.
    pub evidence: String,
}

/// What /proc says about our pid namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The inode in `readlink /proc/self/ns/pid` (`pid:[N]`), when readable.
    pub own_ns: Option<u64>,
    /// The inode of pid 1's pid namespace (`/proc/1/ns/pid`): the namespace /proc belongs to.
    /// Often unreadable (a protected pid 1), then unknown.
    pub proc_ns: Option<u64>,
    /// Our pid in each namespace from /proc's down to ours (`NSpid:` of /proc/self/status).
    pub nspid: Option<Vec<u32>>,
}

/// The inode of a namespace link's target, `pid:[4026531836]` → 4026531836.
pub fn parse_ns_link(target: &str) -> Option<u64> {
    target
        .trim()
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Refuses anything but the initial pid namespace, for proctrace and for /proc. Unknown facts
/// (a kernel without pid namespaces has neither the link nor `NSpid:`) are no evidence.
pub fn decide(seen: &Observed) -> Result<(), NestedPidNamespace> {
    let foreign = |ino: Option<u64>| ino.filter(|&i| i != INIT_PID_NS_INO);
    if let Some(ino) = foreign(seen.own_ns) {
        return Err(NestedPidNamespace {
            evidence: format!("pid:[{ino}]"),
        });
    }
    if let Some(ino) = foreign(seen.proc_ns) {
        return Err(NestedPidNamespace {
            evidence: format!("/proc from pid:[{ino}]"),
        });
    }
    // More than one level: /proc's namespace is an ancestor of ours.
    if let Some(pids) = seen.nspid.as_ref().filter(|p| p.len() > 1) {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        return Err(NestedPidNamespace {
            evidence: format!("NSpid: {}", pids.join(" ")),
        });
    }
    Ok(())
}

/// Reads what /proc shows of our pid namespace.
pub fn observe() -> Observed {
    let link = |path: &str| -> io::Result<Option<u64>> {
        Ok(parse_ns_link(&std::fs::read_link(path)?.to_string_lossy()))
    };
    Observed {
        own_ns: link("/proc/self/ns/pid").ok().flatten(),
        proc_ns: link("/proc/1/ns/pid").ok().flatten(),
        // The `NSpid:` line of /proc/self/status, as the procfs crate parses it.
        nspid: procfs::process::Process::myself()
            .and_then(|me| me.status())
            .ok()
            .and_then(|status| status.nspid)
            .and_then(|pids| pids.into_iter().map(|p| u32::try_from(p).ok()).collect()),
    }
}

/// The start-up check: Ok in the initial pid namespace.
pub fn check() -> Result<(), NestedPidNamespace> {
    decide(&observe())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = "pid:[4026531836]";

    #[test]
    fn parses_namespace_links() {
        assert_eq!(parse_ns_link(INIT), Some(INIT_PID_NS_INO));
        assert_eq!(parse_ns_link("pid:[4026532175]\n"), Some(4_026_532_175));
        assert_eq!(parse_ns_link("net:[4026531840]"), None);
        assert_eq!(parse_ns_link("pid:[x]"), None);
    }

    fn observed(own: Option<&str>, proc_ns: Option<&str>, nspid: &[u32]) -> Observed {
        Observed {
            own_ns: own.and_then(parse_ns_link),
            proc_ns: proc_ns.and_then(parse_ns_link),
            nspid: (!nspid.is_empty()).then(|| nspid.to_vec()),
        }
    }

    #[test]
    fn the_initial_namespace_passes() {
        assert_eq!(decide(&observed(Some(INIT), Some(INIT), &[1234])), Ok(()));
        // pid 1 unreadable (protected), or a kernel without pid namespaces.
        assert_eq!(decide(&observed(Some(INIT), None, &[1234])), Ok(()));
        assert_eq!(decide(&Observed::default()), Ok(()));
    }

    /// `unshare -p -f --mount-proc`: /proc is the namespace's own, NSpid has one level.
    #[test]
    fn a_namespace_with_its_own_proc_is_refused() {
        let err = decide(&observed(
            Some("pid:[4026532175]"),
            Some("pid:[4026532175]"),
            &[3],
        ))
        .unwrap_err();
        assert_eq!(err.evidence, "pid:[4026532175]");
        let text = err.to_string();
        assert!(text.contains("inside a pid namespace"), "{text}");
        assert!(!text.contains(". "), "one sentence: {text}");
    }

    /// `unshare -p -f` with the host's /proc: the link alone, or NSpid alone, shows it.
    #[test]
    fn a_namespace_under_the_hosts_proc_is_refused() {
        let nested = observed(Some("pid:[4026532174]"), None, &[18458, 3]);
        assert!(decide(&nested).is_err());
        let err = decide(&observed(None, None, &[18458, 3])).unwrap_err();
        assert_eq!(err.evidence, "NSpid: 18458 3");
    }

    /// In the initial namespace, but /proc mounted from another namespace.
    #[test]
    fn a_foreign_proc_is_refused() {
        let err = decide(&observed(Some(INIT), Some("pid:[4026532175]"), &[])).unwrap_err();
        assert_eq!(err.evidence, "/proc from pid:[4026532175]");
    }
}
