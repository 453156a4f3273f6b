//! Privilege check before touching the kernel, so a missing capability is one clear sentence
//! instead of an EPERM from deep inside the loader.
use thiserror::Error;

/// include/uapi/linux/capability.h
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "proctrace needs root, or the capabilities CAP_BPF and CAP_PERFMON with read access to \
     tracefs (CAP_DAC_READ_SEARCH, as tracefs is mode 0700), plus CAP_SYS_ADMIN when tracefs is \
     not mounted yet; missing: {missing}. Run it as root (sudo)."
)]
pub struct MissingPrivileges {
    pub missing: String,
}

/// Parse the `CapEff:` line of /proc/self/status.
pub fn effective_caps(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

pub fn check_caps(cap_eff: u64, need_sys_admin: bool) -> Result<(), MissingPrivileges> {
    let mut missing = Vec::new();
    let has = |cap: u32| cap_eff & (1u64 << cap) != 0;
    // Before 5.8 CAP_SYS_ADMIN covered both; it still does.
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if need_sys_admin && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_SYS_ADMIN");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingPrivileges {
            missing: missing.join(", "),
        })
    }
}

pub fn check(need_sys_admin: bool) -> Result<(), MissingPrivileges> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    check_caps(effective_caps(&status).unwrap_or(0), need_sys_admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_passes_and_nobody_fails() {
        assert_eq!(
            effective_caps("Name:\tx\nCapEff:\t000001ffffffffff\n"),
            Some(0x1ff_ffff_ffff)
        );
        assert!(check_caps(0x1ff_ffff_ffff, true).is_ok());
        let err = check_caps(0, true).unwrap_err();
        assert_eq!(err.missing, "CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN");
        assert!(check_caps((1 << CAP_BPF) | (1 << CAP_PERFMON), false).is_ok());
        assert!(check_caps((1 << CAP_BPF) | (1 << CAP_PERFMON), true).is_err());
    }
}
