//! What a process used, against the kernel's own answer: the rusage wait4() returns for the
//! child (proctrace-scenario `usage`, see proctrace-tests/src/usage.rs). The tolerances are the
//! README's ("Resource usage"): proctrace reads the counters when the last thread exits, the
//! parent's wait4 a little later, after the exit's own last work.
use std::{process::Command, time::Duration};

use serde_json::Value;

use crate::common::{boottime_ns, kernel_release, scenario_bin, tracer, Tracer};

crate::both_modes!(
    cpu_agrees_with_wait4,
    threads_are_summed_even_when_killed_running,
    memory_peaks_agree_with_wait4,
    storage_writes_agree_with_wait4,
    reaped_children_agree_with_getrusage
);

const MS: u64 = 1_000_000;
const MIB: u64 = 1 << 20;

/// Runs `proctrace-scenario usage ARGS`: the child's pid, its rusage from wait4, and for
/// `children` the child's own RUSAGE_CHILDREN.
fn oracle(args: &[&str]) -> Value {
    let out = Command::new(scenario_bin())
        .arg("usage")
        .args(args)
        .output()
        .expect("run proctrace-scenario usage");
    assert!(out.status.success(), "{args:?}: {out:?}");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

/// The `usage` of the traced exit of the oracle's child, and the oracle. A test runs all its
/// oracles under one proctrace: each run is judged by its own child's exit record only, and a
/// start costs ~2 s in an emulated kernel-matrix guest.
fn traced(t: &mut Tracer, args: &[&str]) -> (Value, Value) {
    let spawned_after_ns = boottime_ns();
    let oracle = oracle(args);
    let pid = u(&oracle, "pid");
    // This run's child only: its exit came after the run began (a pid of an earlier run of
    // the same trace cannot be taken for it).
    let exit = t
        .wait_for(Duration::from_secs(10), |r| {
            r["type"] == "exit"
                && r["pid"] == pid
                && r["ktime_ns"]
                    .as_u64()
                    .is_some_and(|ns| ns >= spawned_after_ns)
        })
        .unwrap_or_else(|| panic!("{args:?}: no exit record for {pid}"));
    let usage = exit["usage"].clone();
    assert!(usage.is_object(), "{args:?}: no usage in {exit}");
    (usage, oracle)
}

/// CPU: proctrace's total is the runtime when the last thread exited; wait4's comes later, by
/// at most one scheduler tick of the exiting thread plus the exit's own work (address space
/// teardown: `teardown_ns`). The split follows the same tick ratio. Slack: 10 ms + 3 %.
fn assert_cpu(usage: &Value, ru: &Value, teardown_ns: u64, what: &str) {
    let ours = (u(usage, "cpu_user_ns"), u(usage, "cpu_system_ns"));
    let theirs = (u(ru, "user_ns"), u(ru, "system_ns"));
    let (ours_total, theirs_total) = (ours.0 + ours.1, theirs.0 + theirs.1);
    // rusage is in µs, truncated: allow 2 µs above.
    assert!(
        ours_total <= theirs_total + 2_000,
        "{what}: proctrace's CPU {ours:?} above wait4's {theirs:?}"
    );
    // Shown with a failure (the harness captures it otherwise): the measured gap.
    println!(
        "{what}: proctrace {ours:?}, wait4 {theirs:?}: {} ns short",
        theirs_total as i64 - ours_total as i64
    );
    // Under emulation (the kernel matrix's qemu TCG guests) the exit's last steps take
    // several times longer: part of the slack is relative.
    let slack = 10 * MS + theirs_total * 3 / 100 + teardown_ns;
    assert!(
        theirs_total - ours_total.min(theirs_total) <= slack,
        "{what}: proctrace's CPU {ours:?} short of wait4's {theirs:?} by more than {slack} ns"
    );
    for (name, a, b) in [("user", ours.0, theirs.0), ("system", ours.1, theirs.1)] {
        assert!(
            a.abs_diff(b) <= slack + b / 20,
            "{what}: {name} {a} vs wait4's {b}"
        );
    }
    assert_eq!(usage["complete"], true, "{what}: {usage}");
}

/// The scenario did what it says: at least `min_ns` of CPU, most of it in `key` (under qemu
/// TCG the clock reads of a burn loop are syscalls, so only most).
fn assert_spent(usage: &Value, key: &str, min_ns: u64) {
    let total = u(usage, "cpu_user_ns") + u(usage, "cpu_system_ns");
    assert!(total >= min_ns, "{key}: {usage}");
    assert!(u(usage, key) >= total / 2, "{key}: {usage}");
}

fn cpu_agrees_with_wait4(mode: &str) {
    let mut t = tracer(mode);
    let (usage, o) = traced(&mut t, &["user", "300"]);
    assert_cpu(&usage, &o["rusage"], 0, "user");
    assert_spent(&usage, "cpu_user_ns", 200 * MS);
    let (usage, o) = traced(&mut t, &["system", "300"]);
    t.stop();
    assert_cpu(&usage, &o["rusage"], 0, "system");
    assert_spent(&usage, "cpu_system_ns", 200 * MS);
    // Faults and context switches: the same counters, read before the exit's last steps
    // (the final schedule() counts one voluntary switch more, kernel/sched/core.c).
    for ru_key in ["minflt", "majflt"] {
        let key = if ru_key == "minflt" {
            "minor_faults"
        } else {
            "major_faults"
        };
        let (a, b) = (u(&usage, key), u(&o["rusage"], ru_key));
        assert!(a <= b && b - a <= 2, "{key}: {a} vs wait4's {b}");
    }
    for (key, ru_key) in [
        ("voluntary_ctxt_switches", "nvcsw"),
        ("involuntary_ctxt_switches", "nivcsw"),
    ] {
        let (a, b) = (u(&usage, key), u(&o["rusage"], ru_key));
        assert!(a <= b && b - a <= 5, "{key}: {a} vs wait4's {b}");
    }
}

fn threads_are_summed_even_when_killed_running(mode: &str) {
    let mut t = tracer(mode);
    // Joined threads were released before the exit: their time is in signal_struct.
    let (usage, o) = traced(&mut t, &["threads", "3", "200"]);
    assert_cpu(&usage, &o["rusage"], 0, "joined threads");
    assert_spent(&usage, "cpu_user_ns", 300 * MS);
    // exit_group while two threads burn: they die with the process, some still exiting when
    // the last one reads the counters: the thread list walk counts them.
    let (usage, o) = traced(&mut t, &["threads-exit", "2", "300"]);
    assert_cpu(&usage, &o["rusage"], 0, "threads killed running");
    assert_spent(&usage, "cpu_user_ns", 400 * MS);
    // The main thread ended first: a zombie thread on the list, its time in no total yet.
    let (usage, o) = traced(&mut t, &["leader-first", "200"]);
    t.stop();
    assert_cpu(&usage, &o["rusage"], 0, "leader ended first");
    assert_spent(&usage, "cpu_user_ns", 300 * MS);
}

/// The kernel's peak is wait4's, exactly (both are signal->maxrss); the program's own is the
/// `mib` it touched plus the program itself (under 32 MiB).
fn assert_peaks(usage: &Value, oracle: &Value, mib: u64) {
    assert_eq!(
        u(usage, "rusage_max_rss_bytes"),
        u(&oracle["rusage"], "maxrss_bytes")
    );
    let own = u(usage, "max_rss_bytes");
    assert!((mib * MIB..(mib + 32) * MIB).contains(&own), "{usage}");
}

fn memory_peaks_agree_with_wait4(mode: &str) {
    // The sizes only need to stand well clear of the program itself (under 32 MiB, see
    // assert_peaks) and of /bin/true's own peak (under 16 MiB): every page touched is a
    // fault that takes long under emulation (the kernel-matrix guests), so no more than that.
    let mut t = tracer(mode);
    let (usage, o) = traced(&mut t, &["touch", "96"]);
    // Never exec'd: the forked copy's own peak, the 96 MiB plus the program itself.
    assert_peaks(&usage, &o, 96);
    // The teardown of 96 MiB comes after the exit tracepoint on 6.16+.
    assert_cpu(&usage, &o["rusage"], 40 * MS, "touch");

    // An exec'd program whose peak rises above what it inherited: its own on every kernel.
    let (usage, o) = traced(&mut t, &["exec-touch", "64"]);
    assert_peaks(&usage, &o, 64);

    // The trap: the parent touched 128 MiB, its child exec'd /bin/true. wait4 reports the
    // parent's image (exec_mmap() folded it in); proctrace's max_rss_bytes is true's own,
    // or null where the kernel cannot tell it apart (before 6.16, README).
    let (usage, o) = traced(&mut t, &["exec-after-touch", "128", "/bin/true"]);
    t.stop();
    let kernel = u(&usage, "rusage_max_rss_bytes");
    assert_eq!(kernel, u(&o["rusage"], "maxrss_bytes"));
    assert!(kernel >= 128 * MIB, "{usage}");
    if kernel_release() >= (6, 16) {
        let own = u(&usage, "max_rss_bytes");
        assert!(own < 16 * MIB, "true's own peak: {usage}");
    } else {
        assert_eq!(usage["max_rss_bytes"], Value::Null, "{usage}");
    }
}

fn storage_writes_agree_with_wait4(mode: &str) {
    let mut t = tracer(mode);
    let dir = std::env::temp_dir().join(format!("proctrace-usage-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("out");
    let (usage, o) = traced(&mut t, &["write", "50", file.to_str().expect("utf-8 path")]);
    t.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let written = u(&usage, "write_bytes");
    // ru_oublock is the same counter in 512-byte blocks (task_io_get_oublock()).
    assert_eq!(written / 512, u(&o["rusage"], "oublock"), "{usage}");
    // Storage I/O is counted when pages are dirtied for writeback
    // (mm/page-writeback.c folio_account_dirtied()); a tmpfs or ramfs has none (the kernel
    // matrix's guests run from an initramfs).
    if has_writeback(&std::env::temp_dir()) {
        assert!(written >= 50 * MIB, "{usage}");
    } else {
        assert_eq!(written, 0, "{usage}");
    }
    assert_eq!(
        u(&usage, "read_bytes") / 512,
        u(&o["rusage"], "inblock"),
        "{usage}"
    );
}

/// Whether `dir` is on a filesystem with writeback (not tmpfs or ramfs).
fn has_writeback(dir: &std::path::Path) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: an all-zero statfs is valid; statfs fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and pointer.
    assert_eq!(unsafe { libc::statfs(path.as_ptr(), &mut st) }, 0, "statfs");
    !matches!(st.f_type as i64, TMPFS_MAGIC | RAMFS_MAGIC)
}

fn reaped_children_agree_with_getrusage(mode: &str) {
    let mut t = tracer(mode);
    let (usage, o) = traced(&mut t, &["children", "200"]);
    t.stop();
    let report = &o["children"];
    // getrusage(RUSAGE_CHILDREN) returns signal->c* as they are: the same figures, in µs.
    assert_eq!(
        u(&usage, "children_cpu_user_ns") / 1000,
        u(report, "user_ns") / 1000
    );
    assert_eq!(
        u(&usage, "children_cpu_system_ns") / 1000,
        u(report, "system_ns") / 1000
    );
    let children = u(&usage, "children_cpu_user_ns") + u(&usage, "children_cpu_system_ns");
    assert!(children >= 150 * MS, "{usage}");
    for (key, ru_key) in [
        ("children_max_rss_bytes", "maxrss_bytes"),
        ("children_minor_faults", "minflt"),
        ("children_major_faults", "majflt"),
        ("children_voluntary_ctxt_switches", "nvcsw"),
        ("children_involuntary_ctxt_switches", "nivcsw"),
    ] {
        assert_eq!(
            u(&usage, key),
            u(report, ru_key),
            "{key}: {usage} vs {report}"
        );
    }
    assert_eq!(
        u(&usage, "children_write_bytes") / 512,
        u(report, "oublock")
    );
    // The child itself only waited: its own time is small, its total is wait4's.
    assert!(u(&usage, "cpu_user_ns") < 50 * MS, "{usage}");
}
