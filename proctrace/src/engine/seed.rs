//! Seeding: processes found outside the trace (the /proc scan at start, see reconcile.rs) are
//! adopted without records.

use crate::ingest::event::ExitStatus;

use super::process::Proc;
use super::Engine;

/// A process found outside the trace (see [`Engine::seed_process`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedProcess {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// Ignored: the engine keeps no uid (records take theirs from the events).
    pub uid: u32,
    pub start_ns: u64,
    /// `start_ns` is /proc's starttime (clock ticks): the first exact start time from the
    /// trace is adopted (see `Proc::same_process`) while `proc_id` stays.
    pub start_approx: bool,
    pub zombie_since_ns: Option<u64>,
    /// /proc/<pid>/stat `exit_code` of a zombie.
    pub exit_status: Option<ExitStatus>,
}

impl Engine {
    /// Adopts a process found elsewhere (a /proc scan) without emitting anything; a zombie gets
    /// its alert scheduled from `zombie_since_ns`. Returns false (and changes nothing) when the
    /// pid is already tracked.
    pub fn seed_process(&mut self, seed: SeedProcess) -> bool {
        if self.procs.contains_key(&seed.pid) {
            return false;
        }
        let mut p = Proc::new(
            seed.pid,
            seed.start_ns,
            seed.start_approx,
            seed.comm,
            seed.ppid,
        );
        if let Some(since_ns) = seed.zombie_since_ns {
            p.become_procfs_zombie(since_ns, seed.exit_status);
            self.alerts.schedule(seed.pid, since_ns);
        }
        self.insert(seed.pid, p);
        true
    }
}
