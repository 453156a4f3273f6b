//! The `usage` of exit records and the summary's `top`, from synthetic exits.

use super::*;
use crate::ingest::event::{CpuTimes, ExitUsage};
use crate::output::record::Usage;

const MIB: u64 = 1 << 20;

fn exit_using(t: u64, pid: u32, start_ns: u64, comm: &str, usage: ExitUsage) -> KernelEvent {
    let mut x = exit_ev(t, pid, 1, start_ns, comm, EXITED_0, false);
    x.usage = Some(Box::new(usage));
    KernelEvent::Exit(x)
}

fn kernel_usage(runtime_ms: u64, maxrss: u64, mm: Option<u64>) -> ExitUsage {
    ExitUsage {
        cpu: Some(CpuTimes {
            runtime: runtime_ms * MS,
            utime: 3 * MS,
            stime: MS,
            prev: Some((0, 0)),
        }),
        maxrss_bytes: Some(maxrss),
        mm_hiwater_bytes: mm,
        rest: Usage {
            minor_faults: Some(12),
            complete: true,
            ..Usage::default()
        },
    }
}

fn usage_of(out: &[Record], pid: u32) -> Usage {
    out.iter()
        .find_map(|r| match r {
            Record::Exit(x) if x.pid == pid => x.usage.clone(),
            _ => None,
        })
        .expect("an exit with usage")
}

#[test]
fn the_exit_record_carries_the_usage_with_the_cpu_split_and_the_own_peak() {
    let mut e = engine();
    let mut out = Vec::new();
    // Forked, never exec'd, no mm at the exit (before 6.16): maxrss is its own.
    e.handle(fork(S, 10, 1, S), &mut out);
    e.handle(
        exit_using(2 * S, 10, S, "bash", kernel_usage(400, 8 * MIB, None)),
        &mut out,
    );
    let u = usage_of(&out, 10);
    assert_eq!(
        (u.cpu_user_ns, u.cpu_system_ns),
        (Some(300 * MS), Some(100 * MS))
    );
    assert_eq!(u.max_rss_bytes, Some(8 * MIB));
    assert_eq!(u.rusage_max_rss_bytes, Some(8 * MIB));
    assert_eq!(u.minor_faults, Some(12));

    // Exec'd from a 500 MiB image and stayed below it: unknown without the mm.
    e.handle(fork(3 * S, 11, 1, 3 * S), &mut out);
    let mut ex = exec(3 * S + 1, 11, 1, 3 * S, "true");
    if let KernelEvent::Exec(x) = &mut ex {
        x.maxrss_bytes = Some(500 * MIB);
    }
    e.handle(ex, &mut out);
    e.handle(
        exit_using(4 * S, 11, 3 * S, "true", kernel_usage(1, 500 * MIB, None)),
        &mut out,
    );
    let u = usage_of(&out, 11);
    assert_eq!(u.max_rss_bytes, None);
    assert_eq!(u.rusage_max_rss_bytes, Some(500 * MIB));

    // Not seen starting, but the mm was readable (6.16+): its own peak.
    e.handle(
        exit_using(
            5 * S,
            12,
            S / 2,
            "old",
            kernel_usage(1, 90 * MIB, Some(70 * MIB)),
        ),
        &mut out,
    );
    assert_eq!(usage_of(&out, 12).max_rss_bytes, Some(70 * MIB));
}

#[test]
fn the_summary_lists_the_top_consumers_by_program() {
    let mut e = Engine::new(EngineConfig {
        zombie_threshold_ns: THRESHOLD,
        clock: CLOCK,
        top: 1,
    });
    let mut out = Vec::new();
    for (i, (comm, ms, mib)) in [("cc1", 300, 80), ("cc1", 200, 120), ("sh", 450, 2)]
        .into_iter()
        .enumerate()
    {
        let (pid, t) = (100 + i as u32, S * (1 + i as u64));
        e.handle(fork(t, pid, 1, t), &mut out);
        e.handle(exec(t + 1, pid, 1, t, comm), &mut out);
        e.handle(
            exit_using(
                t + 2,
                pid,
                t,
                comm,
                kernel_usage(ms, mib * MIB, Some(mib * MIB)),
            ),
            &mut out,
        );
    }
    // An exit the kernel gave no usage for is not a consumer.
    e.handle(fork(9 * S, 200, 1, 9 * S), &mut out);
    e.handle(exit(9 * S + 1, 200, 1, 9 * S, "quiet", EXITED_0), &mut out);
    e.summary(10 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("summary last")
    };
    assert_eq!(s.top.groups, 2);
    assert_eq!(s.top.by_cpu.len(), 1);
    let cc1 = &s.top.by_cpu[0];
    assert_eq!(
        (
            cc1.comm.as_str(),
            cc1.filename.as_deref(),
            cc1.processes,
            cc1.cpu_ns
        ),
        ("cc1", Some("/usr/bin/cc1"), 2, 500 * MS)
    );
    assert_eq!(s.top.by_memory[0].max_rss_bytes, Some(120 * MIB));
}
