//! What the benchmark reads about a process from /proc, and signals.

use std::{fs, path::Path, time::Duration};

/// CPU time of every live thread of `pid`, in ns (`/proc/<pid>/task/*/schedstat`: the
/// scheduler's exact run time, not the 10 ms ticks of `/proc/<pid>/stat`).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path().join("schedstat");
            let text = fs::read_to_string(path).ok()?;
            text.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// Tasks (processes and threads) created on the host since boot: `processes` in /proc/stat.
pub fn host_forks() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            stat.lines().find_map(|line| {
                line.strip_prefix("processes ")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in KiB.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kb(&status, field)
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// What the benchmark waits for before it starts a workload under a tracer: the tracer's
/// kernel programs are attached and it is polling for events.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Attachments {
    /// `bpf_link` and `perf_event` descriptors (attached programs, perf buffers).
    pub links: usize,
    /// It has an epoll instance (the event loop is set up).
    pub epoll: bool,
}

pub fn attachments(pid: u32) -> Attachments {
    let mut found = Attachments::default();
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return found;
    };
    for fd in fds.flatten() {
        let Ok(target) = fs::read_link(fd.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        match target.as_ref() {
            "anon_inode:bpf_link" | "anon_inode:bpf-link" | "anon_inode:[perf_event]" => {
                found.links += 1;
            }
            "anon_inode:[eventpoll]" => found.epoll = true,
            _ => {}
        }
    }
    found
}

/// Other processes holding attached BPF programs (bpf_link or bpf-prog descriptors), as
/// `comm[pid]`: other tracers running meanwhile also slow the "untraced" runs down.
pub fn bpf_users(exclude: &[u32]) -> Vec<String> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut users = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) || pid == std::process::id() {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds_bpf = fds.flatten().any(|fd| {
            fs::read_link(fd.path()).is_ok_and(|target| {
                let target = target.to_string_lossy();
                target == "anon_inode:bpf_link" || target == "anon_inode:bpf-prog"
            })
        });
        if holds_bpf {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            users.push(format!("{}[{pid}]", comm.trim()));
        }
    }
    users.sort();
    users
}

/// The 1-minute load average.
pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Send `signal` to `pid`; false if it is gone.
pub fn kill(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: plain syscall.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Wait until the CPU time of `pid` stops growing (it has worked off its backlog): two
/// consecutive 100 ms intervals with less than 10 ms of CPU (other programs keep it
/// busy too: a tracer follows the whole host), at most `limit`.
pub fn quiesce(pid: u32, limit: Duration) {
    let step = Duration::from_millis(100);
    let mut last = cpu_ns(pid);
    let mut idle = 0;
    let mut waited = Duration::ZERO;
    while idle < 2 && waited < limit {
        std::thread::sleep(step);
        waited += step;
        let now = cpu_ns(pid);
        if now.saturating_sub(last) < 10_000_000 {
            idle += 1;
        } else {
            idle = 0;
        }
        last = now;
    }
}

/// One line describing this machine: CPU model, CPUs, memory, kernel, distribution.
pub fn machine() -> String {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let field = |name: &str| {
        cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".into());
    let virt = if field("flags").is_some_and(|flags| flags.split(' ').any(|f| f == "hypervisor")) {
        ", virtual machine"
    } else {
        ""
    };
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mem_gib = parse_status_kb(&read("/proc/meminfo"), "MemTotal")
        .map_or(0.0, |kb| kb as f64 / (1024.0 * 1024.0));
    let kernel = read("/proc/sys/kernel/osrelease");
    let os = read("/etc/os-release")
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown distribution".into());
    format!(
        "{model} ({cpus} CPUs{virt}), {mem_gib:.0} GiB RAM, Linux {}, {os}",
        kernel.trim()
    )
}

/// tracefs must be mounted for the peers (proctrace mounts it itself).
pub fn tracefs_mounted() -> bool {
    Path::new("/sys/kernel/tracing/events/sched").is_dir()
        || Path::new("/sys/kernel/debug/tracing/events/sched").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(12345));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(100));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn own_process() {
        let pid = std::process::id();
        assert!(cpu_ns(pid) > 0);
        assert!(status_kb(pid, "VmHWM").is_some_and(|kb| kb > 0));
        assert_eq!(cpu_ns(u32::MAX), 0);
        let forks = host_forks();
        assert!(forks > 0);
        std::process::Command::new("true").status().unwrap();
        assert!(host_forks() > forks);
    }
}
