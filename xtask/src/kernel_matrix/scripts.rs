//! What runs the tests, in the guests and on the host: run-tests.sh, the guests' /init,
//! and the options of the test run they pass on.

use super::initramfs::GUEST_DIR;

/// Prints the `@@matrix` lines the report is built from, runs proctrace once for its start
/// record, then the test binary (extra arguments are passed on), then each test that failed
/// once more on its own unless PROCTRACE_MATRIX_RETRY=0. Runs in the guests (from /init)
/// and on the host, with busybox or the host's tools: POSIX sh, awk, head, mktemp, sed, tee,
/// uname. Expects PROCTRACE_BIN, PROCTRACE_SCENARIO_BIN and PROCTRACE_TESTS in the
/// environment.
pub const RUN_TESTS_SH: &str = r#"#!/bin/sh
# kernel-matrix: one run of the privileged tests on this kernel (see xtask/src/kernel_matrix).
echo "@@matrix uname $(uname -r)"
out=$(mktemp) err=$(mktemp) log=$(mktemp)
"$PROCTRACE_BIN" --duration 1s >"$out" 2>"$err"
echo "@@matrix start-exit $?"
echo "@@matrix start $(head -n 1 "$out")"
sed 's/^/@@matrix start-stderr /' "$err"
echo "@@matrix tests-begin"
# --report-time (per-test durations) is unstable in libtest; RUSTC_BOOTSTRAP lets the test
# binary accept it at run time.
tests() {
    RUSTC_BOOTSTRAP=1 "$PROCTRACE_TESTS" --test-threads=1 -Z unstable-options --report-time "$@" 2>&1
}
{
    tests "$@"
    echo "@@matrix tests-exit $?"
} | tee "$log"
if [ "${PROCTRACE_MATRIX_RETRY:-1}" != 0 ]; then
    # The names libtest lists under its last "failures:" heading.
    failed=$(awk '/^failures:$/ { names = ""; list = 1; next }
                  /^test result:/ { list = 0 }
                  list && /^    [^ ]/ { names = names " " $1 }
                  END { print names }' "$log")
    for name in $failed; do
        echo "@@matrix retry $name"
        tests --exact "$name"
        echo "@@matrix retry-exit $?"
    done
fi
rm -f "$out" "$err" "$log"
"#;

/// How the test binary runs (in the guests and on the host).
#[derive(Debug, Default)]
pub struct TestRun {
    /// Extra arguments (a name filter, `--skip NAME`).
    pub args: Vec<String>,
    /// Extra environment variables (tests' own knobs).
    pub env: Vec<(String, String)>,
    /// Run each failed test once more.
    pub retry: bool,
}

impl TestRun {
    /// What differs from a plain run of the whole suite, for the report.
    pub fn deviations(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.args.is_empty() {
            notes.push(format!(
                "the test binary ran with extra arguments {:?}: not the full suite",
                self.args
            ));
        }
        for (key, value) in &self.env {
            notes.push(format!("the tests ran with {key}={value}"));
        }
        notes
    }
}

/// Tests the guests skip, each with the reason; the host row (and `cargo xtask test`) runs
/// them all. A guest is an emulated kernel: what it must run is every test whose outcome
/// can depend on the kernel (hooks, tracepoint layouts, struct offsets, /proc). Tests of
/// proctrace's userspace alone (its output queue, its stderr, the flags that shape records
/// after the engine) give the same answer on every kernel, and under emulation they cost
/// minutes a kernel (on this project's 2-core machines, CI ran 72 minutes with them).
pub const GUEST_SKIPS: &[(&str, &str)] = &[
    (
        "containers::",
        "the container runtime tests: the initramfs has no runc, crun or podman",
    ),
    ("metrics::", "the metrics tests: no Prometheus there"),
    (
        "diagnosis::classic::",
        "the zombie diagnosis tests in classic mode: the auto half checks the kernel's side \
         (/proc state, wchan, signal masks, wait notes)",
    ),
    (
        "startup::classic::",
        "the start-up seam in classic mode: the attach order is the same code in both modes, \
         the auto half checks it on each kernel",
    ),
    (
        "procfs::classic::tiny_ring_buffer_loses_then_heals",
        "healing after losses in classic mode: the auto half checks the kernel's loss counts",
    ),
    (
        "errors::a_ring_buffer_too_big_for_the_cgroup",
        "a map too big for proctrace's memory cgroup: the remedy is userspace's, and before \
         5.11 (the 5.10 guest) the kernel charges maps to RLIMIT_MEMLOCK, not to the cgroup",
    ),
    (
        "service::",
        "the service pieces: the initramfs has no systemd-analyze, bash, man or groff",
    ),
    (
        "text::",
        "the human-readable view: records rendered in userspace",
    ),
    (
        "output_file::",
        "`--output FILE`, its reopen and its write errors: userspace only",
    ),
    (
        "filters::",
        "`--pid`, `--tree`, `--comm`, …: applied in userspace to the records after the engine",
    ),
    (
        "stall::",
        "a stalled reader of stdout: proctrace's output queue only",
    ),
    (
        "edges::stderr_is_one_line_by_default",
        "the diagnostics' verbosity: userspace only",
    ),
    (
        "edges::unwritable_stderr_does_not_stop_tracing",
        "an unwritable stderr: userspace only",
    ),
];

/// The guests' `--skip` arguments, from [`GUEST_SKIPS`].
fn guest_skip_args() -> impl Iterator<Item = &'static str> {
    GUEST_SKIPS
        .iter()
        .flat_map(|&(filter, _)| ["--skip", filter])
}

/// The report's note on [`GUEST_SKIPS`].
pub fn guest_skip_note() -> String {
    let skips: Vec<String> = GUEST_SKIPS
        .iter()
        .map(|(filter, why)| format!("`{filter}` ({why})"))
        .collect();
    format!(
        "the guests skip {}; on the host, `cargo xtask test` (and a host row) runs them all",
        skips.join("; ")
    )
}

/// PID 1 of the guests.
pub fn init_script(run: &TestRun) -> String {
    let args: Vec<String> = guest_skip_args()
        .map(shell_quote)
        .chain(run.args.iter().map(|arg| shell_quote(arg)))
        .collect();
    let env: String = run
        .env
        .iter()
        .map(|(key, value)| format!("export {key}={}\n", shell_quote(value)))
        .collect();
    format!(
        r#"#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Keep kernel messages off the console while the tests print; they are dumped at the end.
dmesg -n 1
echo "@@matrix booted $(cut -d ' ' -f 1 /proc/uptime)"
export PROCTRACE_BIN={dir}/proctrace
export PROCTRACE_SCENARIO_BIN={dir}/proctrace-scenario
export PROCTRACE_TESTS={dir}/privileged
export PROCTRACE_MATRIX_RETRY={retry}
{env}sh {dir}/run-tests.sh {args}
echo "@@matrix uptime $(cut -d ' ' -f 1 /proc/uptime)"
echo "@@matrix dmesg-begin"
dmesg
# The layouts proctrace read (README, Supported kernels), kept in the log, not echoed.
for event in sched/sched_process_fork sched/sched_process_exit; do
    echo "@@matrix format $event"
    cat /sys/kernel/tracing/events/$event/format
done
echo "@@matrix dmesg-end"
echo "@@matrix done"
poweroff -f
"#,
        dir = GUEST_DIR,
        args = args.join(" "),
        retry = u8::from(run.retry),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_passes_test_arguments_quoted() {
        let run = TestRun {
            args: vec!["--skip".into(), "it's".into()],
            env: vec![("PROCTRACE_CHURN_SECS".into(), "20".into())],
            retry: false,
        };
        let init = init_script(&run);
        assert!(init.contains(
            "export PROCTRACE_CHURN_SECS='20'\nsh /opt/proctrace/run-tests.sh \
             '--skip' 'containers::' '--skip' 'metrics::' '--skip' 'diagnosis::classic::' "
        ));
        assert!(
            init.contains("'--skip' 'stall::' "),
            "every GUEST_SKIPS filter is passed"
        );
        assert!(
            init.contains("'--skip' 'it'\\''s'\n"),
            "then the caller's arguments"
        );
        assert_eq!(
            init.matches("'--skip'").count(),
            GUEST_SKIPS.len() + 1,
            "{init}"
        );
        let note = guest_skip_note();
        for (filter, _) in GUEST_SKIPS {
            assert!(note.contains(&format!("`{filter}` (")), "{note}");
        }
        assert!(init.contains("export PROCTRACE_MATRIX_RETRY=0\n"));
        assert!(init.ends_with("poweroff -f\n"));
        assert_eq!(run.deviations().len(), 2);
        assert!(TestRun::default().deviations().is_empty());
    }
}
