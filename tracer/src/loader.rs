//! Loading and attaching the kernel programs. Each job (fork, exec, exit, reap) probes the
//! most precise hook first and falls back when the kernel refuses it, and the choice is
//! reported in the `start` record. Hooks are decided by what loads, never by version.
use aya::{
    programs::{BtfTracePoint, TracePoint},
    Btf, Ebpf, EbpfLoader,
};
use thiserror::Error;
use tracer_common::Config;

use crate::record::Hooks;

/// The kernel object built by tracer/build.rs (aya-build).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("loading the eBPF object: {0}")]
    Object(#[from] aya::EbpfError),
    #[error("reading kernel BTF: {0}")]
    Btf(#[from] aya::BtfError),
    #[error("program {0} is missing from the eBPF object")]
    MissingProgram(&'static str),
    #[error("no hook could be attached for {job}: {reasons}")]
    NoHook { job: &'static str, reasons: String },
}

/// Which hooks to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HookMode {
    /// BTF tracepoints where the kernel allows them, classic tracepoints otherwise.
    Auto,
    /// Classic tracepoints only (the fallback path, e.g. to test it on a kernel with BTF).
    Classic,
}

/// A `tp_btf` program and the classic tracepoint programs that replace it.
struct Job {
    name: &'static str,
    btf: Option<(&'static str, &'static str)>,
    classic: &'static [(&'static str, &'static str, &'static str)],
}

const FORK: Job = Job {
    name: "fork",
    btf: Some(("fork_btf", "sched_process_fork")),
    // task_newtask first: it records clone_flags that sched_process_fork looks up.
    classic: &[
        ("newtask_tp", "task", "task_newtask"),
        ("fork_tp", "sched", "sched_process_fork"),
    ],
};
const EXEC: Job = Job {
    name: "exec",
    btf: Some(("exec_btf", "sched_process_exec")),
    classic: &[("exec_tp", "sched", "sched_process_exec")],
};
const EXIT: Job = Job {
    name: "exit",
    btf: Some(("exit_btf", "sched_process_exit")),
    classic: &[("exit_tp", "sched", "sched_process_exit")],
};
/// Reap moment: the wait-family syscall exits (exact time and reaper).
const WAIT: Job = Job {
    name: "reap",
    btf: None,
    classic: &[
        ("wait4_enter", "syscalls", "sys_enter_wait4"),
        ("wait4_exit", "syscalls", "sys_exit_wait4"),
        ("waitid_enter", "syscalls", "sys_enter_waitid"),
        ("waitid_exit", "syscalls", "sys_exit_waitid"),
    ],
};
/// Release of the task (RCU-delayed): catches reaps the wait hooks cannot attribute.
const FREE: Job = Job {
    name: "reap",
    btf: Some(("free_btf", "sched_process_free")),
    classic: &[("free_tp", "sched", "sched_process_free")],
};

pub struct Loaded {
    pub ebpf: Ebpf,
    pub hooks: Hooks,
    /// Why preferred hooks were refused (for the log on stderr).
    pub fallbacks: Vec<String>,
}

pub fn load(config: Config, ring_buffer_bytes: u32, mode: HookMode) -> Result<Loaded, LoadError> {
    let btf = Btf::from_sys_fs()?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .override_global("CONFIG", &config, true)
        .map_max_entries("EVENTS", ring_buffer_bytes)
        .load(OBJECT)?;
    let mut fallbacks = Vec::new();
    // Fork before exit and exec: a child's events must never precede the hook that names it.
    let fork = attach_job(&mut ebpf, &btf, &FORK, mode, &mut fallbacks)?;
    let exec = attach_job(&mut ebpf, &btf, &EXEC, mode, &mut fallbacks)?;
    let exit = attach_job(&mut ebpf, &btf, &EXIT, mode, &mut fallbacks)?;
    let wait = attach_job(&mut ebpf, &btf, &WAIT, mode, &mut fallbacks)?;
    let free = attach_job(&mut ebpf, &btf, &FREE, mode, &mut fallbacks)?;
    let hooks = Hooks {
        fork: Some(fork),
        exec: Some(exec),
        exit: Some(exit),
        reap: Some(format!("{wait}, {free}")),
    };
    Ok(Loaded {
        ebpf,
        hooks,
        fallbacks,
    })
}

fn attach_job(
    ebpf: &mut Ebpf,
    btf: &Btf,
    job: &Job,
    mode: HookMode,
    fallbacks: &mut Vec<String>,
) -> Result<String, LoadError> {
    let mut reasons = Vec::new();
    if let (Some((prog, tracepoint)), HookMode::Auto) = (job.btf, mode) {
        match attach_btf(ebpf, btf, prog, tracepoint) {
            Ok(()) => return Ok(format!("tp_btf/{tracepoint}")),
            Err(err) => {
                let reason = format!("tp_btf/{tracepoint}: {}", error_chain(&err));
                fallbacks.push(reason.clone());
                reasons.push(reason);
            }
        }
    }
    match attach_classic(ebpf, job.classic) {
        Ok(()) => {
            let names: Vec<String> = job
                .classic
                .iter()
                .map(|(_, cat, name)| format!("{cat}/{name}"))
                .collect();
            Ok(format!("tracepoint/{}", names.join("+")))
        }
        Err(err) => {
            reasons.push(format!("tracepoint: {}", error_chain(&err)));
            Err(LoadError::NoHook {
                job: job.name,
                reasons: reasons.join("; "),
            })
        }
    }
}

fn attach_btf(
    ebpf: &mut Ebpf,
    btf: &Btf,
    prog: &'static str,
    tracepoint: &str,
) -> anyhow::Result<()> {
    let program: &mut BtfTracePoint = ebpf
        .program_mut(prog)
        .ok_or(LoadError::MissingProgram(prog))?
        .try_into()?;
    program.load(tracepoint, btf)?;
    if let Err(err) = program.attach() {
        // Leave nothing loaded behind a refused attach.
        let _ = program.unload();
        return Err(err.into());
    }
    Ok(())
}

fn attach_classic(
    ebpf: &mut Ebpf,
    programs: &[(&'static str, &'static str, &'static str)],
) -> anyhow::Result<()> {
    for &(prog, category, name) in programs {
        let program: &mut TracePoint = ebpf
            .program_mut(prog)
            .ok_or(LoadError::MissingProgram(prog))?
            .try_into()?;
        program.load()?;
        program.attach(category, name)?;
    }
    Ok(())
}

/// Verifier logs are long: keep the first line of each cause.
fn error_chain(err: &anyhow::Error) -> String {
    err.chain()
        .map(|e| e.to_string().lines().next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(": ")
}
