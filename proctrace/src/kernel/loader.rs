//! Loading and attaching the kernel programs. Each job (wait, reap, exit, exec, fork) probes the
//! most precise hook first and falls back when the kernel refuses it, and the choice is
//! reported in the `start` record. Hooks are decided by what loads, never by version.
use std::sync::{Mutex, PoisonError};

use aya::{
    programs::{BtfTracePoint, FEntry, KProbe, Program, TracePoint},
    Btf, Ebpf, EbpfLoader,
};
use proctrace_common::Config;
use thiserror::Error;

use crate::{
    kernel::progstats,
    output::record::{Hooks, ReapTimingName},
};

/// The kernel object built by proctrace/build.rs (aya-build).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/proctrace"));

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("loading the eBPF object")]
    Object(#[from] aya::EbpfError),
    #[error("reading kernel BTF")]
    Btf(#[from] aya::BtfError),
    #[error("program {0} is missing from the eBPF object")]
    MissingProgram(&'static str),
    #[error("no hook could be attached for {job}: {reasons}")]
    NoHook { job: &'static str, reasons: String },
}

/// Which hooks may be tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPolicy {
    /// The most precise hook each kernel accepts (BTF tracepoints, fentry), falling back.
    MostPrecise,
    /// Tracepoints only, BTF or classic: never a function hook (fentry, kprobe) on
    /// release_task(), so the reap comes from `sched_process_free` as on kernels that refuse
    /// them (e.g. where function hooks are not allowed, or to test that path anywhere).
    Tracepoints,
    /// Classic tracepoints only (the fallback path, e.g. to test it on a kernel with BTF).
    ClassicOnly,
}

/// How the reap's moment is found on kernels where release_task() cannot be hooked (fentry
/// refused, no kprobes): `--reap-timing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReapTiming {
    /// The wait syscall tracepoints (sys_exit_wait4/waitid): the moment the wait returns, exact.
    /// Enabling any syscall tracepoint sends every syscall of every task through the tracing
    /// slow path (kernel/tracepoint.c syscall_regfunc() sets SYSCALL_TRACEPOINT on all tasks).
    Exact,
    /// `sched_process_free` with the reaper's latest wait calls (free_waits_btf): the moment
    /// is estimated, never later than the release (engine/bounded.rs); no syscall is slowed.
    /// Needs a BTF tracepoint: with classic tracepoints only the reap stays exact.
    Bounded,
}

/// One program and where it attaches.
#[derive(Clone, Copy)]
enum Attach {
    /// BTF tracepoint (`tp_btf`): typed arguments, the kernel's own structs.
    Btf {
        prog: &'static str,
        tracepoint: &'static str,
    },
    /// Classic tracepoint: the record layout comes from tracefs.
    Tracepoint {
        prog: &'static str,
        category: &'static str,
        name: &'static str,
    },
    FEntry {
        prog: &'static str,
        function: &'static str,
    },
    KProbe {
        prog: &'static str,
        function: &'static str,
    },
}

impl Attach {
    fn prog(self) -> &'static str {
        match self {
            Attach::Btf { prog, .. }
            | Attach::Tracepoint { prog, .. }
            | Attach::FEntry { prog, .. }
            | Attach::KProbe { prog, .. } => prog,
        }
    }

    /// Whether `--hooks` allows it.
    fn allowed_by(self, policy: HookPolicy) -> bool {
        match policy {
            HookPolicy::MostPrecise => true,
            HookPolicy::Tracepoints => {
                matches!(self, Attach::Btf { .. } | Attach::Tracepoint { .. })
            }
            HookPolicy::ClassicOnly => matches!(self, Attach::Tracepoint { .. }),
        }
    }

    fn name(self) -> String {
        match self {
            Attach::Btf { tracepoint, .. } => format!("tp_btf/{tracepoint}"),
            Attach::Tracepoint { category, name, .. } => format!("tracepoint/{category}/{name}"),
            Attach::FEntry { function, .. } => format!("fentry/{function}"),
            Attach::KProbe { function, .. } => format!("kprobe/{function}"),
        }
    }

    /// How a refusal names it: two programs of the wait job share a hook, and the first
    /// differs only by the helper it calls.
    fn refused_as(self) -> String {
        if self.prog() == WAIT_REGS_PROGRAM {
            format!(
                "{} reading the wait's options (bpf_task_pt_regs, Linux 5.15+)",
                self.name()
            )
        } else {
            self.name()
        }
    }

    /// Unloads the program, which also detaches it.
    fn unload(self, ebpf: &mut Ebpf) {
        if let Some(program) = ebpf.program_mut(self.prog()) {
            unload(program);
        }
    }

    fn attach(self, ebpf: &mut Ebpf, btf: &Btf) -> anyhow::Result<()> {
        let program = ebpf
            .program_mut(self.prog())
            .ok_or(LoadError::MissingProgram(self.prog()))?;
        match self {
            Attach::Btf { tracepoint, .. } => {
                let p: &mut BtfTracePoint = program.try_into()?;
                p.load(tracepoint, btf)?;
                p.attach()?;
            }
            Attach::Tracepoint { category, name, .. } => {
                let p: &mut TracePoint = program.try_into()?;
                p.load()?;
                p.attach(category, name)?;
            }
            Attach::FEntry { function, .. } => {
                let p: &mut FEntry = program.try_into()?;
                p.load(function, btf)?;
                p.attach()?;
            }
            Attach::KProbe { function, .. } => {
                let p: &mut KProbe = program.try_into()?;
                p.load()?;
                p.attach(function, 0)?;
            }
        }
        Ok(())
    }
}

/// The hooks for one job, most precise first; each alternative is a set of programs that
/// together do the job.
struct Job {
    name: &'static str,
    alternatives: &'static [&'static [Attach]],
    /// Where the chosen hook is reported in `start.hooks`.
    report: fn(&mut Hooks, String),
}

/// The job (`wait`, `reap`, `exit`, `exec`, `fork`) a program serves, by its name.
pub fn job_of(prog: &str) -> Option<&'static str> {
    JOBS.iter()
        .find(|job| {
            job.alternatives
                .iter()
                .flat_map(|alt| alt.iter())
                .any(|a| a.prog() == prog)
        })
        .map(|job| job.name)
}

const fn btf(prog: &'static str, tracepoint: &'static str) -> Attach {
    Attach::Btf { prog, tracepoint }
}

const fn tp(prog: &'static str, category: &'static str, name: &'static str) -> Attach {
    Attach::Tracepoint {
        prog,
        category,
        name,
    }
}

/// The wait notes with each call's options (wait_note.rs), 5.15+.
const WAIT_REGS_PROGRAM: &str = "wait_note_regs";
/// `start.unsupported` with bounded reap timing where a wait call's options cannot be read
/// (`bpf_task_pt_regs` is refused before Linux 5.15): a waitid() WNOWAIT peek, or one
/// without WEXITED, is then taken for a call that can collect (engine/bounded.rs).
pub const UNSUPPORTED_WAIT_OPTIONS: &str = "reap.wait_options";
/// sched_process_free with the reaper's wait calls (`--reap-timing bounded`).
const FREE_WAITS_PROGRAM: &str = "free_waits_btf";
const BOUNDED_FREE: Attach = btf(FREE_WAITS_PROGRAM, "sched_process_free");
/// sched_process_free beside the wait syscall tracepoints (`--reap-timing exact`).
const EXACT_FREE_PROGRAM: &str = "free_btf";

const WAIT4_ENTER: Attach = tp("wait4_enter", "syscalls", "sys_enter_wait4");
const WAIT4_EXIT: Attach = tp("wait4_exit", "syscalls", "sys_exit_wait4");
const WAITID_ENTER: Attach = tp("waitid_enter", "syscalls", "sys_enter_waitid");
const WAITID_EXIT: Attach = tp("waitid_exit", "syscalls", "sys_exit_waitid");

/// The jobs, in the order they are attached: the reverse of a process's life (wait, reap,
/// exit, exec, fork), so that start-up has no window in which events go unseen. A process whose
/// fork is seen has every later event seen, for every hook was attached before the fork's
/// (attaching fork first left ~20 ms in which children got a `fork` record but no exit or
/// reap, and the first `proc_check` called them `missing`). A process forked before the fork
/// hook is in the /proc read that follows attaching (Session::seed), and whatever it does
/// after its hook is attached is seen; an event of one that is gone by that read (an exit, a
/// reap) starts tracking it, or is a reap of an untracked process (engine/mod.rs).
/// The wait notes come first, before the reap: every wait call made once reaps can be seen is
/// noted (a waiter already blocked in do_wait() at start-up has no note until its next call).
const JOBS: [Job; 5] = [
    // Every wait-family call entering do_wait(), noted per process in the WAITERS map
    // (wait_note.rs) for the zombie diagnosis; it sends no record.
    Job {
        name: "wait",
        report: |h, hook| h.wait = Some(hook),
        alternatives: &[
            // With the syscall's registers (5.15+), then without.
            &[btf(WAIT_REGS_PROGRAM, "sched_process_wait")],
            &[btf("wait_note_btf", "sched_process_wait")],
            &[tp("wait_note_tp", "sched", "sched_process_wait")],
        ],
    },
    // The reap: release_task() itself where the kernel lets us hook a function; otherwise
    // sched_process_free with the reaper's wait calls (`--reap-timing bounded`), or the
    // wait-family syscall exits (exact moment and reaper for wait4/waitid) plus
    // sched_process_free (every release, an RCU grace period late) for the rest (`exact`,
    // and classic mode, whose sched_process_free names neither the task nor its parent).
    Job {
        name: "reap",
        report: |h, hook| h.reap = Some(hook),
        alternatives: &[
            &[Attach::FEntry {
                prog: "release_fentry",
                function: "release_task",
            }],
            &[Attach::KProbe {
                prog: "release_kprobe",
                function: "release_task",
            }],
            // Bounded only: no syscall tracepoint.
            &[BOUNDED_FREE],
            // Exact only (with a BTF tracepoint at hand; see timing_allows).
            &[
                WAIT4_ENTER,
                WAIT4_EXIT,
                WAITID_ENTER,
                WAITID_EXIT,
                btf(EXACT_FREE_PROGRAM, "sched_process_free"),
            ],
            &[
                WAIT4_ENTER,
                WAIT4_EXIT,
                WAITID_ENTER,
                WAITID_EXIT,
                tp("free_tp", "sched", "sched_process_free"),
            ],
        ],
    },
    Job {
        name: "exit",
        report: |h, hook| h.exit = Some(hook),
        alternatives: &[
            &[btf("exit_btf", "sched_process_exit")],
            &[tp("exit_tp", "sched", "sched_process_exit")],
        ],
    },
    Job {
        name: "exec",
        report: |h, hook| h.exec = Some(hook),
        alternatives: &[
            &[btf("exec_btf", "sched_process_exec")],
            &[tp("exec_tp", "sched", "sched_process_exec")],
        ],
    },
    // Last: once a process's fork can be seen, so can everything after it.
    Job {
        name: "fork",
        report: |h, hook| h.fork = Some(hook),
        alternatives: &[
            &[btf("fork_btf", "sched_process_fork")],
            // task_newtask first: it records clone_flags that sched_process_fork looks up.
            &[
                tp("newtask_tp", "task", "task_newtask"),
                tp(CLASSIC_FORK_PROGRAM, "sched", "sched_process_fork"),
            ],
        ],
    },
];

pub struct Loaded {
    pub ebpf: Ebpf,
    pub hooks: Hooks,
    /// Whether the reap hook chosen times reaps exactly (`start.reap_timing`).
    pub reap_timing: ReapTimingName,
    /// Output fields this kernel cannot measure (`start.unsupported`).
    pub unsupported: Vec<String>,
    /// Why preferred hooks were refused (for the log on stderr).
    pub fallbacks: Vec<Fallback>,
}

/// A preferred hook the kernel refused.
#[derive(Debug)]
pub struct Fallback {
    /// `job: hook: the whole error chain` (verifier output included), for `--verbose`.
    pub detail: String,
    /// The hook, e.g. `fentry/release_task`.
    pub hook: String,
    /// Why, in words, for the one line printed by default.
    pub in_words: &'static str,
}

impl Fallback {
    fn new(job: &str, hook: String, err: &anyhow::Error) -> Self {
        let chain = error_chain(err);
        Fallback {
            detail: format!("{job}: {hook}: {chain}"),
            in_words: in_words(&chain),
            hook,
        }
    }
}

/// The usual reasons a hook is refused, as an operator would say them.
fn in_words(chain: &str) -> &'static str {
    if chain.contains("kprobe/type") {
        "kprobes are not built into this kernel"
    } else if chain.contains("Operation not permitted") {
        "not permitted by this kernel (EPERM)"
    } else if chain.contains("Verifier output") || chain.contains("verifier") {
        "rejected by the verifier (-v shows its log)"
    } else if chain.contains("No such file") {
        "not available on this kernel"
    } else {
        "failed to attach (-v shows why)"
    }
}

/// aya's loader and aya's copy of the kernel BTF, read before the programs' settings are
/// known so that this can run beside the offsets' own read of the BTF (session.rs).
pub struct Prepared {
    loader: EbpfLoader<'static>,
    btf: Btf,
}

/// Reads the kernel BTF for aya.
pub fn prepare() -> Result<Prepared, LoadError> {
    // EbpfLoader::new() parses the kernel BTF itself and aya offers no way around it, but
    // the programs need our own copy to attach by name: drop the loader's before parsing
    // ours, so the two are never in memory at once (start-up peak RSS).
    let mut loader = EbpfLoader::new();
    loader.btf(None);
    let btf = Btf::from_sys_fs()?;
    Ok(Prepared { loader, btf })
}

pub fn load(
    prepared: Prepared,
    config: Config,
    ring_buffer_bytes: u32,
    (policy, timing): (HookPolicy, ReapTiming),
) -> Result<Loaded, LoadError> {
    let Prepared { loader, btf } = prepared;
    // Borrows `btf` and `config` from here on.
    let mut loader: EbpfLoader<'_> = loader;
    let mut ebpf = loader
        .btf(Some(&btf))
        .override_global("CONFIG", &config, true)
        .map_max_entries("EVENTS", ring_buffer_bytes)
        .load(OBJECT)?;
    let mut fallbacks = Vec::new();
    let mut hooks = Hooks::default();
    for job in &JOBS {
        let hook = attach_job(&mut ebpf, &btf, job, (policy, timing), &mut fallbacks)?;
        (job.report)(&mut hooks, hook);
    }
    // Asked of a loaded program: only the kernel's own bpf_prog_info tells (progstats.rs).
    let mut unsupported = Vec::new();
    if !progstats::kernel_counts_recursion(&ebpf) {
        unsupported.push(progstats::UNSUPPORTED_RECURSION.to_owned());
    }
    let reap_timing = if hooks.reap.as_deref() == Some(BOUNDED_FREE.name().as_str()) {
        ReapTimingName::Bounded
    } else {
        ReapTimingName::Exact
    };
    // The options-reading wait program was refused (before 5.15) and unloaded: the bounded
    // placement takes every call for one that can collect.
    let reads_options = ebpf
        .program(WAIT_REGS_PROGRAM)
        .is_some_and(|p| p.fd().is_ok());
    if reap_timing == ReapTimingName::Bounded && !reads_options {
        unsupported.push(UNSUPPORTED_WAIT_OPTIONS.to_owned());
    }
    Ok(Loaded {
        ebpf,
        hooks,
        reap_timing,
        unsupported,
        fallbacks,
    })
}

/// Attaches the first alternative the kernel accepts; returns its name, e.g.
/// `tp_btf/sched_process_fork` or `tracepoint/task/task_newtask+tracepoint/sched/sched_process_fork`.
fn attach_job(
    ebpf: &mut Ebpf,
    btf: &Btf,
    job: &Job,
    (policy, timing): (HookPolicy, ReapTiming),
    fallbacks: &mut Vec<Fallback>,
) -> Result<String, LoadError> {
    let mut reasons = Vec::new();
    let allowed = job
        .alternatives
        .iter()
        .filter(|alt| alt.iter().all(|a| a.allowed_by(policy)))
        .filter(|alt| timing_allows(alt, timing));
    for alt in allowed {
        let mut attached: Vec<&'static str> = Vec::new();
        let result = alt.iter().try_for_each(|a| {
            // Programs shared with an earlier, failed alternative were unloaded with it.
            a.attach(ebpf, btf)
                .map(|()| attached.push(a.prog()))
                .map_err(|e| (a.refused_as(), e))
        });
        match result {
            Ok(()) => return Ok(alt.iter().map(|a| a.name()).collect::<Vec<_>>().join("+")),
            Err((name, err)) => {
                let fallback = Fallback::new(job.name, name, &err);
                reasons.push(fallback.detail.clone());
                fallbacks.push(fallback);
                // Leave nothing of a failed alternative attached (dropping the links
                // detaches them), so a later one can load the same programs again.
                for a in alt.iter().filter(|a| attached.contains(&a.prog())) {
                    a.unload(ebpf);
                }
            }
        }
    }
    Err(LoadError::NoHook {
        job: job.name,
        reasons: reasons.join("; "),
    })
}

/// Whether `--reap-timing` lets this alternative be tried: `exact` never the bounded free
/// program; `bounded` not the wait syscall tracepoints where its own program could stand in
/// (beside the BTF free program), only beside the classic one.
fn timing_allows(alt: &[Attach], timing: ReapTiming) -> bool {
    let uses = |prog: &str| alt.iter().any(|a| a.prog() == prog);
    match timing {
        ReapTiming::Exact => !uses(FREE_WAITS_PROGRAM),
        ReapTiming::Bounded => !uses(EXACT_FREE_PROGRAM),
    }
}

/// The classic `sched_process_fork` program, which pairs with `task_newtask`'s.
const CLASSIC_FORK_PROGRAM: &str = "fork_tp";

/// Verifier logs are long: keep the first line of each cause, and skip a cause its parent
/// already quoted (aya's errors put their source in their own message).
fn error_chain(err: &anyhow::Error) -> String {
    let mut kept: Vec<String> = Vec::new();
    for cause in err.chain() {
        let line = cause
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        if kept.last().is_some_and(|previous| previous.contains(&line)) {
            continue;
        }
        kept.push(line);
    }
    kept.join(": ")
}

/// Detaches every program, all at once. Releasing a BTF tracepoint link blocks the closing
/// thread until the kernel has retired the probe (about an RCU grace period: 70 ms each on
/// our hosts, several hundred ms under emulation). Dropping `Ebpf` releases them one after
/// another; from parallel threads the waits partly overlap (280 ms → 155 ms here).
///
/// The classic fork program goes first, alone: a fork between the detach of `task_newtask`
/// and its own would find no clone flags and count as `fork_unpaired` at every shutdown.
pub fn detach_all(ebpf: &mut Ebpf) {
    let (first, rest): (Vec<_>, Vec<_>) = ebpf
        .programs_mut()
        .partition(|(name, _)| *name == CLASSIC_FORK_PROGRAM);
    for (_, program) in first {
        unload(program);
    }
    let queue = Mutex::new(rest.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
    let work = || loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match next {
            Some(program) => unload(program),
            None => break,
        }
    };
    std::thread::scope(|scope| {
        let helpers = queue.lock().unwrap_or_else(PoisonError::into_inner).len();
        for _ in 1..helpers {
            // A host out of threads (a fork bomb is when a tracer is wanted most) must still
            // get its summary: this thread works through whatever is left.
            let spawned = std::thread::Builder::new()
                .name("proctrace-detach".into())
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                break;
            }
        }
        work();
    });
}

fn unload(program: &mut Program) {
    // Errors here mean "was not loaded" (an alternative that lost): nothing to undo.
    let _ = match program {
        Program::BtfTracePoint(p) => p.unload(),
        Program::TracePoint(p) => p.unload(),
        Program::FEntry(p) => p.unload(),
        Program::KProbe(p) => p.unload(),
        _ => Ok(()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::record::HookCounts;

    #[test]
    fn every_program_has_one_job() {
        for job in &JOBS {
            for a in job.alternatives.iter().flat_map(|alt| alt.iter()) {
                assert_eq!(job_of(a.prog()), Some(job.name), "{}", a.prog());
            }
        }
        assert_eq!(job_of("free_tp"), Some("reap"));
        assert_eq!(job_of("wait4_exit"), Some("reap"));
        assert_eq!(job_of("wait_note_btf"), Some("wait"));
        assert_eq!(job_of(WAIT_REGS_PROGRAM), Some("wait"));
        // The two tp_btf wait programs are told apart when the first is refused (5.10).
        let regs = JOBS[0].alternatives[0][0];
        assert_eq!(regs.name(), "tp_btf/sched_process_wait");
        assert!(regs.refused_as().contains("bpf_task_pt_regs"));
        assert_eq!(
            JOBS[0].alternatives[1][0].refused_as(),
            "tp_btf/sched_process_wait"
        );
        assert_eq!(job_of("wait_note_tp"), Some("wait"));
        // Every job's misses and drops have a place in `lost.causes`.
        for job in &JOBS {
            let mut counts = HookCounts::default();
            assert!(counts.get_mut(job.name).is_some(), "{}", job.name);
        }
        assert_eq!(job_of("no_such_program"), None);
    }

    /// The errors this machine's kernel gives (fentry EPERM, no kprobes), in words.
    #[test]
    fn refusals_in_words() {
        let eperm = "the BPF_PROG_LOAD syscall returned Operation not permitted (os error 1). \
                     Verifier output: ";
        assert_eq!(in_words(eperm), "not permitted by this kernel (EPERM)");
        let kprobes = "`/sys/bus/event_source/devices/kprobe/type`: No such file or directory \
                       (os error 2)";
        assert_eq!(in_words(kprobes), "kprobes are not built into this kernel");
        let rejected = "the BPF_PROG_LOAD syscall returned Permission denied (os error 13). \
                        Verifier output: R1 invalid mem access";
        assert_eq!(
            in_words(rejected),
            "rejected by the verifier (-v shows its log)"
        );
        assert_eq!(in_words("something new"), "failed to attach (-v shows why)");
    }

    fn reap_progs(policy: HookPolicy, timing: ReapTiming) -> Vec<Vec<&'static str>> {
        JOBS[1]
            .alternatives
            .iter()
            .filter(|alt| alt.iter().all(|a| a.allowed_by(policy)))
            .filter(|alt| timing_allows(alt, timing))
            .map(|alt| alt.iter().map(|a| a.prog()).collect())
            .collect()
    }

    /// `bounded` never tries the wait syscall tracepoints before the BTF free program, nor
    /// `exact` the bounded program; classic mode keeps the syscall tracepoints either way.
    #[test]
    fn reap_timing_chooses_the_alternatives() {
        let syscalls_free = |free: &'static str| {
            vec![
                "wait4_enter",
                "wait4_exit",
                "waitid_enter",
                "waitid_exit",
                free,
            ]
        };
        let release = [vec!["release_fentry"], vec!["release_kprobe"]];
        let mut bounded = release.to_vec();
        bounded.extend([vec![FREE_WAITS_PROGRAM], syscalls_free("free_tp")]);
        assert_eq!(
            reap_progs(HookPolicy::MostPrecise, ReapTiming::Bounded),
            bounded
        );
        let mut exact = release.to_vec();
        exact.extend([syscalls_free(EXACT_FREE_PROGRAM), syscalls_free("free_tp")]);
        assert_eq!(
            reap_progs(HookPolicy::MostPrecise, ReapTiming::Exact),
            exact
        );
        for timing in [ReapTiming::Bounded, ReapTiming::Exact] {
            assert_eq!(
                reap_progs(HookPolicy::ClassicOnly, timing),
                [syscalls_free("free_tp")]
            );
        }
        // `--hooks tracepoints`: as `auto` without the release_task function hooks.
        assert_eq!(
            reap_progs(HookPolicy::Tracepoints, ReapTiming::Bounded),
            bounded[release.len()..]
        );
        assert_eq!(
            reap_progs(HookPolicy::Tracepoints, ReapTiming::Exact),
            exact[release.len()..]
        );
    }

    /// No start-up window (see JOBS): wait, reap, exit, exec, then fork; and in the classic
    /// fork pair task_newtask before sched_process_fork, which looks up its clone flags.
    #[test]
    fn jobs_attach_in_reverse_lifecycle_order() {
        let order: Vec<&str> = JOBS.iter().map(|j| j.name).collect();
        assert_eq!(order, ["wait", "reap", "exit", "exec", "fork"]);
        let classic_fork: Vec<&str> = JOBS[4].alternatives[1].iter().map(|a| a.prog()).collect();
        assert_eq!(classic_fork, ["newtask_tp", CLASSIC_FORK_PROGRAM]);
    }
}
