//! `Exit`: the last thread of a process exited (`group_dead`); the process is now a zombie, or
//! already reaped when its parent does not wait (autoreap).

use crate::ingest::event::{Exit, ExitStatus};
use crate::output::record::{Clock, ExitRecord, ReapHow, Record, Usage};

use super::process::Proc;
use super::reap::Reap;
use super::usage;
use super::Engine;

impl Engine {
    pub(super) fn on_exit(&mut self, mut x: Exit, out: &mut Vec<Record>) {
        let clock = self.clock;
        let p = self.entry_for(x.pid, x.start_ns, || {
            Proc::new(x.pid, x.start_ns, false, x.comm.clone(), x.ppid)
        });
        if p.zombie_since().is_some() {
            // Already dead: a duplicate group_dead report (older kernels). Ignore.
            return;
        }
        if !x.comm.is_empty() {
            p.comm.clone_from(&x.comm); // the group leader's comm (prctl may have changed it)
        }
        p.ppid = x.ppid; // after a reparenting: the new parent
        p.exit_status = Some(x.status);
        p.place = std::mem::take(&mut x.place).or(&p.place);
        let usage = x.usage.take().map(|u| usage::finish(*u, p.image));
        let exit = exit_record(&clock, &x, p, usage);
        if let Record::Exit(ExitRecord {
            usage: Some(u),
            comm,
            ..
        }) = &exit
        {
            let filename = self.procs.get(&x.pid).and_then(|p| p.filename.as_deref());
            self.consumers.add(comm, filename, u);
        }
        let Some(p) = self.procs.get_mut(&x.pid) else {
            return;
        };
        if x.autoreap {
            // Released by exit_notify() at once: no zombie period, no waiter.
            self.push(exit, out);
            let reap = Reap {
                pid: x.pid,
                ktime_ns: x.ktime_ns,
                ppid: x.ppid,
                reaper: None,
                how: ReapHow::Autoreap,
                zombie_ns: Some(0),
                window_ns: None,
            };
            self.reap_tracked(reap, out);
        } else {
            p.become_zombie(x.ktime_ns);
            p.parent_waiting_at_exit = x.parent_waiting;
            self.alerts.schedule(x.pid, x.ktime_ns);
            self.push(exit, out);
        }
    }
}

/// The `exit` record of `x`, for its (updated) entry `p`.
fn exit_record(clock: &Clock, x: &Exit, p: &Proc, usage: Option<Usage>) -> Record {
    let ExitStatus {
        code,
        signal,
        core_dumped,
    } = x.status;
    Record::Exit(ExitRecord {
        time: clock.wall(x.ktime_ns),
        ktime_ns: x.ktime_ns,
        pid: x.pid,
        ppid: x.ppid,
        comm: p.comm.clone(),
        proc_id: p.proc_id,
        exit_code: code,
        signal,
        core_dumped,
        lifetime_ns: x.ktime_ns.saturating_sub(p.start_ns),
        uid: x.uid,
        usage,
        place: p.place.fields(),
    })
}
