//! Each process's latest wait-family call, as the kernel noted it (`WAITERS`, written by
//! proctrace-ebpf's wait_note.rs at every `sched_process_wait`): what the zombie diagnosis
//! needs to tell a parent that waits from one that does not (`parent_last_wait_ns`).
//!
//! A note is looked up, never streamed: waits are frequent and only the parents of zombies
//! matter. Reading it is one `bpf_map_lookup_elem` syscall.
use aya::{
    maps::{HashMap, MapData, MapError},
    Ebpf,
};
use proctrace_common::{WaitCall, WaitNote};

use crate::diag;

/// The name of the map in the eBPF object.
const MAP: &str = "WAITERS";
const FOR_PID_MAP: &str = "WAITS_FOR_PID";

/// The `WAITERS` map, taken out of the loaded [`Ebpf`] (only this owns it).
pub struct Waiters {
    map: HashMap<MapData, u32, WaitNote>,
    /// `WAITS_FOR_PID`: pid waited for -> the latest call for it (its `target`: the caller).
    for_pid: HashMap<MapData, u32, WaitCall>,
}

impl Waiters {
    /// Takes the map out of `ebpf` (after loading; `Ebpf::take_map` hands it out once).
    pub fn take(ebpf: &mut Ebpf) -> anyhow::Result<Waiters> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow::anyhow!("{name} map missing"))
        };
        Ok(Waiters {
            map: HashMap::try_from(take(MAP)?)?,
            for_pid: HashMap::try_from(take(FOR_PID_MAP)?)?,
        })
    }

    /// The latest wait call for process `pid` itself, by any process (`target` holds the
    /// caller), or `None`; the same caveats as [`Waiters::latest`] (check the caller, and that
    /// the call came after the process started).
    pub fn latest_for(&self, pid: u32) -> Option<WaitCall> {
        match self.for_pid.get(&pid, 0) {
            Ok(call) => Some(call),
            Err(MapError::KeyNotFound) => None,
            Err(e) => {
                diag::detail!("reading the wait call for {pid}: {e}");
                None
            }
        }
    }

    /// The latest wait-family call of process `tgid` since proctrace started, or `None` when
    /// none is noted.
    ///
    /// The note may be a former holder's of the pid: it belongs to the process whose group
    /// leader's `start_boottime` is `leader_start_ns` (exact ns; a classic-mode fork's
    /// `start_ns` is the tracepoint's time, microseconds later, and a /proc-seeded start is in
    /// clock ticks, so compare with a tolerance, or check that `ktime_ns` is after the
    /// process's start). A note written before its process started is always stale.
    ///
    /// `None` also when the note was evicted (the map keeps the 16384 most recent waiters: see
    /// `WAITERS` in proctrace-ebpf/src/maps.rs) or was never written (counted by the kernel
    /// side in `lost.causes.dropped.wait` / `recursion.wait`). Any other error of the lookup
    /// (a failing bpf() syscall) gives `None` too, the same as "never waited"; it is only
    /// printed under `-v`, since the diagnosis goes on without it.
    pub fn latest(&self, tgid: u32) -> Option<WaitNote> {
        note(tgid, self.map.get(&tgid, 0))
    }
}

/// A lookup's result as [`Waiters::latest`] reports it.
fn note(tgid: u32, lookup: Result<WaitNote, MapError>) -> Option<WaitNote> {
    match lookup {
        Ok(note) => Some(note),
        Err(MapError::KeyNotFound) => None,
        Err(e) => {
            diag::detail!("reading the wait note of {tgid}: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_unreadable_note_is_none() {
        let n = WaitNote {
            ktime_ns: 7,
            leader_start_ns: 3,
            ..WaitNote::default()
        };
        assert_eq!(note(1, Ok(n)), Some(n));
        assert_eq!(note(1, Err(MapError::KeyNotFound)), None);
        let failed = MapError::SyscallError(aya::sys::SyscallError {
            call: "bpf_map_lookup_elem",
            io_error: std::io::Error::from_raw_os_error(libc::EPERM),
        });
        assert_eq!(note(1, Err(failed)), None);
    }
}
