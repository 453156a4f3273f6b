//! `Fork`: a new process (never a thread: the kernel side drops CLONE_THREAD children).

use crate::ingest::event::Fork;
use crate::output::record::{ForkRecord, ProcId, Record};

use super::process::Proc;
use super::usage::Image;
use super::Engine;

impl Engine {
    pub(super) fn on_fork(&mut self, f: Fork, out: &mut Vec<Record>) {
        // A fork for a tracked pid: the old entry is stale (its reap was not seen) → replace.
        self.remove(f.pid);
        let parent_proc_id = self.parent_proc_id(&f);
        let mut p = Proc::new(f.pid, f.start_ns, f.start_approx, f.comm, f.ppid);
        p.image = Image::Forked;
        p.place = f.place;
        let record = Record::Fork(ForkRecord {
            time: self.clock.wall(f.ktime_ns),
            ktime_ns: f.ktime_ns,
            pid: f.pid,
            ppid: f.ppid,
            comm: p.comm.clone(),
            proc_id: p.proc_id,
            parent_proc_id,
            uid: f.uid,
            place: p.place.fields(),
        });
        self.insert(f.pid, p);
        self.push(record, out);
    }

    /// From the parent's start time in the event, else from the parent's entry.
    fn parent_proc_id(&self, f: &Fork) -> Option<ProcId> {
        if f.parent_start_ns != 0 {
            Some(ProcId::new(f.ppid, f.parent_start_ns))
        } else {
            self.procs.get(&f.ppid).map(|p| p.proc_id)
        }
    }
}
