//! An exit's usage figures, finished: the CPU split that getrusage() and wait4() report and
//! the peak resident set of the program the process last ran.

use crate::ingest::event::{CpuTimes, ExitUsage};
use crate::output::record::Usage;

/// What `signal->maxrss` holds besides the last image's own peak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Image {
    /// Seen only later (seeded, or first seen at its exit): unknown.
    #[default]
    Unknown,
    /// Forked while traced and never exec'd: a fresh signal_struct (kernel/fork.c
    /// copy_signal() zeroes maxrss), so its maxrss is the forked copy's own peak.
    Forked,
    /// Exec'd while traced; `maxrss_before` is `signal->maxrss` right after that exec, which
    /// exec_mmap() (fs/exec.c) raised to the replaced images' peak.
    Exec { maxrss_before: Option<u64> },
}

/// The `usage` of an exit record.
pub(super) fn finish(u: ExitUsage, image: Image) -> Usage {
    let (cpu_user_ns, cpu_system_ns) = match u.cpu {
        Some(cpu) => {
            let (user, system) = cputime_adjust(cpu);
            (Some(user), Some(system))
        }
        None => (None, None),
    };
    Usage {
        cpu_user_ns,
        cpu_system_ns,
        max_rss_bytes: last_image_peak(&u, image),
        rusage_max_rss_bytes: u.maxrss_bytes,
        ..u.rest
    }
}

/// The peak of the last image. From its mm when the exit tracepoint still sees it (6.16+:
/// exactly what do_exit() just folded into signal->maxrss, setmax_mm_hiwater_rss()). Before
/// 6.16 the mm is gone and only signal->maxrss is left, the maximum over every image: it is
/// the last image's own when the process never exec'd, or when it rose above what it was right
/// after the last exec. Otherwise the last image stayed below an earlier one, and by how much
/// cannot be known: `None`.
fn last_image_peak(u: &ExitUsage, image: Image) -> Option<u64> {
    if let Some(own) = u.mm_hiwater_bytes {
        return Some(own);
    }
    let maxrss = u.maxrss_bytes?;
    match image {
        Image::Forked => Some(maxrss),
        Image::Exec {
            maxrss_before: Some(before),
        } if maxrss > before => Some(maxrss),
        Image::Exec { .. } | Image::Unknown => None,
    }
}

/// kernel/sched/cputime.c cputime_adjust(): the precise runtime (`sum_exec_runtime`) split
/// between user and system in the ratio of the tick samples, never below what was last
/// reported (`prev_cputime`, so that /proc and getrusage() never see time go backwards).
/// Returns (user, system) in ns.
pub(super) fn cputime_adjust(cpu: CpuTimes) -> (u64, u64) {
    let rtime = cpu.runtime;
    let (prev_user, prev_system) = cpu.prev.unwrap_or((0, 0));
    if prev_user.saturating_add(prev_system) >= rtime {
        return (prev_user, prev_system);
    }
    let mut system = if cpu.stime == 0 {
        0
    } else if cpu.utime == 0 {
        rtime
    } else {
        // mul_u64_u64_div_u64(stime, rtime, stime + utime), exact, and at most rtime.
        let scaled = u128::from(cpu.stime) * u128::from(rtime)
            / (u128::from(cpu.stime) + u128::from(cpu.utime));
        u64::try_from(scaled).unwrap_or(rtime).min(rtime)
    };
    system = system.max(prev_system);
    let mut user = rtime - system.min(rtime);
    if user < prev_user {
        user = prev_user;
        system = rtime.saturating_sub(user);
    }
    (user, system)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn cpu(runtime: u64, utime: u64, stime: u64, prev: Option<(u64, u64)>) -> CpuTimes {
        CpuTimes {
            runtime,
            utime,
            stime,
            prev,
        }
    }

    #[test]
    fn runtime_is_split_in_the_ratio_of_the_ticks() {
        // 300 ms of runtime, 3 user ticks for 1 system tick.
        assert_eq!(
            cputime_adjust(cpu(300 * MS, 12 * MS, 4 * MS, Some((0, 0)))),
            (225 * MS, 75 * MS)
        );
    }

    #[test]
    fn without_ticks_of_one_kind_all_runtime_goes_to_the_other() {
        assert_eq!(cputime_adjust(cpu(7 * MS, 0, 0, None)), (7 * MS, 0));
        assert_eq!(cputime_adjust(cpu(7 * MS, 4 * MS, 0, None)), (7 * MS, 0));
        assert_eq!(cputime_adjust(cpu(7 * MS, 0, 4 * MS, None)), (0, 7 * MS));
    }

    #[test]
    fn never_below_what_was_reported_before() {
        // Earlier reads reported 50 ms of system time; the ratio now says 25.
        assert_eq!(
            cputime_adjust(cpu(100 * MS, 12 * MS, 4 * MS, Some((10 * MS, 50 * MS)))),
            (50 * MS, 50 * MS)
        );
        // Earlier user time above what the ratio leaves: user kept, system gets the rest.
        assert_eq!(
            cputime_adjust(cpu(100 * MS, 4 * MS, 12 * MS, Some((40 * MS, 0)))),
            (40 * MS, 60 * MS)
        );
        // Nothing new since: the previous figures.
        assert_eq!(
            cputime_adjust(cpu(100 * MS, 4 * MS, 12 * MS, Some((70 * MS, 30 * MS)))),
            (70 * MS, 30 * MS)
        );
    }

    #[test]
    fn a_huge_runtime_does_not_overflow() {
        let (user, system) = cputime_adjust(cpu(u64::MAX - 1, u64::MAX / 2, u64::MAX / 2, None));
        assert_eq!(user + system, u64::MAX - 1);
    }

    fn exit(maxrss: Option<u64>, mm: Option<u64>) -> ExitUsage {
        ExitUsage {
            maxrss_bytes: maxrss,
            mm_hiwater_bytes: mm,
            ..ExitUsage::default()
        }
    }

    #[test]
    fn the_last_image_peak_comes_from_its_mm_when_the_kernel_shows_it() {
        // A small program exec'd from a 500 MiB parent (6.16+): its own 2 MiB, not the 500.
        let image = Image::Exec {
            maxrss_before: Some(500 << 20),
        };
        let u = finish(exit(Some(500 << 20), Some(2 << 20)), image);
        assert_eq!(u.max_rss_bytes, Some(2 << 20));
        assert_eq!(u.rusage_max_rss_bytes, Some(500 << 20));
    }

    #[test]
    fn without_the_mm_the_peak_is_told_apart_only_when_it_can_be() {
        let after_exec = |before| Image::Exec {
            maxrss_before: Some(before),
        };
        // Rose above the inherited peak: that rise is the new image's.
        assert_eq!(
            last_image_peak(&exit(Some(300), None), after_exec(100)),
            Some(300)
        );
        // Stayed below it: unknown, never the inherited figure.
        assert_eq!(
            last_image_peak(&exit(Some(500), None), after_exec(500)),
            None
        );
        assert_eq!(
            last_image_peak(
                &exit(Some(500), None),
                Image::Exec {
                    maxrss_before: None
                }
            ),
            None
        );
        // Never exec'd: the forked copy's own.
        assert_eq!(
            last_image_peak(&exit(Some(80), None), Image::Forked),
            Some(80)
        );
        assert_eq!(last_image_peak(&exit(Some(80), None), Image::Unknown), None);
        assert_eq!(last_image_peak(&exit(None, None), Image::Forked), None);
    }
}
