//! `Exec`: a successful exec; the process keeps its pid and `proc_id`, with a new comm.

use crate::ingest::event::Exec;
use crate::output::record::{ExecRecord, Record};

use super::process::Proc;
use super::usage::Image;
use super::Engine;

impl Engine {
    pub(super) fn on_exec(&mut self, e: Exec, out: &mut Vec<Record>) {
        let p = self.entry_for(e.pid, e.start_ns, || {
            Proc::new(e.pid, e.start_ns, false, e.comm.clone(), e.ppid)
        });
        p.comm.clone_from(&e.comm);
        p.ppid = e.ppid;
        p.image = Image::Exec {
            maxrss_before: e.maxrss_bytes,
        };
        p.filename = Some(e.filename.clone());
        p.place = e.place.clone().or(&p.place);
        let place = p.place.fields();
        let proc_id = p.proc_id;
        let argv0_empty = !e.argv_read_failed && e.argv.first().is_none_or(String::is_empty);
        let record = Record::Exec(ExecRecord {
            time: self.clock.wall(e.ktime_ns),
            ktime_ns: e.ktime_ns,
            pid: e.pid,
            ppid: e.ppid,
            comm: e.comm,
            proc_id,
            filename: e.filename,
            argv: e.argv,
            argv_truncated: e.argv_truncated,
            argv_read_failed: e.argv_read_failed,
            filename_truncated: e.filename_truncated,
            argv0_empty,
            old_pid: e.old_pid,
            uid: e.uid,
            euid: e.euid,
            place,
        });
        self.push(record, out);
    }
}
