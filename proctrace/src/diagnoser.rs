//! The seam that completes the engine's `zombie` records and the summary's `unreaped` list
//! with their diagnosis: the parent as /proc shows it now, its latest wait as the kernel
//! noted it, and the rules of engine/diagnosis.rs. Runs on the records of each batch before
//! they are written, so the facts are at most a batch (milliseconds) younger than the record.
use std::collections::HashMap;

use crate::{
    engine::diagnosis::{diagnose, Observation, ParentFacts},
    ingest::{
        decode::{calls_oldest_first, with_call_for_it},
        event::WaitCallSeen,
    },
    kernel::waiters::Waiters,
    output::record::{Diagnosis, Record},
    proc::{parent, scan::tick_ns},
};

pub struct Diagnoser {
    waiters: Waiters,
}

/// One zombie, as a record describes it.
struct Zombie {
    ppid: u32,
    exited_ns: u64,
    now_ns: u64,
    reparented: bool,
}

impl Zombie {
    /// A zombie `zombie_ns` old at `now_ns`.
    fn aged(ppid: u32, zombie_ns: u64, now_ns: u64, reparented: bool) -> Zombie {
        Zombie {
            ppid,
            exited_ns: now_ns.saturating_sub(zombie_ns),
            now_ns,
            reparented,
        }
    }
}

impl Diagnoser {
    pub fn new(waiters: Waiters) -> Self {
        Diagnoser { waiters }
    }

    /// Fills every missing diagnosis in `records`. /proc is read once per parent per batch:
    /// a parent of a thousand zombies costs one read.
    pub fn complete(&self, records: &mut [Record]) {
        let mut parents = HashMap::new();
        for record in records {
            match record {
                Record::Zombie(z) if z.diagnosis.is_none() => {
                    let zombie = Zombie::aged(z.ppid, z.zombie_ns, z.ktime_ns, z.reparented);
                    z.diagnosis = Some(self.diagnose(&zombie, &mut parents));
                }
                Record::Summary(s) => {
                    for u in s.unreaped.iter_mut().filter(|u| u.diagnosis.is_none()) {
                        let zombie = Zombie::aged(u.ppid, u.zombie_ns, s.ktime_ns, u.reparented);
                        u.diagnosis = Some(self.diagnose(&zombie, &mut parents));
                    }
                }
                _ => {}
            }
        }
    }

    fn diagnose(
        &self,
        zombie: &Zombie,
        parents: &mut HashMap<u32, Option<ParentFacts>>,
    ) -> Diagnosis {
        let parent = parents
            .entry(zombie.ppid)
            .or_insert_with(|| parent::read(zombie.ppid))
            .clone();
        let last_wait_ns = parent.as_ref().and_then(|p| self.last_wait(p));
        diagnose(&Observation {
            parent,
            last_wait_ns,
            exited_ns: zombie.exited_ns,
            now_ns: zombie.now_ns,
            reparented: zombie.reparented,
        })
    }

    /// The latest wait calls of process `tgid` as the kernel noted them, and its latest call
    /// for `pid` (started at `start_ns`), oldest first, for a reap whose release event never
    /// came (released.rs).
    pub fn wait_calls(&self, tgid: u32, pid: u32, start_ns: u64) -> Vec<WaitCallSeen> {
        let ring = self
            .waiters
            .latest(tgid)
            .map(|note| calls_oldest_first(&note))
            .unwrap_or_default();
        match self.waiters.latest_for(pid) {
            Some(call) if call.target == tgid && call.ktime_ns >= start_ns => {
                with_call_for_it(ring, &call, pid)
            }
            _ => ring,
        }
    }

    /// The parent's latest wait, if the note is this process's and not that of an earlier
    /// holder of its pid: /proc's start time is the kernel's truncated to clock ticks.
    fn last_wait(&self, parent: &ParentFacts) -> Option<u64> {
        let note = self.waiters.latest(parent.pid)?;
        let same = note.leader_start_ns.abs_diff(parent.start_ns) <= tick_ns();
        same.then_some(note.ktime_ns)
    }
}
