//! The offsets behind the `usage` of exit records (proctrace_common::Usage): task_struct,
//! signal_struct and mm_struct counters, all from BTF.
//!
//! Every one of them is optional: a member this kernel lacks (a config option off, a rename)
//! makes its figure `null` and is listed in [`UsageLayout::missing`]; tracing never depends
//! on it.
use proctrace_common::{Config, ABSENT, USAGE_BLOCK_CAP};
use serde::Serialize;

use crate::kernel::btf::{BtfError, MemberLookup};

/// What was found, for the `-v` log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageLayout {
    /// How `mm_struct.rss_stat` is laid out: `percpu_counter` (6.2+), `atomic_long` (before),
    /// or `null` when neither was recognised (then the last image's peak is unknown).
    pub rss_stat: Option<&'static str>,
    /// `struct.member` paths this kernel lacks; their figures are `null`.
    pub missing: Vec<String>,
}

/// Indices in mm_struct's rss counters (the enum of include/linux/mm_types_task.h, stable
/// since MM_SHMEMPAGES was added in 4.5). get_mm_rss() sums these three; MM_SWAPENTS (2) is
/// not resident. The BTF array length must be NR_MM_COUNTERS (4) for them to be trusted.
const MM_FILEPAGES: u32 = 0;
const MM_ANONPAGES: u32 = 1;
const MM_SHMEMPAGES: u32 = 3;
const NR_MM_COUNTERS: u32 = 4;

struct Resolver<'a, B> {
    btf: &'a B,
    missing: Vec<String>,
}

impl<B: MemberLookup> Resolver<'_, B> {
    /// The offset of the first of `paths` this kernel has, or ABSENT (recorded as missing).
    fn first(&mut self, struct_name: &str, paths: &[&str]) -> Result<u32, BtfError> {
        for path in paths {
            match self.btf.member_offset(struct_name, path) {
                Ok(off) => return Ok(off),
                Err(BtfError::MemberNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.missing.push(format!("{struct_name}.{}", paths[0]));
        Ok(ABSENT)
    }

    fn task(&mut self, path: &str) -> Result<u32, BtfError> {
        self.first("task_struct", &[path])
    }

    fn signal(&mut self, path: &str) -> Result<u32, BtfError> {
        self.first("signal_struct", &[path])
    }
}

/// Fills the usage fields of `c`.
pub fn fill(c: &mut Config, btf: &impl MemberLookup) -> Result<UsageLayout, BtfError> {
    let mut r = Resolver {
        btf,
        missing: Vec::new(),
    };
    // The thread list for_each_thread() walks (include/linux/sched/signal.h, 3.14+).
    c.task_thread_node = r.task("thread_node")?;
    c.signal_thread_head = r.signal("thread_head")?;
    // seqlock_t wraps a seqcount_spinlock_t (5.10+) around the seqcount_t; older kernels
    // have the seqcount_t directly.
    c.signal_stats_seq = r.first(
        "signal_struct",
        &[
            "stats_lock.seqcount.seqcount.sequence",
            "stats_lock.seqcount.sequence",
        ],
    )?;

    // Per thread (include/linux/sched.h): the precise runtime of CFS's sched_entity, the
    // tick-sampled utime/stime (ns since 4.11), faults, context switches, and task I/O
    // accounting (include/linux/task_io_accounting.h, CONFIG_TASK_IO_ACCOUNTING).
    c.task_sum_exec_runtime = r.task("se.sum_exec_runtime")?;
    c.task_utime = r.task("utime")?;
    c.task_stime = r.task("stime")?;
    c.task_min_flt = r.task("min_flt")?;
    c.task_maj_flt = r.task("maj_flt")?;
    c.task_nvcsw = r.task("nvcsw")?;
    c.task_nivcsw = r.task("nivcsw")?;
    c.task_read_bytes = r.task("ioac.read_bytes")?;
    c.task_write_bytes = r.task("ioac.write_bytes")?;

    // The same folded into signal_struct by __exit_signal() (kernel/exit.c), and what
    // cputime_adjust() last reported (prev_cputime, absent with
    // CONFIG_VIRT_CPU_ACCOUNTING_NATIVE).
    c.signal_sum_sched_runtime = r.signal("sum_sched_runtime")?;
    c.signal_utime = r.signal("utime")?;
    c.signal_stime = r.signal("stime")?;
    c.signal_prev_utime = r.signal("prev_cputime.utime")?;
    c.signal_prev_stime = r.signal("prev_cputime.stime")?;
    c.signal_min_flt = r.signal("min_flt")?;
    c.signal_maj_flt = r.signal("maj_flt")?;
    c.signal_nvcsw = r.signal("nvcsw")?;
    c.signal_nivcsw = r.signal("nivcsw")?;
    c.signal_read_bytes = r.signal("ioac.read_bytes")?;
    c.signal_write_bytes = r.signal("ioac.write_bytes")?;
    c.signal_maxrss = r.signal("maxrss")?;
    // The reaped children's totals, as wait_task_zombie() (kernel/exit.c) adds them up.
    c.signal_cutime = r.signal("cutime")?;
    c.signal_cstime = r.signal("cstime")?;
    c.signal_cmin_flt = r.signal("cmin_flt")?;
    c.signal_cmaj_flt = r.signal("cmaj_flt")?;
    c.signal_cnvcsw = r.signal("cnvcsw")?;
    c.signal_cnivcsw = r.signal("cnivcsw")?;
    c.signal_cinblock = r.signal("cinblock")?;
    c.signal_coublock = r.signal("coublock")?;
    c.signal_cmaxrss = r.signal("cmaxrss")?;
    (c.signal_block_start, c.signal_block_len) = signal_block(c);

    // mm_struct (include/linux/mm_types.h).
    c.mm_hiwater_rss = r.first("mm_struct", &["hiwater_rss"])?;
    let rss_stat = rss_counters(&mut r)?;
    if let Some((_, [file, anon, shmem])) = rss_stat {
        c.mm_rss_file = file;
        c.mm_rss_anon = anon;
        c.mm_rss_shmem = shmem;
    }
    Ok(UsageLayout {
        rss_stat: rss_stat.map(|(layout, _)| layout),
        missing: r.missing,
    })
}

/// The span covering every signal_struct counter read at exit, if it fits in
/// [`USAGE_BLOCK_CAP`]: (start, len), or (0, 0).
fn signal_block(c: &Config) -> (u32, u32) {
    let offsets: Vec<u32> = [
        c.signal_sum_sched_runtime,
        c.signal_utime,
        c.signal_stime,
        c.signal_prev_utime,
        c.signal_prev_stime,
        c.signal_min_flt,
        c.signal_maj_flt,
        c.signal_nvcsw,
        c.signal_nivcsw,
        c.signal_read_bytes,
        c.signal_write_bytes,
        c.signal_maxrss,
        c.signal_cutime,
        c.signal_cstime,
        c.signal_cmin_flt,
        c.signal_cmaj_flt,
        c.signal_cnvcsw,
        c.signal_cnivcsw,
        c.signal_cinblock,
        c.signal_coublock,
        c.signal_cmaxrss,
    ]
    .into_iter()
    .filter(|&off| off != ABSENT)
    .collect();
    let (Some(&start), Some(&last)) = (offsets.iter().min(), offsets.iter().max()) else {
        return (0, 0);
    };
    // Every counter is 8 bytes (u64 or unsigned long on the 64-bit kernels we support).
    let len = last - start + 8;
    if len as usize <= USAGE_BLOCK_CAP {
        (start, len)
    } else {
        (0, 0)
    }
}

/// Offsets of the file, anon and shmem counters' values from the start of mm_struct.
///
/// 6.2 ("mm: convert mm's rss stats into percpu_counter") made `rss_stat` an array of
/// `struct percpu_counter`, whose `count` get_mm_counter() reads; before, it was a
/// `struct mm_rss_stat { atomic_long_t count[NR_MM_COUNTERS]; }`.
fn rss_counters<B: MemberLookup>(
    r: &mut Resolver<'_, B>,
) -> Result<Option<(&'static str, [u32; 3])>, BtfError> {
    let btf = r.btf;
    let base = match btf.member_offset("mm_struct", "rss_stat") {
        Ok(off) => off,
        Err(BtfError::MemberNotFound { .. }) => {
            r.missing.push("mm_struct.rss_stat".to_owned());
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let (layout, first, array) = match btf.array_member("mm_struct", "rss_stat")? {
        Some(array) => {
            let count = btf.member_offset("percpu_counter", "count")?;
            ("percpu_counter", base + count, array)
        }
        None => match btf.array_member("mm_rss_stat", "count")? {
            Some(array) => {
                let count = btf.member_offset("mm_rss_stat", "count")?;
                ("atomic_long", base + count, array)
            }
            None => {
                r.missing.push("mm_rss_stat.count[]".to_owned());
                return Ok(None);
            }
        },
    };
    if array.len != NR_MM_COUNTERS || (layout == "atomic_long" && array.elem_size != 8) {
        r.missing.push(format!(
            "mm_struct.rss_stat (expected {NR_MM_COUNTERS} counters, found {} of {} bytes)",
            array.len, array.elem_size
        ));
        return Ok(None);
    }
    let at = |i: u32| first + i * array.elem_size;
    Ok(Some((
        layout,
        [at(MM_FILEPAGES), at(MM_ANONPAGES), at(MM_SHMEMPAGES)],
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::kernel::btf::Array;

    /// Members by (struct, path); arrays by (struct, member).
    #[derive(Default)]
    struct Fake {
        members: HashMap<(&'static str, &'static str), u32>,
        arrays: HashMap<(&'static str, &'static str), Array>,
    }

    impl MemberLookup for Fake {
        fn enum_value(&self, _: &str, _: &str) -> Result<Option<u32>, BtfError> {
            Ok(None)
        }

        fn member_offset(&self, s: &str, m: &str) -> Result<u32, BtfError> {
            self.members
                .iter()
                .find(|((fs, fm), _)| *fs == s && *fm == m)
                .map(|(_, &off)| off)
                .ok_or_else(|| BtfError::MemberNotFound {
                    struct_name: s.to_owned(),
                    member: m.to_owned(),
                })
        }

        fn struct_size(&self, s: &str) -> Result<u32, BtfError> {
            Err(BtfError::StructNotFound(s.to_owned()))
        }

        fn array_member(&self, s: &str, m: &str) -> Result<Option<Array>, BtfError> {
            Ok(self
                .arrays
                .iter()
                .find(|((fs, fm), _)| *fs == s && *fm == m)
                .map(|(_, &a)| a))
        }
    }

    /// Every member at a distinct offset; `rss` chooses the rss_stat layout.
    fn kernel(rss: &str) -> Fake {
        let mut f = Fake::default();
        let members = [
            ("task_struct", "thread_node"),
            ("task_struct", "se.sum_exec_runtime"),
            ("task_struct", "utime"),
            ("task_struct", "stime"),
            ("task_struct", "min_flt"),
            ("task_struct", "maj_flt"),
            ("task_struct", "nvcsw"),
            ("task_struct", "nivcsw"),
            ("task_struct", "ioac.read_bytes"),
            ("task_struct", "ioac.write_bytes"),
            ("signal_struct", "thread_head"),
            ("signal_struct", "stats_lock.seqcount.seqcount.sequence"),
            ("signal_struct", "sum_sched_runtime"),
            ("signal_struct", "utime"),
            ("signal_struct", "stime"),
            ("signal_struct", "prev_cputime.utime"),
            ("signal_struct", "prev_cputime.stime"),
            ("signal_struct", "min_flt"),
            ("signal_struct", "maj_flt"),
            ("signal_struct", "nvcsw"),
            ("signal_struct", "nivcsw"),
            ("signal_struct", "ioac.read_bytes"),
            ("signal_struct", "ioac.write_bytes"),
            ("signal_struct", "maxrss"),
            ("signal_struct", "cutime"),
            ("signal_struct", "cstime"),
            ("signal_struct", "cmin_flt"),
            ("signal_struct", "cmaj_flt"),
            ("signal_struct", "cnvcsw"),
            ("signal_struct", "cnivcsw"),
            ("signal_struct", "cinblock"),
            ("signal_struct", "coublock"),
            ("signal_struct", "cmaxrss"),
            ("mm_struct", "hiwater_rss"),
        ];
        for (i, m) in members.into_iter().enumerate() {
            f.members.insert(m, 8 * i as u32 + 8);
        }
        f.members.insert(("mm_struct", "rss_stat"), 1000);
        match rss {
            // 6.2+: struct percpu_counter rss_stat[4], 40 bytes each, count at 8.
            "percpu" => {
                f.arrays.insert(
                    ("mm_struct", "rss_stat"),
                    Array {
                        elem_size: 40,
                        len: 4,
                    },
                );
                f.members.insert(("percpu_counter", "count"), 8);
            }
            // Before: struct mm_rss_stat { atomic_long_t count[4]; }.
            _ => {
                f.arrays.insert(
                    ("mm_rss_stat", "count"),
                    Array {
                        elem_size: 8,
                        len: 4,
                    },
                );
                f.members.insert(("mm_rss_stat", "count"), 0);
            }
        }
        f
    }

    #[test]
    fn percpu_counter_rss_stat_of_6_2_and_later() {
        let mut c = Config::absent();
        let layout = fill(&mut c, &kernel("percpu")).expect("fill");
        assert_eq!(layout.rss_stat, Some("percpu_counter"));
        assert!(layout.missing.is_empty(), "{layout:?}");
        // rss_stat[i].count: 1000 + 40 i + 8.
        assert_eq!(
            (c.mm_rss_file, c.mm_rss_anon, c.mm_rss_shmem),
            (1008, 1048, 1128)
        );
        assert_eq!(c.task_thread_node, 8);
        assert_eq!(c.signal_stats_seq, 8 * 11 + 8);
        assert_eq!(c.signal_cmaxrss, 8 * 32 + 8);
        // sum_sched_runtime (8 * 12 + 8) to cmaxrss: one block.
        assert_eq!((c.signal_block_start, c.signal_block_len), (104, 168));
    }

    #[test]
    fn atomic_rss_stat_before_6_2() {
        let mut c = Config::absent();
        let layout = fill(&mut c, &kernel("atomic")).expect("fill");
        assert_eq!(layout.rss_stat, Some("atomic_long"));
        assert_eq!(
            (c.mm_rss_file, c.mm_rss_anon, c.mm_rss_shmem),
            (1000, 1008, 1024)
        );
    }

    #[test]
    fn missing_members_are_absent_and_listed() {
        let mut f = kernel("percpu");
        f.members.remove(&("task_struct", "ioac.read_bytes"));
        f.members
            .remove(&("signal_struct", "stats_lock.seqcount.seqcount.sequence"));
        // An older seqlock_t: the seqcount_t directly.
        f.members
            .insert(("signal_struct", "stats_lock.seqcount.sequence"), 4000);
        f.arrays.insert(
            ("mm_struct", "rss_stat"),
            Array {
                elem_size: 40,
                len: 5,
            },
        );
        // A randomized layout: one counter far from the others, each read on its own.
        f.members.insert(("signal_struct", "cmaxrss"), 3000);
        let mut c = Config::absent();
        let layout = fill(&mut c, &f).expect("fill");
        assert_eq!((c.signal_block_start, c.signal_block_len), (0, 0));
        assert_eq!(c.task_read_bytes, ABSENT);
        assert_eq!(c.signal_stats_seq, 4000);
        assert_eq!(c.mm_rss_file, ABSENT);
        assert_eq!(layout.rss_stat, None);
        assert_eq!(layout.missing.len(), 2, "{layout:?}");
        assert!(layout.missing[0].contains("ioac.read_bytes"));
        assert!(layout.missing[1].contains("found 5 of 40 bytes"));
    }
}
