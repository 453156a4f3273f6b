//! Every metric proctrace exposes (README "Metrics"), registered once in one [`Registry`].
//!
//! Names are registered without the suffixes the encoders add: a counter `proctrace_forks`
//! is exposed as `proctrace_forks_total`. Every label takes values from a fixed set, but for
//! `container` (bounded in containers.rs) and `comm` (only the comms of
//! `--metrics-comm-allow`); series whose labels are known in advance exist from the start, at
//! 0, so that `increase()` sees their first event.
use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};

/// The duration histograms' buckets: powers of two from 2^-20 s (about 1 µs) to 2^17 s
/// (about 36 h), then `+Inf`.
pub const BUCKET_EXPONENTS: std::ops::RangeInclusive<i32> = -20..=17;

pub fn duration_buckets() -> impl Iterator<Item = f64> {
    let count = BUCKET_EXPONENTS.count();
    exponential_buckets(
        2f64.powi(*BUCKET_EXPONENTS.start()),
        2.0,
        u16::try_from(count).unwrap_or(u16::MAX),
    )
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `exit`, `signal` or `core`.
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReapLabels {
    /// `wait`, `autoreap` or `release`, as the `reap` record's `how`.
    pub how: &'static str,
    /// `transient`, `long_lived` or `unknown` (the record's `zombie_class` is null).
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabel {
    /// A key of `lost.causes`; `recursion.<job>` and `dropped.<job>` for the nested ones.
    pub cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `missing`, `unknown` or `mismatched`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    /// `user` or `system`.
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// `read` or `write`.
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `alive` or `zombie`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    /// The `zombie` record's `diagnosis.verdict`.
    pub verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct ContainerLabel {
    /// The container id, `host`, or `other` (containers.rs).
    pub container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommLabel {
    /// One of the comms of `--metrics-comm-allow`.
    pub comm: String,
}

pub const EXIT_REASONS: [&str; 3] = ["exit", "signal", "core"];
pub const REAP_HOWS: [&str; 3] = ["wait", "autoreap", "release"];
pub const ZOMBIE_CLASSES: [&str; 3] = ["transient", "long_lived", "unknown"];
/// The keys of `lost.causes` that count lost events (their sum is `lost.count`).
pub const LOST_CAUSES: [&str; 13] = [
    "ring_buffer_full",
    "recursion.fork",
    "recursion.exec",
    "recursion.exit",
    "recursion.reap",
    "recursion.wait",
    "undecodable",
    "output_queue_full",
    "dropped.fork",
    "dropped.exec",
    "dropped.exit",
    "dropped.reap",
    "dropped.wait",
];
/// The keys of `lost.causes` that count damage, not losses.
pub const DAMAGE_CAUSES: [&str; 2] = ["kernel_read_failed", "fork_unpaired"];
pub const DISCREPANCY_KINDS: [&str; 3] = ["missing", "unknown", "mismatched"];
pub const CPU_MODES: [&str; 2] = ["user", "system"];
pub const DIRECTIONS: [&str; 2] = ["read", "write"];
pub const STATES: [&str; 2] = ["alive", "zombie"];
pub const VERDICTS: [&str; 9] = [
    "unknown",
    "parent_stopped",
    "parent_waits_for_others",
    "container_init_does_not_reap",
    "parent_blocks_sigchld",
    "parent_handler_does_not_wait",
    "parent_never_waits",
    "parent_busy",
    "parent_not_waiting",
];

/// Seconds, as a float counter (CPU time).
pub type SecondsCounter = Counter<f64, AtomicU64>;
/// Seconds, as a float gauge (ages).
pub type SecondsGauge = Gauge<f64, AtomicU64>;

/// The metrics, and the registry that exposes them. The handles share their values with the
/// registry (they are `Arc`s inside): updating one here changes what `/metrics` shows.
pub struct Metrics {
    pub registry: Registry,
    pub forks: Counter,
    pub execs: Counter,
    pub exits: Family<ReasonLabel, Counter>,
    pub reaps: Family<ReapLabels, Counter>,
    pub zombie_alerts: Family<VerdictLabel, Counter>,
    pub events_lost: Family<CauseLabel, Counter>,
    pub events_damaged: Family<CauseLabel, Counter>,
    pub proc_check_discrepancies: Family<KindLabel, Counter>,
    pub exited_cpu_seconds: Family<ModeLabel, SecondsCounter>,
    pub exited_storage_bytes: Family<DirectionLabel, Counter>,
    /// Only registered when `--metrics-comm-allow` names comms.
    pub exits_by_comm: Family<CommLabel, Counter>,
    pub processes: Family<StateLabel, Gauge>,
    pub zombies: Family<ContainerLabel, Gauge>,
    pub zombie_oldest_age_seconds: Family<ContainerLabel, SecondsGauge>,
    pub up: Gauge,
    pub ring_buffer_bytes: Gauge,
    pub resident_memory_bytes: Gauge,
    pub zombie_duration_seconds: Histogram,
    pub process_lifetime_seconds: Histogram,
}

impl Metrics {
    /// Registers every metric; `comms` are the comms of `--metrics-comm-allow` (none: the
    /// per-comm counter is not exposed at all).
    pub fn new(comms: &[String]) -> Self {
        let m = Metrics {
            registry: Registry::default(),
            forks: Counter::default(),
            execs: Counter::default(),
            exits: Family::default(),
            reaps: Family::default(),
            zombie_alerts: Family::default(),
            events_lost: Family::default(),
            events_damaged: Family::default(),
            proc_check_discrepancies: Family::default(),
            exited_cpu_seconds: Family::default(),
            exited_storage_bytes: Family::default(),
            exits_by_comm: Family::default(),
            processes: Family::default(),
            zombies: Family::default(),
            zombie_oldest_age_seconds: Family::default(),
            up: Gauge::default(),
            ring_buffer_bytes: Gauge::default(),
            resident_memory_bytes: Gauge::default(),
            zombie_duration_seconds: Histogram::new(duration_buckets()),
            process_lifetime_seconds: Histogram::new(duration_buckets()),
        };
        // Each series of a known label value is created now, at 0 (the guard is dropped at
        // once).
        m.up.set(1);
        for reason in EXIT_REASONS {
            drop(m.exits.get_or_create(&ReasonLabel { reason }));
        }
        for how in REAP_HOWS {
            for class in ZOMBIE_CLASSES {
                drop(m.reaps.get_or_create(&ReapLabels { how, class }));
            }
        }
        for verdict in VERDICTS {
            drop(m.zombie_alerts.get_or_create(&VerdictLabel { verdict }));
        }
        for cause in LOST_CAUSES {
            drop(m.events_lost.get_or_create(&CauseLabel { cause }));
        }
        for cause in DAMAGE_CAUSES {
            drop(m.events_damaged.get_or_create(&CauseLabel { cause }));
        }
        for kind in DISCREPANCY_KINDS {
            drop(
                m.proc_check_discrepancies
                    .get_or_create(&KindLabel { kind }),
            );
        }
        for mode in CPU_MODES {
            drop(m.exited_cpu_seconds.get_or_create(&ModeLabel { mode }));
        }
        for direction in DIRECTIONS {
            drop(
                m.exited_storage_bytes
                    .get_or_create(&DirectionLabel { direction }),
            );
        }
        for state in STATES {
            drop(m.processes.get_or_create(&StateLabel { state }));
        }
        for comm in comms {
            drop(
                m.exits_by_comm
                    .get_or_create(&CommLabel { comm: comm.clone() }),
            );
        }
        m.register(!comms.is_empty())
    }

    fn register(mut self, by_comm: bool) -> Self {
        let r = &mut self.registry;
        r.register(
            "proctrace_forks",
            "Processes forked (fork records)",
            self.forks.clone(),
        );
        r.register(
            "proctrace_execs",
            "Successful execs (exec records)",
            self.execs.clone(),
        );
        r.register(
            "proctrace_exits",
            "Processes that ended (exit records), by how: a normal exit, killed by a signal, \
             or killed with a core dump",
            self.exits.clone(),
        );
        r.register(
            "proctrace_reaps",
            "Processes reaped (reap records), by how and by zombie class (unknown when the \
             exit was not seen)",
            self.reaps.clone(),
        );
        r.register(
            "proctrace_zombie_alerts",
            "Zombies unreaped for --zombie-threshold (zombie records), by the diagnosis's \
             verdict",
            self.zombie_alerts.clone(),
        );
        r.register(
            "proctrace_events_lost",
            "Events and records lost (lost records), by cause: a key of lost.causes",
            self.events_lost.clone(),
        );
        r.register(
            "proctrace_events_damaged",
            "Damage without loss (lost records): failed kernel reads, unpaired classic forks",
            self.events_damaged.clone(),
        );
        r.register(
            "proctrace_proc_check_discrepancies",
            "Disagreements with /proc found by the checks (proc_check records), by kind",
            self.proc_check_discrepancies.clone(),
        );
        r.register(
            "proctrace_exited_cpu_seconds",
            "CPU time of the processes that ended (exit records' usage), by mode",
            self.exited_cpu_seconds.clone(),
        );
        r.register(
            "proctrace_exited_storage_bytes",
            "Storage I/O of the processes that ended (exit records' usage, less their reaped \
             children's, which their own exits count), by direction",
            self.exited_storage_bytes.clone(),
        );
        if by_comm {
            r.register(
                "proctrace_exits_by_comm",
                "Processes that ended, for the comms of --metrics-comm-allow only",
                self.exits_by_comm.clone(),
            );
        }
        r.register(
            "proctrace_processes",
            "Processes tracked now, by state (alive, or exited and not reaped)",
            self.processes.clone(),
        );
        r.register(
            "proctrace_zombies",
            "Zombies tracked now, by container (host: none; other: beyond \
             --metrics-max-containers)",
            self.zombies.clone(),
        );
        r.register(
            "proctrace_zombie_oldest_age_seconds",
            "Age of the oldest zombie tracked now, by container",
            self.zombie_oldest_age_seconds.clone(),
        );
        r.register("proctrace_up", "1 while proctrace runs", self.up.clone());
        r.register(
            "proctrace_ring_buffer_bytes",
            "Size of the kernel-to-user ring buffer",
            self.ring_buffer_bytes.clone(),
        );
        r.register(
            "proctrace_resident_memory_bytes",
            "Resident memory of proctrace itself",
            self.resident_memory_bytes.clone(),
        );
        r.register(
            "proctrace_zombie_duration_seconds",
            "Time from exit to reap (reap records' zombie_ns, where known)",
            self.zombie_duration_seconds.clone(),
        );
        r.register(
            "proctrace_process_lifetime_seconds",
            "Time from start to exit (exit records' lifetime_ns)",
            self.process_lifetime_seconds.clone(),
        );
        self
    }
}
