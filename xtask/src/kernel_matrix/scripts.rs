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

/// Test-binary arguments of the guests only: the container runtime tests (`containers::`,
/// real runc, crun and podman) need the runtimes, their state directories and a full root
/// filesystem, which the guests' busybox initramfs does not have. The host row runs them.
/// So do the metrics tests (`metrics::`): they scrape proctrace with a real Prometheus,
/// which the initramfs does not have either. The zombie diagnosis tests run in one hook mode
/// (`auto`) there: what they check of the kernel (/proc's state, wchan and signal masks,
/// the wait notes) does not depend on the mode, the classic wait hook runs on the host row,
/// and under emulation the classic half cost 90 s a kernel (on this project's machines).
/// The service tests (`service::`) need systemd-analyze, bash, man and groff.
pub const GUEST_SKIP: [&str; 8] = [
    "--skip",
    "containers::",
    "--skip",
    "metrics::",
    "--skip",
    "diagnosis::classic::",
    "--skip",
    "service::",
];

/// The report's note on [`GUEST_SKIP`].
pub const GUEST_SKIP_NOTE: &str =
    "the guests skip the container runtime tests (`--skip containers::`): their initramfs has \
     no runc, crun or podman; the metrics tests (`--skip metrics::`): no Prometheus there; and \
     the zombie diagnosis tests in classic mode (`--skip diagnosis::classic::`): the auto half \
     checks the kernel's side; and the service tests (`--skip service::`): no systemd-analyze, \
     man or groff there; the host row runs them all";

/// PID 1 of the guests.
pub fn init_script(run: &TestRun) -> String {
    let args: Vec<String> = GUEST_SKIP
        .iter()
        .copied()
        .chain(run.args.iter().map(String::as_str))
        .map(shell_quote)
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
             '--skip' 'containers::' '--skip' 'metrics::' '--skip' 'diagnosis::classic::' \
             '--skip' 'service::' '--skip' 'it'\\''s'\n"
        ));
        assert!(init.contains("export PROCTRACE_MATRIX_RETRY=0\n"));
        assert!(init.ends_with("poweroff -f\n"));
        assert_eq!(run.deviations().len(), 2);
        assert!(TestRun::default().deviations().is_empty());
    }
}
