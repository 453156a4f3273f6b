//! Where a process lives (`Place`): its cgroups and its pid in its own pid namespace, read
//! through offsets from BTF. Every read that fails leaves its field 0 ("unknown") and is
//! counted (KERNEL_READ_FAILED) by `read_at`; a record is never dropped for them.
use aya_ebpf::helpers::bpf_get_current_cgroup_id;
use proctrace_common::{Place, ABSENT};

use crate::{
    config::conf,
    task::{read_at, ReadError, Task},
};

/// Deepest pid namespace nesting (MAX_PID_NS_LEVEL, include/linux/pid_namespace.h): bounds
/// the index into `struct pid`'s numbers[] for the verifier.
const MAX_PID_NS_LEVEL: u32 = 32;

/// The place of `task`, a task that is not the current one (the forked child): every field
/// is read through its task_struct.
#[inline(always)]
pub fn of_task(task: Task) -> Place {
    let css_set = read_at::<u64>(task.0, conf!(task_cgroups)).unwrap_or(0);
    let (pidns, nspid) = ns_pid(task).unwrap_or((0, 0));
    Place {
        cgroup_id: cgroup_id(read_at::<u64>(css_set, conf!(css_set_dfl_cgrp))),
        cgroup_v1_id: v1_cgroup_id(css_set),
        pidns,
        nspid,
    }
}

/// The place of the current task, whose process `leader` leads. The default hierarchy's id
/// comes from the helper (kernel/bpf/helpers.c bpf_get_current_cgroup_id: the same
/// `task_dfl_cgroup(current)->kn->id`, without three probe reads).
#[inline(always)]
pub fn of_current(current: Task, leader: Task) -> Place {
    let css_set = read_at::<u64>(current.0, conf!(task_cgroups)).unwrap_or(0);
    let (pidns, nspid) = ns_pid(leader).unwrap_or((0, 0));
    Place {
        // SAFETY: no preconditions; 0 when the kernel has no cgroups.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        cgroup_v1_id: v1_cgroup_id(css_set),
        pidns,
        nspid,
    }
}

/// The current task's cgroups only: the classic fork program's child, which inherits them
/// (kernel/cgroup/cgroup.c cgroup_post_fork(); CLONE_INTO_CGROUP aside, which its exec and
/// exit records then show), but whose namespace pid it cannot reach.
#[inline(always)]
pub fn cgroups_of_current(current: Task) -> Place {
    let css_set = read_at::<u64>(current.0, conf!(task_cgroups)).unwrap_or(0);
    Place {
        // SAFETY: as in of_current.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        cgroup_v1_id: v1_cgroup_id(css_set),
        pidns: 0,
        nspid: 0,
    }
}

/// `cgrp->kn->id` (include/linux/cgroup.h cgroup_id()), or 0.
#[inline(always)]
fn cgroup_id(cgroup: Result<u64, ReadError>) -> u64 {
    cgroup
        .and_then(|cgrp| read_at::<u64>(cgrp, conf!(cgroup_kn)))
        .and_then(|kn| read_at::<u64>(kn, conf!(kernfs_node_id)))
        .unwrap_or(0)
}

/// The id of the task's cgroup in the v1 hierarchy userspace chose: `cset->subsys[i]->cgroup`
/// (include/linux/cgroup-defs.h). 0 when none was chosen (a pure cgroup v2 host).
#[inline(always)]
fn v1_cgroup_id(css_set: u64) -> u64 {
    if conf!(css_set_v1_css) == ABSENT {
        return 0;
    }
    cgroup_id(
        read_at::<u64>(css_set, conf!(css_set_v1_css))
            .and_then(|css| read_at::<u64>(css, conf!(css_cgroup))),
    )
}

/// (pid-namespace inode, pid in it) of the process `leader` leads: `thread_pid->numbers[level]`
/// is the pid in the task's own namespace (kernel/pid.c pid_nr_ns()).
#[inline(always)]
fn ns_pid(leader: Task) -> Result<(u32, u32), ReadError> {
    let pid = read_at::<u64>(leader.0, conf!(task_thread_pid))?;
    let level = read_at::<u32>(pid, conf!(pid_level))?;
    let (numbers, size) = (conf!(pid_numbers), conf!(upid_size));
    if level >= MAX_PID_NS_LEVEL || numbers == ABSENT || size == ABSENT {
        return Err(ReadError);
    }
    let upid = pid + numbers as u64 + (level & (MAX_PID_NS_LEVEL - 1)) as u64 * size as u64;
    let nr = read_at::<u32>(upid, conf!(upid_nr))?;
    let ns = read_at::<u64>(upid, conf!(upid_ns))?;
    let inum = read_at::<u32>(ns, conf!(pidns_inum))?;
    Ok((inum, nr))
}
