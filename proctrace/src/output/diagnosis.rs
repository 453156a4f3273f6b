//! The zombie diagnosis (README "Why a zombie is not reaped"): the `diagnosis` object of
//! `zombie` records and of the summary's `unreaped` entries, and the summary's groupings of
//! zombies by owner.
use std::sync::Arc;

use serde::Serialize;

use super::record::ProcId;

/// Why a zombie is still unreaped, in one word; rules in engine/diagnosis.rs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The parent's /proc entry could not be read.
    Unknown,
    /// Stopped by a signal or a tracer: it cannot run its wait.
    ParentStopped,
    /// In a wait now, or waited since the exit, without collecting this child.
    ParentWaitsForOthers,
    /// The init of a pid namespace other than the host's, not waiting.
    ContainerInitDoesNotReap,
    /// SIGCHLD blocked, no wait since the exit.
    ParentBlocksSigchld,
    /// A SIGCHLD handler, no wait since the exit.
    ParentHandlerDoesNotWait,
    /// No wait-family call since proctrace started.
    ParentNeverWaits,
    /// Waited before, not since the exit; running or in uninterruptible sleep.
    ParentBusy,
    /// Waited before, not since the exit; sleeping elsewhere.
    ParentNotWaiting,
}

/// The parent's SIGCHLD disposition (`SigIgn`/`SigCgt` of /proc/PPID/status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sigchld {
    Default,
    Ignored,
    Handled,
}

/// What the parent is to the zombie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentRole {
    /// The zombie's own parent.
    Parent,
    /// The zombie was reparented to it and it is no namespace init: a
    /// `PR_SET_CHILD_SUBREAPER` ancestor (kernel/exit.c, find_new_reaper()).
    Subreaper,
    /// The init of its pid namespace (NSpid 1).
    NsInit,
}

/// The `diagnosis` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    /// One-letter state of /proc/PPID/stat.
    pub parent_state: Option<String>,
    /// /proc/PPID/wchan: where it sleeps in the kernel.
    pub parent_wchan: Option<String>,
    pub sigchld: Option<Sigchld>,
    /// SIGCHLD is in the parent's blocked mask (its main thread's).
    pub sigchld_blocked: Option<bool>,
    /// From the parent's latest wait-family call to the record, `null`: none since the start.
    pub parent_last_wait_ns: Option<u64>,
    pub parent_role: Option<ParentRole>,
}

/// A parent's zombies in the summary's `zombies_by_parent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParentZombies {
    pub ppid: u32,
    pub parent_proc_id: Option<ProcId>,
    pub parent_comm: Option<String>,
    #[serde(flatten)]
    pub tally: ZombieTally,
}

/// A container's zombies in the summary's `zombies_by_container` (`null`: the host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerZombies {
    pub container_id: Option<Arc<str>>,
    #[serde(flatten)]
    pub tally: ZombieTally,
}

/// Long-lived zombies of one owner: still unreaped at the end, or reaped `long_lived`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ZombieTally {
    pub unreaped: u64,
    pub long_lived_reaped: u64,
    /// The longest zombie time among them (an unreaped one's age at the summary).
    pub max_zombie_ns: u64,
}

impl ZombieTally {
    pub fn add_unreaped(&mut self, age_ns: u64) {
        self.unreaped += 1;
        self.max_zombie_ns = self.max_zombie_ns.max(age_ns);
    }

    pub fn add_reaped(&mut self, zombie_ns: u64) {
        self.long_lived_reaped += 1;
        self.max_zombie_ns = self.max_zombie_ns.max(zombie_ns);
    }

    /// Most unreaped first, then most reaped.
    pub fn rank(&self) -> (std::cmp::Reverse<u64>, std::cmp::Reverse<u64>) {
        (
            std::cmp::Reverse(self.unreaped),
            std::cmp::Reverse(self.long_lived_reaped),
        )
    }
}
