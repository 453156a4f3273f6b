//! The nightly toolchain the eBPF programs are built with (`-Z build-std=core`, and the
//! libLLVM bpf-linker links against). Userspace builds with the default toolchain.

use std::process::Command;

use anyhow::{ensure, Result};

/// The rustup name of the nightly toolchain, for `+nightly`, `--toolchain` and
/// `rustup toolchain install`.
///
/// The machine has exactly one nightly installed, 1.97.0-nightly (e50aa6fba 2026-05-19), and
/// no other can be downloaded, so it is pinned by this name (a dated name such as
/// `nightly-2026-05-19` would be a toolchain rustup does not have) and `cargo xtask setup`
/// checks its version instead ([`check_release`]).
pub const NIGHTLY: &str = "nightly";

/// The release series [`NIGHTLY`] must be. Another release would bring another LLVM for
/// bpf-linker to be built against, and the workspace pins the aya 0.14 family because this
/// rustc is older than the 1.98 that aya 0.15+ needs.
const NIGHTLY_SERIES: &str = "1.97";

/// `+nightly`: the rustup proxies' toolchain override (`cargo +nightly`, `rustc +nightly`).
pub fn override_arg() -> String {
    format!("+{NIGHTLY}")
}

/// `rustc +nightly`.
pub fn rustc() -> Command {
    let mut rustc = Command::new("rustc");
    rustc.arg(override_arg());
    rustc
}

/// Fails unless `release` (the `release:` line of `rustc +nightly -vV`, e.g.
/// `1.97.0-nightly`) is of [`NIGHTLY_SERIES`]; the error is one line.
pub fn check_release(release: &str) -> Result<()> {
    let in_series = release
        .strip_prefix(NIGHTLY_SERIES)
        .is_some_and(|rest| rest.starts_with('.'));
    ensure!(
        in_series,
        "the `{NIGHTLY}` toolchain is rustc {release}, expected {NIGHTLY_SERIES}.x \
         (1.97.0-nightly (e50aa6fba 2026-05-19), the only nightly on this machine)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_pinned_release_series() {
        assert!(check_release("1.97.0-nightly").is_ok());
        assert!(check_release("1.97.1").is_ok());
        for other in ["1.98.0-nightly", "1.9.0", "1.970.0-nightly", "1.97", ""] {
            let err = check_release(other).expect_err(other);
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn overrides_by_name() {
        assert_eq!(override_arg(), "+nightly");
        let rustc = rustc();
        let args: Vec<_> = rustc.get_args().collect();
        assert_eq!(args, ["+nightly"]);
    }
}
