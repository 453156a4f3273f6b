//! The offsets behind where a process lives (proctrace_common::Place): the task's css_set,
//! its cgroups and their kernfs ids, and its pid in its own pid namespace, all from BTF.
//!
//! Every one of them is optional: a member this kernel lacks (CONFIG_CGROUPS off, a rename)
//! makes its field `null` and is listed in [`PlaceLayout::missing`]; tracing never depends on
//! it.
use proctrace_common::{Config, ABSENT};
use serde::Serialize;

use crate::kernel::btf::{BtfError, MemberLookup};

/// What was found, for the `-v` log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaceLayout {
    /// The v1 controller whose hierarchy the records' `cgroup` is read from, when one was
    /// asked for and this kernel has it.
    pub v1_controller: Option<String>,
    /// `struct.member` paths (or `enum cgroup_subsys_id.X`) this kernel lacks.
    pub missing: Vec<String>,
}

/// Fills the place fields of `c`. `v1_controller` names the cgroup v1 controller whose
/// hierarchy to report (cgroup/hierarchy.rs), `None` on a cgroup v2 host.
pub fn fill(
    c: &mut Config,
    btf: &impl MemberLookup,
    v1_controller: Option<&str>,
) -> Result<PlaceLayout, BtfError> {
    let mut missing = Vec::new();
    let mut member = |s: &str, m: &str| -> Result<u32, BtfError> {
        match btf.member_offset(s, m) {
            Ok(off) => Ok(off),
            Err(BtfError::MemberNotFound { .. } | BtfError::StructNotFound(_)) => {
                missing.push(format!("{s}.{m}"));
                Ok(ABSENT)
            }
            Err(e) => Err(e),
        }
    };
    // include/linux/sched.h (CONFIG_CGROUPS), include/linux/cgroup-defs.h: the css_set's
    // default-hierarchy cgroup, and kernfs_node.id (u64 since 5.5; include/linux/kernfs.h),
    // which cgroup_id() returns and which is the inode number of the cgroup's directory.
    c.task_cgroups = member("task_struct", "cgroups")?;
    c.css_set_dfl_cgrp = member("css_set", "dfl_cgrp")?;
    c.css_cgroup = member("cgroup_subsys_state", "cgroup")?;
    c.cgroup_kn = member("cgroup", "kn")?;
    c.kernfs_node_id = member("kernfs_node", "id")?;
    let subsys = member("css_set", "subsys")?;
    // include/linux/pid.h: struct pid ends in `struct upid numbers[]`, one per level;
    // include/linux/pid_namespace.h: the namespace's ns_common holds the inode number.
    c.pid_numbers = member("pid", "numbers")?;
    c.upid_nr = member("upid", "nr")?;
    c.upid_ns = member("upid", "ns")?;
    c.pidns_inum = member("pid_namespace", "ns.inum")?;
    c.upid_size = match btf.struct_size("upid") {
        Ok(size) => size,
        Err(BtfError::StructNotFound(_)) => {
            missing.push("upid".to_owned());
            ABSENT
        }
        Err(e) => return Err(e),
    };

    let v1 = match v1_controller {
        Some(name) if subsys != ABSENT => v1_css(btf, subsys, name, &mut missing)?,
        _ => None,
    };
    c.css_set_v1_css = v1.unwrap_or(ABSENT);
    Ok(PlaceLayout {
        v1_controller: v1.and(v1_controller.map(str::to_owned)),
        missing,
    })
}

/// The offset of `css_set.subsys[<controller>_cgrp_id]` (the enum include/linux/cgroup.h
/// builds from include/linux/cgroup_subsys.h: only the controllers built in are listed).
fn v1_css(
    btf: &impl MemberLookup,
    subsys: u32,
    controller: &str,
    missing: &mut Vec<String>,
) -> Result<Option<u32>, BtfError> {
    let variant = format!("{controller}_cgrp_id");
    let Some(index) = btf.enum_value("cgroup_subsys_id", &variant)? else {
        missing.push(format!("enum cgroup_subsys_id.{variant}"));
        return Ok(None);
    };
    let Some(array) = btf.array_member("css_set", "subsys")? else {
        missing.push("css_set.subsys[]".to_owned());
        return Ok(None);
    };
    if index >= array.len {
        missing.push(format!("css_set.subsys[{index}]"));
        return Ok(None);
    }
    Ok(index
        .checked_mul(array.elem_size)
        .and_then(|off| off.checked_add(subsys)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::kernel::btf::Array;

    #[derive(Default)]
    struct Fake {
        members: HashMap<(&'static str, &'static str), u32>,
        enums: HashMap<&'static str, u32>,
        subsys_len: u32,
    }

    impl MemberLookup for Fake {
        fn member_offset(&self, s: &str, m: &str) -> Result<u32, BtfError> {
            crate::kernel::btf::member_in_table(&self.members, s, m)
        }

        fn struct_size(&self, s: &str) -> Result<u32, BtfError> {
            match s {
                "upid" => Ok(16),
                _ => Err(BtfError::StructNotFound(s.to_owned())),
            }
        }

        fn array_member(&self, _: &str, _: &str) -> Result<Option<Array>, BtfError> {
            Ok(Some(Array {
                elem_size: 8,
                len: self.subsys_len,
            }))
        }

        fn enum_value(&self, e: &str, m: &str) -> Result<Option<u32>, BtfError> {
            assert_eq!(e, "cgroup_subsys_id");
            Ok(self.enums.get(m).copied())
        }
    }

    /// Made-up offsets (the real ones are checked against this host's BTF in btf.rs
    /// `real_vmlinux`).
    fn kernel_6_18() -> Fake {
        let members = [
            (("task_struct", "cgroups"), 2864),
            (("css_set", "dfl_cgrp"), 136),
            (("css_set", "subsys"), 0),
            (("cgroup_subsys_state", "cgroup"), 0),
            (("cgroup", "kn"), 264),
            (("kernfs_node", "id"), 72),
            (("pid", "numbers"), 96),
            (("upid", "nr"), 0),
            (("upid", "ns"), 8),
            (("pid_namespace", "ns.inum"), 2128),
        ];
        Fake {
            members: members.into_iter().collect(),
            enums: [("cpuset_cgrp_id", 0), ("pids_cgrp_id", 11)]
                .into_iter()
                .collect(),
            subsys_len: 14,
        }
    }

    #[test]
    fn every_member_and_the_v1_slot() {
        let mut c = Config::absent();
        let layout = fill(&mut c, &kernel_6_18(), Some("pids")).expect("fill");
        assert_eq!(layout.missing, Vec::<String>::new());
        assert_eq!(layout.v1_controller.as_deref(), Some("pids"));
        assert_eq!(c.css_set_v1_css, 11 * 8);
        assert_eq!(
            (c.task_cgroups, c.css_set_dfl_cgrp, c.cgroup_kn),
            (2864, 136, 264)
        );
        assert_eq!((c.pid_numbers, c.upid_size, c.upid_ns), (96, 16, 8));
        assert_eq!(c.pidns_inum, 2128);
    }

    #[test]
    fn no_v1_hierarchy_asked_for() {
        let mut c = Config::absent();
        let layout = fill(&mut c, &kernel_6_18(), None).expect("fill");
        assert_eq!(c.css_set_v1_css, ABSENT);
        assert_eq!(layout.v1_controller, None);
    }

    #[test]
    fn a_controller_the_kernel_lacks_is_missing_not_guessed() {
        let mut c = Config::absent();
        let layout = fill(&mut c, &kernel_6_18(), Some("rdma")).expect("fill");
        assert_eq!(c.css_set_v1_css, ABSENT);
        assert_eq!(layout.missing, ["enum cgroup_subsys_id.rdma_cgrp_id"]);
        let mut short = kernel_6_18();
        short.subsys_len = 11;
        let layout = fill(&mut c, &short, Some("pids")).expect("fill");
        assert_eq!(c.css_set_v1_css, ABSENT);
        assert_eq!(layout.missing, ["css_set.subsys[11]"]);
    }

    #[test]
    fn a_kernel_without_cgroups_still_loads() {
        let mut fake = kernel_6_18();
        fake.members.remove(&("task_struct", "cgroups"));
        let mut c = Config::absent();
        let layout = fill(&mut c, &fake, Some("pids")).expect("fill");
        assert_eq!(c.task_cgroups, ABSENT);
        assert_eq!(layout.missing, ["task_struct.cgroups"]);
    }
}
