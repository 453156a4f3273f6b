//! The summary's `top`: the largest consumers of CPU and memory among the processes that
//! ended while traced, grouped by what they ran (`comm` and the exec'd path).

use foldhash::{HashMap, HashMapExt as _};

use crate::output::record::{Consumer, TopConsumers, Usage};

/// Groups kept at most: past this, processes of new groups are only counted (`ungrouped`), so
/// a run with endless distinct programs cannot grow without bound.
pub(super) const MAX_GROUPS: usize = 10_000;

#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    processes: u64,
    cpu_ns: u64,
    max_rss_bytes: Option<u64>,
}

/// comm → exec'd path ("" when not exec'd while traced: the kernel never execs an empty
/// path) → totals. Two levels so that counting an exit allocates nothing for a known group.
#[derive(Debug, Default)]
pub(super) struct Consumers {
    groups: HashMap<String, HashMap<String, Totals>>,
    len: usize,
    ungrouped: u64,
}

impl Consumers {
    /// Counts one ended process.
    pub(super) fn add(&mut self, comm: &str, filename: Option<&str>, usage: &Usage) {
        let path = filename.unwrap_or("");
        let known = self
            .groups
            .get(comm)
            .is_some_and(|paths| paths.contains_key(path));
        if !known {
            if self.len >= MAX_GROUPS {
                self.ungrouped += 1;
                return;
            }
            self.len += 1;
        }
        if !self.groups.contains_key(comm) {
            self.groups.insert(comm.to_owned(), HashMap::new());
        }
        let Some(paths) = self.groups.get_mut(comm) else {
            return;
        };
        if !paths.contains_key(path) {
            paths.insert(path.to_owned(), Totals::default());
        }
        let Some(totals) = paths.get_mut(path) else {
            return;
        };
        totals.processes += 1;
        let cpu = usage.cpu_user_ns.unwrap_or(0) + usage.cpu_system_ns.unwrap_or(0);
        totals.cpu_ns = totals.cpu_ns.saturating_add(cpu);
        totals.max_rss_bytes = totals.max_rss_bytes.max(usage.max_rss_bytes);
    }

    /// The `n` largest groups by CPU and by peak memory (ties: by name, for a stable order).
    pub(super) fn top(&self, n: usize) -> TopConsumers {
        let all: Vec<Consumer> = self
            .groups
            .iter()
            .flat_map(|(comm, paths)| {
                paths.iter().map(move |(path, t)| Consumer {
                    comm: comm.clone(),
                    filename: (!path.is_empty()).then(|| path.clone()),
                    processes: t.processes,
                    cpu_ns: t.cpu_ns,
                    max_rss_bytes: t.max_rss_bytes,
                })
            })
            .collect();
        let by_name = |a: &Consumer, b: &Consumer| {
            a.comm
                .cmp(&b.comm)
                .then_with(|| a.filename.cmp(&b.filename))
        };
        let mut by_cpu: Vec<Consumer> = all.iter().filter(|c| c.cpu_ns > 0).cloned().collect();
        by_cpu.sort_by(|a, b| b.cpu_ns.cmp(&a.cpu_ns).then_with(|| by_name(a, b)));
        by_cpu.truncate(n);
        let mut by_memory: Vec<Consumer> = all
            .into_iter()
            .filter(|c| c.max_rss_bytes.is_some())
            .collect();
        by_memory.sort_by(|a, b| {
            b.max_rss_bytes
                .cmp(&a.max_rss_bytes)
                .then_with(|| by_name(a, b))
        });
        by_memory.truncate(n);
        TopConsumers {
            by_cpu,
            by_memory,
            groups: self.len as u64,
            ungrouped_processes: self.ungrouped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cpu_ms: u64, rss_mib: Option<u64>) -> Usage {
        Usage {
            cpu_user_ns: Some(cpu_ms * 1_000_000),
            cpu_system_ns: Some(0),
            max_rss_bytes: rss_mib.map(|m| m << 20),
            ..Usage::default()
        }
    }

    #[test]
    fn groups_by_program_and_ranks_by_cpu_and_by_memory() {
        let mut c = Consumers::default();
        c.add("cc1", Some("/usr/lib/gcc/cc1"), &usage(300, Some(80)));
        c.add("cc1", Some("/usr/lib/gcc/cc1"), &usage(200, Some(120)));
        c.add("sh", Some("/bin/sh"), &usage(10, Some(2)));
        c.add("sh", None, &usage(400, None));
        let top = c.top(2);
        let names = |v: &[Consumer]| -> Vec<(String, u64)> {
            v.iter().map(|c| (c.comm.clone(), c.processes)).collect()
        };
        assert_eq!(
            names(&top.by_cpu),
            [("cc1".to_owned(), 2), ("sh".to_owned(), 1)]
        );
        assert_eq!(top.by_cpu[0].cpu_ns, 500_000_000);
        assert_eq!(top.by_cpu[1].filename, None);
        assert_eq!(top.by_memory[0].max_rss_bytes, Some(120 << 20));
        assert_eq!(top.by_memory[1].filename.as_deref(), Some("/bin/sh"));
        assert_eq!((top.groups, top.ungrouped_processes), (3, 0));
        assert!(c.top(0).by_cpu.is_empty());
    }

    #[test]
    fn groups_are_bounded() {
        let mut c = Consumers::default();
        for i in 0..MAX_GROUPS + 5 {
            c.add(&format!("p{i}"), None, &usage(1, None));
        }
        c.add("p0", None, &usage(1, None));
        let top = c.top(1);
        assert_eq!(
            (top.groups, top.ungrouped_processes),
            (MAX_GROUPS as u64, 5)
        );
        assert_eq!(top.by_cpu[0].processes, 2);
    }
}
