//! The "Filters" flags (flattened into `cli::Args`) and their value parsers. Every bad value
//! is a usage error (exit 2) before anything is loaded.
use std::sync::Arc;

use crate::output::record::RecordType;

use super::{
    glob::Glob,
    selector::{CgroupPrefix, Criteria},
    user,
};

/// Filters choose which `fork`, `exec`, `exit`, `zombie` and `reap` records are written;
/// `start`, `lost`, `proc_check` and `summary` always are. Several values of one flag: any
/// of them; different flags: all of them. Refused with `--no-events` (`cli::Args`): nothing
/// would be written to filter, and the metrics are never filtered.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only these processes (comma-separated or repeated, e.g. --pid 1234,5678): the records
    /// whose `pid` is one of them.
    #[arg(long = "pid", conflicts_with = "no_events", value_name = "PID", value_delimiter = ',', value_parser = parse_pid)]
    pub pids: Vec<u32>,

    /// Only this running process and all its descendants, those alive at start and those
    /// forked later, followed as they fork (e.g. --tree 1234; repeat for more trees).
    #[arg(long = "tree", conflicts_with = "no_events", value_name = "PID", value_parser = parse_tree_root)]
    pub trees: Vec<u32>,

    /// Only processes whose command name (the kernel's comm, at most 15 bytes) matches this
    /// shell-style glob (e.g. --comm 'nginx*'; repeat for more).
    #[arg(long = "comm", conflicts_with = "no_events", value_name = "GLOB", value_parser = parse_comm_glob)]
    pub comms: Vec<Glob>,

    /// Only processes whose executable (the filename of their latest exec) matches this
    /// shell-style glob, where `*` also matches `/` (e.g. --exe '*/python3*'; repeat for
    /// more).
    #[arg(long = "exe", conflicts_with = "no_events", value_name = "GLOB", value_parser = parse_exe_glob)]
    pub exes: Vec<Glob>,

    /// Only processes with this real uid, a number or a user name resolved at start
    /// (comma-separated or repeated, e.g. --uid 0,www-data).
    #[arg(long = "uid", conflicts_with = "no_events", value_name = "UID", value_delimiter = ',', value_parser = parse_uid)]
    pub uids: Vec<u32>,

    /// Only processes in this cgroup or below it, a path as the records' `cgroup` shows it
    /// (e.g. --cgroup /system.slice/nginx.service; repeat for more).
    #[arg(long = "cgroup", conflicts_with = "no_events", value_name = "PATH", value_parser = parse_cgroup)]
    pub cgroups: Vec<CgroupPrefix>,

    /// Only processes in containers whose `container_id` starts with this (4 to 64 hex
    /// digits, comma-separated or repeated, e.g. --container 3f2a9c1b7d4e).
    #[arg(long = "container", conflicts_with = "no_events", value_name = "ID", value_delimiter = ',', value_parser = parse_container)]
    pub containers: Vec<Arc<str>>,

    /// Only these record types: fork, exec, exit, zombie, reap (comma-separated, e.g.
    /// --type zombie,reap).
    #[arg(long = "type", conflicts_with = "no_events", value_name = "TYPE", value_delimiter = ',', value_parser = parse_type)]
    pub types: Vec<RecordType>,
}

impl FilterArgs {
    /// What the flags ask for; `None` when no filter flag was given (nothing to filter).
    pub fn criteria(&self) -> Option<Criteria> {
        let criteria = Criteria {
            pids: self.pids.iter().copied().collect(),
            trees: self.trees.clone(),
            comms: self.comms.clone(),
            exes: self.exes.clone(),
            uids: self.uids.iter().copied().collect(),
            cgroups: self.cgroups.clone(),
            containers: self.containers.clone(),
            types: self.types.iter().copied().collect(),
        };
        (!criteria.is_empty()).then_some(criteria)
    }
}

/// include/linux/threads.h PID_MAX_LIMIT: no pid is larger on any kernel.
const PID_MAX_LIMIT: u32 = 4 * 1024 * 1024;
/// TASK_COMM_LEN - 1: the kernel keeps at most this many bytes of a command name.
const COMM_MAX: usize = 15;
/// Container ids are 64 hex digits (cgroup/container_id.rs).
const CONTAINER_ID_LEN: usize = 64;
/// Shorter prefixes would match containers nearly at random.
const CONTAINER_PREFIX_MIN: usize = 4;

fn parse_pid(s: &str) -> Result<u32, String> {
    let pid: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a pid: give a process id such as 1234"))?;
    if pid == 0 || pid > PID_MAX_LIMIT {
        return Err(format!(
            "{pid} is not a pid: pids run from 1 to {PID_MAX_LIMIT}"
        ));
    }
    Ok(pid)
}

/// A pid that names a running process now (not a thread of one: /proc/<tid> exists too, and
/// its `Tgid:` line names the process).
fn parse_tree_root(s: &str) -> Result<u32, String> {
    let pid = parse_pid(s)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|_| format!("no process {pid} is running: give the pid of a running process"))?;
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    match tgid {
        Some(tgid) if tgid != pid => Err(format!(
            "{pid} is a thread of process {tgid}: give the process id, --tree {tgid}"
        )),
        _ => Ok(pid),
    }
}

fn parse_comm_glob(s: &str) -> Result<Glob, String> {
    let glob = Glob::parse(s).map_err(|e| e.to_string())?;
    if glob.min_bytes() > COMM_MAX {
        return Err(format!(
            "{s:?} matches only names longer than {COMM_MAX} bytes, and the kernel keeps at \
             most {COMM_MAX} bytes of a command name: shorten it, or use --exe"
        ));
    }
    Ok(glob)
}

fn parse_exe_glob(s: &str) -> Result<Glob, String> {
    Glob::parse(s).map_err(|e| e.to_string())
}

/// A number, or a user name looked up once, now (getpwnam_r: /etc/passwd, or whatever NSS
/// the host uses).
fn parse_uid(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // (uid_t)-1 is "no uid" to the kernel (setresuid's "unchanged"): no process has it.
        return match s.parse::<u32>() {
            Ok(uid) if uid != u32::MAX => Ok(uid),
            _ => Err(format!(
                "{s} is not a uid: uids run from 0 to {}",
                u32::MAX - 1
            )),
        };
    }
    user::uid_of(s).map_err(|e| e.to_string())
}

fn parse_cgroup(s: &str) -> Result<CgroupPrefix, String> {
    CgroupPrefix::parse(s).ok_or_else(|| {
        format!(
            "{s:?} is not a cgroup path: give one as the records' `cgroup` shows it, starting \
             with '/' (e.g. /system.slice/nginx.service)"
        )
    })
}

fn parse_container(s: &str) -> Result<Arc<str>, String> {
    let id = s.trim().to_ascii_lowercase();
    let hex = id.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex || !(CONTAINER_PREFIX_MIN..=CONTAINER_ID_LEN).contains(&id.len()) {
        return Err(format!(
            "{s:?} is not a container id prefix: give {CONTAINER_PREFIX_MIN} to \
             {CONTAINER_ID_LEN} hex digits of the `container_id` records show (e.g. 3f2a9c1b7d4e)"
        ));
    }
    Ok(id.into())
}

fn parse_type(s: &str) -> Result<RecordType, String> {
    match s.trim() {
        "fork" => Ok(RecordType::Fork),
        "exec" => Ok(RecordType::Exec),
        "exit" => Ok(RecordType::Exit),
        "zombie" => Ok(RecordType::Zombie),
        "reap" => Ok(RecordType::Reap),
        t @ ("start" | "lost" | "proc_check" | "summary") => Err(format!(
            "`{t}` records are always written: --type chooses among fork, exec, exit, zombie \
             and reap"
        )),
        other => Err(format!(
            "unknown record type {other:?}: --type takes fork, exec, exit, zombie and reap"
        )),
    }
}
