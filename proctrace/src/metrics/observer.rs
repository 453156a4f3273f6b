//! Records in, metric updates out: every record proctrace makes passes here (session.rs,
//! `Session::flush`), whether or not it is written to stdout, so the counters and histograms
//! count exactly what the JSON stream says.
use std::{collections::HashSet, sync::Arc};

use crate::output::{
    diagnosis::Verdict,
    record::{LostCauses, ProcCheckRecord, ReapHow, Record, Usage, ZombieClass},
};

use super::definitions::{
    CauseLabel, CommLabel, DirectionLabel, KindLabel, Metrics, ModeLabel, ReapLabels, ReasonLabel,
    VerdictLabel,
};

const NS_PER_S: f64 = 1e9;

pub struct Observer {
    metrics: Arc<Metrics>,
    /// `--metrics-comm-allow`: the only comms that get a series of their own.
    comms: HashSet<String>,
}

impl Observer {
    pub fn new(metrics: Arc<Metrics>, comms: &[String]) -> Self {
        Observer {
            metrics,
            comms: comms.iter().cloned().collect(),
        }
    }

    pub fn observe(&self, records: &[Record]) {
        for record in records {
            self.observe_one(record);
        }
    }

    fn observe_one(&self, record: &Record) {
        let m = &*self.metrics;
        match record {
            Record::Start(r) => {
                m.ring_buffer_bytes
                    .set(i64::try_from(r.ring_buffer_bytes).unwrap_or(i64::MAX));
            }
            Record::Fork(_) => {
                m.forks.inc();
            }
            Record::Exec(_) => {
                m.execs.inc();
            }
            Record::Exit(r) => {
                let reason = match (r.signal, r.core_dumped) {
                    (None, _) => "exit",
                    (Some(_), false) => "signal",
                    (Some(_), true) => "core",
                };
                m.exits.get_or_create(&ReasonLabel { reason }).inc();
                m.process_lifetime_seconds.observe(seconds(r.lifetime_ns));
                if let Some(usage) = &r.usage {
                    self.usage(usage);
                }
                if self.comms.contains(&r.comm) {
                    let label = CommLabel {
                        comm: r.comm.clone(),
                    };
                    m.exits_by_comm.get_or_create(&label).inc();
                }
            }
            Record::Reap(r) => {
                let how = match r.how {
                    ReapHow::Wait => "wait",
                    ReapHow::Autoreap => "autoreap",
                    ReapHow::Release => "release",
                };
                let class = match r.zombie_class {
                    Some(ZombieClass::Transient) => "transient",
                    Some(ZombieClass::LongLived) => "long_lived",
                    None => "unknown",
                };
                m.reaps.get_or_create(&ReapLabels { how, class }).inc();
                if let Some(ns) = r.zombie_ns {
                    m.zombie_duration_seconds.observe(seconds(ns));
                }
            }
            Record::Zombie(r) => {
                let verdict = r
                    .diagnosis
                    .as_ref()
                    .map_or("unknown", |d| verdict(d.verdict));
                m.zombie_alerts
                    .get_or_create(&VerdictLabel { verdict })
                    .inc();
            }
            Record::Lost(r) => self.lost(&r.causes),
            Record::ProcCheck(r) => self.proc_check(r),
            Record::Summary(_) => {}
        }
    }

    fn usage(&self, usage: &Usage) {
        let m = &*self.metrics;
        for (mode, ns) in [("user", usage.cpu_user_ns), ("system", usage.cpu_system_ns)] {
            if let Some(ns) = ns.filter(|&ns| ns > 0) {
                m.exited_cpu_seconds
                    .get_or_create(&ModeLabel { mode })
                    .inc_by(seconds(ns));
            }
        }
        // The kernel folds the I/O of reaped children into a process's own figures
        // (wait_task_zombie); they were counted at the children's exits, so only the rest is
        // the process's own (within 512 bytes a child: the children's are whole blocks).
        let own = |bytes: Option<u64>, children: Option<u64>| {
            bytes.map(|b| b.saturating_sub(children.unwrap_or(0)))
        };
        let io = [
            ("read", own(usage.read_bytes, usage.children_read_bytes)),
            ("write", own(usage.write_bytes, usage.children_write_bytes)),
        ];
        for (direction, bytes) in io {
            if let Some(bytes) = bytes.filter(|&b| b > 0) {
                m.exited_storage_bytes
                    .get_or_create(&DirectionLabel { direction })
                    .inc_by(bytes);
            }
        }
    }

    fn lost(&self, causes: &LostCauses) {
        let m = &*self.metrics;
        let r = &causes.recursion;
        let d = &causes.dropped;
        let lost = [
            ("ring_buffer_full", causes.ring_buffer_full),
            ("recursion.fork", r.fork),
            ("recursion.exec", r.exec),
            ("recursion.exit", r.exit),
            ("recursion.reap", r.reap),
            ("recursion.wait", r.wait),
            ("undecodable", causes.undecodable),
            ("output_queue_full", causes.output_queue_full),
            ("dropped.fork", d.fork),
            ("dropped.exec", d.exec),
            ("dropped.exit", d.exit),
            ("dropped.reap", d.reap),
            ("dropped.wait", d.wait),
        ];
        for (cause, n) in lost {
            if n > 0 {
                m.events_lost.get_or_create(&CauseLabel { cause }).inc_by(n);
            }
        }
        let damaged = [
            ("kernel_read_failed", causes.kernel_read_failed),
            ("fork_unpaired", causes.fork_unpaired),
        ];
        for (cause, n) in damaged {
            if n > 0 {
                m.events_damaged
                    .get_or_create(&CauseLabel { cause })
                    .inc_by(n);
            }
        }
    }

    fn proc_check(&self, r: &ProcCheckRecord) {
        let m = &*self.metrics;
        for (kind, found) in [
            ("missing", &r.missing),
            ("unknown", &r.unknown),
            ("mismatched", &r.mismatched),
        ] {
            if found.count > 0 {
                m.proc_check_discrepancies
                    .get_or_create(&KindLabel { kind })
                    .inc_by(found.count);
            }
        }
    }
}

/// ns → s: exact below 2^53 ns (104 days), within a part in 2^53 above.
fn seconds(ns: u64) -> f64 {
    ns as f64 / NS_PER_S
}

/// The `verdict` label: the JSON value of `diagnosis.verdict`.
fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Unknown => "unknown",
        Verdict::ParentStopped => "parent_stopped",
        Verdict::ParentWaitsForOthers => "parent_waits_for_others",
        Verdict::ContainerInitDoesNotReap => "container_init_does_not_reap",
        Verdict::ParentBlocksSigchld => "parent_blocks_sigchld",
        Verdict::ParentHandlerDoesNotWait => "parent_handler_does_not_wait",
        Verdict::ParentNeverWaits => "parent_never_waits",
        Verdict::ParentBusy => "parent_busy",
        Verdict::ParentNotWaiting => "parent_not_waiting",
    }
}
