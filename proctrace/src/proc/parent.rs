//! A zombie's parent as /proc shows it, for the zombie diagnosis (engine/diagnosis.rs):
//! its state, where it sleeps, its SIGCHLD handling and its place in its pid namespace.
use procfs::process::Process;

use crate::engine::diagnosis::ParentFacts;

/// Reads /proc/`pid`/{stat,status,wchan}; `None` when the process is gone or its stat or
/// status cannot be read (a verdict from half the facts would be a guess). wchan alone may
/// be missing (`kernel.kptr_restrict`, a kernel without kallsyms).
pub fn read(pid: u32) -> Option<ParentFacts> {
    let process = Process::new(i32::try_from(pid).ok()?).ok()?;
    let stat = process.stat().ok()?;
    let status = process.status().ok()?;
    let wchan = process.wchan().ok().filter(|w| !w.is_empty() && w != "0");
    Some(ParentFacts {
        pid,
        state: stat.state,
        wchan,
        sig_blocked: status.sigblk,
        sig_ignored: status.sigign,
        sig_caught: status.sigcgt,
        nspid: status
            .nspid
            .as_ref()
            .and_then(|n| n.last().copied())
            .and_then(|n| u32::try_from(n).ok()),
        start_ns: stat.starttime.saturating_mul(super::scan::tick_ns()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id();
        let facts = read(me).expect("our own /proc entry");
        assert_eq!(facts.pid, me);
        // The main thread's state: the test runs on another thread.
        assert!(facts.state.is_ascii_alphabetic(), "{facts:?}");
        assert!(facts.start_ns > 0);
        assert!(facts.nspid.is_some());
    }

    #[test]
    fn a_missing_process_is_none() {
        assert_eq!(read(u32::MAX), None);
        assert_eq!(read(0), None);
    }
}
