//! `cargo xtask kernel-matrix`: the privileged test suite on Debian's 6.1, 6.12 and 7.3
//! cloud kernels under qemu (TCG), and on the host.
//!
//! 1. setup (eBPF toolchain) and qemu (`qemu-system-x86` from bookworm-backports when
//!    missing);
//! 2. a static build of proctrace, proctrace-scenario and the `privileged` test binary
//!    (`-C target-feature=+crt-static`, in target/matrix so the host build cache stays);
//! 3. the kernels: each line's meta package resolved in a private apt configuration, the
//!    versioned packages downloaded and unpacked (never installed), vmlinuz kept in the cache
//!    (`$XDG_CACHE_HOME/proctrace/kernels` or `~/.cache/proctrace/kernels`) under the package
//!    name and version, so a second run downloads nothing;
//! 4. one initramfs (static busybox from `busybox-static`, the three binaries, /init);
//! 5. each kernel booted under qemu: /init mounts proc, sysfs, devtmpfs, tracefs, debugfs,
//!    bpffs, cgroup2, prints `uname -r`, runs `proctrace --duration 1s` once for its start
//!    record, runs the tests with `--test-threads=1`, runs each failed test once more on its
//!    own (a test that then passes counts as passed and is listed as such; `--no-retry`) and
//!    powers off; the serial console is kept in target/matrix/logs/<kernel>.log;
//! 6. the same test script on the host with the same binaries (the `host` row);
//! 7. a table (also in target/matrix/summary.md): kernel, `uname -r`, hooks, passed, failed,
//!    result; then a closing `kernel-matrix: N passed, M failed` line. Any failure → exit 1.

mod apt;
mod initramfs;
mod report;

use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _, Result};

use crate::{
    cmd::{self, note, Reported},
    setup,
};
use apt::AptRoot;
use report::{Row, RunLog};

#[derive(clap::Args)]
pub struct Options {
    /// Only this kernel (repeatable): 6.1, 6.12, 7.3
    #[arg(long = "kernel", value_name = "LABEL")]
    kernels: Vec<String>,
    /// Skip the host row
    #[arg(long)]
    no_host: bool,
    /// Refresh the package lists even when they are less than a day old
    #[arg(long)]
    refresh: bool,
    /// Do not run a failed test once more (by default a test that fails and then passes on
    /// its own counts as passed, and the report lists it)
    #[arg(long)]
    no_retry: bool,
    /// Give up on one kernel's run after this many seconds
    #[arg(long, default_value_t = 1200, value_name = "SECONDS")]
    timeout: u64,
    /// Set an environment variable for the tests (repeatable; e.g. a test's own duration
    /// knob); the report lists it
    #[arg(long = "test-env", value_name = "KEY=VALUE", value_parser = parse_env)]
    test_env: Vec<(String, String)>,
    /// Extra arguments for the test binary (e.g. a name filter or `--skip NAME`); the report
    /// says the suite was not run in full
    #[arg(last = true)]
    test_args: Vec<String>,
}

/// One kernel line of the matrix.
struct KernelLine {
    label: &'static str,
    /// Meta package that follows the line's newest build.
    meta: &'static str,
    suite: &'static str,
    /// Versions of the line start with this; if the meta package has moved on, the newest
    /// `linux-image-<series>*-<FLAVOUR>` in the suite is taken instead.
    series: &'static str,
}

const FLAVOUR: &str = "cloud-amd64";

const KERNELS: [KernelLine; 3] = [
    KernelLine {
        label: "6.1",
        meta: "linux-image-cloud-amd64",
        suite: "bookworm-security",
        series: "6.1.",
    },
    KernelLine {
        label: "6.12",
        meta: "linux-image-6.12-cloud-amd64",
        suite: "bookworm-security",
        series: "6.12.",
    },
    KernelLine {
        label: "7.3",
        // trixie-backports' meta package; bookworm's has the same name (hence the suite).
        meta: "linux-image-cloud-amd64",
        suite: "trixie-backports",
        series: "7.3.",
    },
];

/// Suites of the private apt configuration for kernels and busybox-static.
const KERNEL_SUITES: [&str; 3] = ["bookworm", "bookworm-security", "trixie-backports"];
/// Suites for installing qemu from bookworm-backports (trixie-backports stays out).
const QEMU_SUITES: [&str; 4] = [
    "bookworm",
    "bookworm-updates",
    "bookworm-security",
    "bookworm-backports",
];
const QEMU: &str = "qemu-system-x86_64";
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub fn run(opts: Options) -> Result<()> {
    let lines: Vec<&KernelLine> = if opts.kernels.is_empty() {
        KERNELS.iter().collect()
    } else {
        opts.kernels
            .iter()
            .map(|label| {
                KERNELS.iter().find(|k| k.label == label).with_context(|| {
                    let known: Vec<&str> = KERNELS.iter().map(|k| k.label).collect();
                    format!("unknown kernel {label:?} (known: {})", known.join(", "))
                })
            })
            .collect::<Result<_>>()?
    };
    if !cmd::is_root() {
        note("not root: installing qemu and the host row's tests need root");
    }
    let started = Instant::now();
    setup::ensure()?;
    let cache = cache_dir()?;
    ensure_qemu(&cache)?;
    let matrix = cmd::target_dir().join("matrix");
    let logs = matrix.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let bins = build_static(&matrix)?;

    let apt = AptRoot::new(cache.join("apt-kernels"), &KERNEL_SUITES)?;
    update_lists(&apt, opts.refresh)?;
    let busybox = fetch_busybox(&apt, &cache)?;
    let mut kernels = Vec::new();
    for line in &lines {
        let kernel = fetch_kernel(&apt, &cache, line)
            .with_context(|| format!("getting the {} kernel", line.label));
        kernels.push((line.label, kernel));
    }

    let run = initramfs::TestRun {
        args: opts.test_args,
        env: opts.test_env,
        retry: !opts.no_retry,
    };
    let initrd = matrix.join("initramfs.cpio");
    let applets = cmd::stdout_of(Command::new(&busybox).arg("--list-full"))?;
    initramfs::write(
        &initrd,
        &initramfs::Contents {
            busybox: &busybox,
            applets: &applets,
            proctrace: &bins.proctrace,
            scenario: &bins.scenario,
            tests: &bins.tests,
            run: &run,
        },
    )?;
    note(format_args!(
        "initramfs {} ({} MiB)",
        initrd.display(),
        fs::metadata(&initrd)?.len() >> 20
    ));

    let timeout = Duration::from_secs(opts.timeout);
    let mut rows = Vec::new();
    if !opts.no_host {
        rows.push(host_row(&matrix, &bins, &run, timeout)?);
    }
    for (label, kernel) in kernels {
        rows.push(match kernel {
            Ok(vmlinuz) => guest_row(label, &vmlinuz, &initrd, &logs, timeout),
            Err(err) => Row {
                kernel: label.to_owned(),
                log: RunLog::default(),
                wall: Duration::ZERO,
                timed_out: false,
                error: Some(format!("{err:#}")),
                log_path: "-".into(),
            },
        });
    }
    conclude(&rows, &run, &matrix, started.elapsed())
}

/// The same script as in the guests, on the host, with the same binaries.
fn host_row(
    matrix: &Path,
    bins: &StaticBins,
    run: &initramfs::TestRun,
    timeout: Duration,
) -> Result<Row> {
    let script = matrix.join("run-tests.sh");
    fs::write(&script, initramfs::RUN_TESTS_SH)
        .with_context(|| format!("writing {}", script.display()))?;
    let mut command = Command::new("sh");
    command
        .arg(&script)
        .args(&run.args)
        .envs(run.env.iter().map(|(key, value)| (key, value)))
        .env("PROCTRACE_BIN", &bins.proctrace)
        .env("PROCTRACE_SCENARIO_BIN", &bins.scenario)
        .env("PROCTRACE_TESTS", &bins.tests)
        .env("PROCTRACE_MATRIX_RETRY", if run.retry { "1" } else { "0" });
    Ok(run_logged("host", command, &matrix.join("logs"), timeout))
}

fn guest_row(label: &str, vmlinuz: &Path, initrd: &Path, logs: &Path, timeout: Duration) -> Row {
    let mut command = Command::new(QEMU);
    command.args(qemu_args(vmlinuz, initrd));
    let row = run_logged(label, command, logs, timeout);
    // The kernel that booted must be the one asked for.
    let expected = fs::read_to_string(vmlinuz.with_file_name("release")).unwrap_or_default();
    if let Some(uname) = row.log.uname.as_deref().filter(|u| *u != expected.trim()) {
        note(format_args!(
            "warning: {label} booted {uname}, its package says {}",
            expected.trim()
        ));
    }
    row
}

/// Print and save the table, then the closing line: tests over all rows, as CI reads it.
fn conclude(rows: &[Row], run: &initramfs::TestRun, matrix: &Path, took: Duration) -> Result<()> {
    let table = report::render(rows, &run.deviations());
    let summary = matrix.join("summary.md");
    fs::write(&summary, &table).with_context(|| format!("writing {}", summary.display()))?;
    eprintln!("\n{table}");
    let failed_rows: Vec<&str> = rows
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.kernel.as_str())
        .collect();
    let passed: usize = rows.iter().map(|r| r.log.passed_tests()).sum();
    let failed: usize = rows.iter().map(|r| r.log.failed().len()).sum();
    let took = took.as_secs();
    if failed_rows.is_empty() {
        note(format_args!(
            "kernel-matrix: PASSED ({} rows, {took} s; table in {})",
            rows.len(),
            summary.display()
        ));
    } else {
        note(format_args!(
            "kernel-matrix: FAILED on {} ({took} s; logs in {})",
            failed_rows.join(", "),
            matrix.join("logs").display()
        ));
    }
    eprintln!("kernel-matrix: {passed} passed, {failed} failed");
    if failed_rows.is_empty() {
        Ok(())
    } else {
        Err(Reported { code: 1 }.into())
    }
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value))
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{s:?}: expected KEY=VALUE")),
    }
}

fn qemu_args(vmlinuz: &Path, initrd: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "-nodefaults",
        "-nic",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-display",
        "none",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-m",
        "2G",
        "-smp",
        "2",
        "-append",
        "console=ttyS0 panic=-1 rdinit=/init",
        "-kernel",
    ]
    .map(Into::into)
    .to_vec();
    args.push(vmlinuz.into());
    args.push("-initrd".into());
    args.push(initrd.into());
    args
}

/// `$XDG_CACHE_HOME/proctrace/kernels` or `~/.cache/proctrace/kernels`.
fn cache_dir() -> Result<PathBuf> {
    let dir = crate::setup::cache_dir()?.join("kernels");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Install qemu-system-x86 if `qemu-system-x86_64` does not run: from bookworm-backports
/// (qemu 10, which keeps the machines' qemu-utils 10) through a private apt configuration on
/// bookworm, from the host's own sources elsewhere.
fn ensure_qemu(cache: &Path) -> Result<()> {
    if let Some(out) = cmd::probe(Command::new(QEMU).arg("--version")) {
        if out.status.success() {
            let version = String::from_utf8_lossy(&out.stdout);
            note(format_args!(
                "qemu: {}",
                version.lines().next().unwrap_or("?")
            ));
            return Ok(());
        }
    }
    ensure!(
        cmd::is_root(),
        "{QEMU} is missing and installing qemu-system-x86 needs root"
    );
    match apt::host_codename().as_deref() {
        Some("bookworm") => {
            note("qemu missing: installing qemu-system-x86 from bookworm-backports");
            let apt = AptRoot::new(cache.join("apt-qemu"), &QEMU_SUITES)?;
            apt.update(false)?;
            apt.install("bookworm-backports", &["qemu-system-x86"])?;
        }
        other => {
            note(format_args!(
                "qemu missing: installing qemu-system-x86 from the host's sources ({})",
                other.unwrap_or("unknown release")
            ));
            cmd::run(Command::new("apt-get").args(["-q", "update"]))?;
            cmd::run(
                Command::new("apt-get")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .args(["-q", "-y", "--no-install-recommends", "install"])
                    .arg("qemu-system-x86"),
            )?;
        }
    }
    cmd::run(Command::new(QEMU).arg("--version")).context("qemu after installing it")
}

/// Refresh the lists when stale; with old lists and no network, go on with the old ones.
fn update_lists(apt: &AptRoot, force: bool) -> Result<()> {
    match apt.update(force) {
        Ok(()) => Ok(()),
        Err(err) if apt.show("busybox-static").is_ok() => {
            note(format_args!(
                "warning: {err:#}; going on with the package lists already there"
            ));
            Ok(())
        }
        Err(err) => Err(err),
    }
}

struct StaticBins {
    proctrace: PathBuf,
    scenario: PathBuf,
    tests: PathBuf,
}

/// `cargo test --no-run` of the privileged tests builds the two binaries too (integration
/// tests get them); its JSON messages name all three executables.
fn build_static(matrix: &Path) -> Result<StaticBins> {
    let mut cargo = cmd::cargo();
    cargo
        .args(["test", "-p", "tracer", "--test", "privileged", "--no-run"])
        .args(["--release", "--target", TARGET, "--target-dir"])
        .arg(matrix)
        .arg("--message-format=json-render-diagnostics")
        // With --target, RUSTFLAGS reach only the target's crates, not build scripts;
        // tracer's build.rs sets the eBPF build's own flags (CARGO_ENCODED_RUSTFLAGS).
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=debuginfo",
        )
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(Stdio::piped());
    cmd::announce(&cargo);
    let mut child = cargo.spawn().context("starting cargo")?;
    let mut messages = String::new();
    child
        .stdout
        .take()
        .context("cargo stdout")?
        .read_to_string(&mut messages)?;
    let status = child.wait()?;
    if !status.success() {
        return Err(cmd::CommandFailed {
            command: cmd::display(&cargo),
            code: status.code(),
            stderr: String::new(),
        }
        .into());
    }
    let bins = executables(&messages)?;
    for path in [&bins.proctrace, &bins.scenario, &bins.tests] {
        ensure!(
            initramfs::is_static_elf(path)?,
            "{} is dynamically linked; the guests have no libc",
            path.display()
        );
    }
    note(format_args!(
        "static binaries: {}, {}, {}",
        bins.proctrace.display(),
        bins.scenario.display(),
        bins.tests.display()
    ));
    Ok(bins)
}

/// The executables of cargo's `compiler-artifact` messages.
fn executables(messages: &str) -> Result<StaticBins> {
    let (mut proctrace, mut scenario, mut tests) = (None, None, None);
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let kinds = msg["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has_kind = |kind: &str| kinds.iter().any(|k| k == kind);
        let slot = match msg["target"]["name"].as_str() {
            Some("proctrace") if has_kind("bin") => &mut proctrace,
            Some("proctrace-scenario") if has_kind("bin") => &mut scenario,
            Some("privileged") if has_kind("test") => &mut tests,
            _ => continue,
        };
        *slot = Some(PathBuf::from(exe));
    }
    let need = |path: Option<PathBuf>, what: &str| {
        path.with_context(|| format!("cargo did not report the {what} executable"))
    };
    Ok(StaticBins {
        proctrace: need(proctrace, "proctrace")?,
        scenario: need(scenario, "proctrace-scenario")?,
        tests: need(tests, "privileged test")?,
    })
}

/// busybox from busybox-static (downloaded and unpacked, not installed), cached by version.
fn fetch_busybox(apt: &AptRoot, cache: &Path) -> Result<PathBuf> {
    let policy = cmd::stdout_of(apt.command("apt-cache").args(["policy", "busybox-static"]))?;
    let version = apt::policy_candidate(&policy).context("no candidate for busybox-static")?;
    let dir = cache.join("busybox").join(version.replace(':', "%3a"));
    let busybox = dir.join("busybox");
    if busybox.is_file() {
        note(format_args!("busybox-static {version}: cached"));
        return Ok(busybox);
    }
    let package = apt::Package::from_stanza(&apt.show_one("busybox-static", &version)?)?;
    let downloads = cache.join("downloads");
    let deb = apt.download(&package, &downloads)?;
    let unpacked = downloads.join("unpacked");
    apt::unpack(&deb, &unpacked)?;
    let found = ["bin/busybox", "usr/bin/busybox"]
        .iter()
        .map(|p| unpacked.join(p))
        .find(|p| p.is_file())
        .with_context(|| format!("no busybox binary in {}", deb.display()))?;
    ensure!(
        initramfs::is_static_elf(&found)?,
        "{} is not static",
        found.display()
    );
    install_file(&found, &busybox)?;
    fs::remove_dir_all(&unpacked)?;
    fs::remove_file(&deb)?;
    Ok(busybox)
}

/// The line's vmlinuz, from the cache or downloaded: `<cache>/<package>_<version>/vmlinuz`
/// with the kernel release (what `uname -r` should say) in `release` beside it.
fn fetch_kernel(apt: &AptRoot, cache: &Path, line: &KernelLine) -> Result<PathBuf> {
    let spec = format!("{}/{}", line.meta, line.suite);
    let mut top = apt::single(apt.show(&spec)?, &spec)?;
    let version = top.get("Version").cloned().unwrap_or_default();
    if !version.starts_with(line.series) {
        let names = apt.pkgnames(&format!("linux-image-{}", line.series))?;
        let name = apt::newest_in_series(&names, line.series, FLAVOUR).with_context(|| {
            format!(
                "{spec} is now {version}, and there is no linux-image-{}*-{FLAVOUR}",
                line.series
            )
        })?;
        note(format_args!(
            "{spec} is now {version}; using {name}, the newest of the {} line",
            line.label
        ));
        let spec = format!("{name}/{}", line.suite);
        top = apt::single(apt.show(&spec)?, &spec)?;
    }
    let top_package = apt::Package::from_stanza(&top)?;
    let dir = cache.join(format!(
        "{}_{}",
        top_package.name,
        top_package.version.replace(':', "%3a")
    ));
    let vmlinuz = dir.join("vmlinuz");
    if vmlinuz.is_file() && dir.join("release").is_file() {
        note(format_args!(
            "{}: {} {} cached in {}",
            line.label,
            top_package.name,
            top_package.version,
            dir.display()
        ));
        return Ok(vmlinuz);
    }
    let packages = apt::kernel_closure(&top, |name, version| apt.show_one(name, version))?;
    ensure!(
        !packages.is_empty(),
        "{spec} leads to no versioned kernel package"
    );
    let downloads = cache.join("downloads");
    let unpacked = downloads.join("unpacked");
    let mut debs = Vec::new();
    for package in &packages {
        let deb = apt.download(package, &downloads)?;
        apt::unpack(&deb, &unpacked)?;
        if let Some((image, release)) = find_vmlinuz(&unpacked)? {
            fs::create_dir_all(&dir)?;
            install_file(&image, &vmlinuz)?;
            fs::write(dir.join("release"), format!("{release}\n"))?;
            let names: Vec<String> = packages
                .iter()
                .map(|p| format!("{} {}\n", p.name, p.version))
                .collect();
            fs::write(dir.join("packages"), names.concat())?;
        }
        debs.push(deb);
    }
    if unpacked.exists() {
        fs::remove_dir_all(&unpacked)?;
    }
    for deb in debs {
        fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))?;
    }
    ensure!(
        vmlinuz.is_file(),
        "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in {}",
        packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    note(format_args!(
        "{}: {} {} unpacked to {}",
        line.label,
        top_package.name,
        top_package.version,
        dir.display()
    ));
    Ok(vmlinuz)
}

/// The kernel image in an unpacked package, and its release: `boot/vmlinuz-<release>`
/// (6.x packages), `usr/lib/modules/<release>/vmlinuz` (7.x's linux-binary-*).
fn find_vmlinuz(root: &Path) -> Result<Option<(PathBuf, String)>> {
    if let Ok(entries) = fs::read_dir(root.join("boot")) {
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(release) = name.strip_prefix("vmlinuz-") {
                return Ok(Some((entry.path(), release.to_owned())));
            }
        }
    }
    for modules in ["usr/lib/modules", "lib/modules"] {
        let Ok(entries) = fs::read_dir(root.join(modules)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let image = entry.path().join("vmlinuz");
            if image.is_file() {
                let release = entry.file_name().to_string_lossy().into_owned();
                return Ok(Some((image, release)));
            }
        }
    }
    Ok(None)
}

/// Copy through a temporary name, so an interrupted run leaves no half file in the cache.
fn install_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = to.with_extension("partial");
    fs::copy(from, &tmp)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    fs::rename(&tmp, to).with_context(|| format!("renaming {} to {}", tmp.display(), to.display()))
}

/// Run `command` (a guest or the host script), its stdout and stderr into
/// `<logs>/<label>.log`, echoing all but the kernel's own messages with a `[label]` prefix;
/// killed after `timeout`.
fn run_logged(label: &str, mut command: Command, logs: &Path, timeout: Duration) -> Row {
    let log_path = logs.join(format!("{label}.log"));
    let mut row = Row {
        kernel: label.to_owned(),
        log: RunLog::default(),
        wall: Duration::ZERO,
        timed_out: false,
        error: None,
        log_path: log_path.display().to_string(),
    };
    note(format_args!(
        "{label}: running (log: {})",
        log_path.display()
    ));
    let started = Instant::now();
    match capture(&mut command, &log_path, label, timeout) {
        Ok((text, timed_out)) => {
            row.log = RunLog::parse(&text);
            row.timed_out = timed_out;
        }
        Err(err) => row.error = Some(format!("{err:#}")),
    }
    row.wall = started.elapsed();
    note(format_args!(
        "{label}: {} in {:.0} s",
        if row.passed() { "passed" } else { "FAILED" },
        row.wall.as_secs_f64()
    ));
    row
}

fn capture(
    command: &mut Command,
    log_path: &Path,
    label: &str,
    timeout: Duration,
) -> Result<(String, bool)> {
    let mut log =
        fs::File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd::announce(command);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", cmd::display(command)))?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    })
    .collect();
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut in_dmesg = false;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => {
                log.write_all(&bytes)?;
                let line = String::from_utf8_lossy(&bytes);
                let shown = line.trim_end();
                if shown == "@@matrix dmesg-begin" {
                    in_dmesg = true;
                } else if shown == "@@matrix dmesg-end" {
                    in_dmesg = false;
                } else if !in_dmesg && !is_kernel_message(shown) && !shown.is_empty() {
                    eprintln!("[{label}] {shown}");
                }
                text.push_str(&line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                note(format_args!(
                    "{label}: no end after {} s; killing it",
                    timeout.as_secs()
                ));
                // Our own child, by its handle.
                let _ = child.kill();
                break;
            }
        }
    }
    let status = child.wait()?;
    for reader in readers {
        let _ = reader.join();
    }
    // What came after the kill.
    while let Ok(bytes) = rx.try_recv() {
        log.write_all(&bytes)?;
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let tail = format!("\n@@xtask exit status: {status}\n");
    log.write_all(tail.as_bytes())?;
    Ok((text, timed_out))
}

/// A console line printed by the kernel: `[    1.234567] …`.
fn is_kernel_message(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(stamp, _)| stamp.trim().split_once('.'))
        .is_some_and(|(secs, micros)| {
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            digits(secs) && digits(micros) && micros.len() == 6
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_in_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"tracer_common"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"proctrace"},"executable":"/t/release/proctrace"}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"proctrace-scenario"},"executable":"/t/release/proctrace-scenario"}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"proctrace"},"executable":"/t/release/deps/proctrace-1234"}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"privileged"},"executable":"/t/release/deps/privileged-abcd"}
{"reason":"build-finished","success":true}"#;
        let bins = executables(messages).unwrap();
        assert_eq!(bins.proctrace, Path::new("/t/release/proctrace"));
        assert_eq!(bins.scenario, Path::new("/t/release/proctrace-scenario"));
        assert_eq!(bins.tests, Path::new("/t/release/deps/privileged-abcd"));
        assert!(executables(r#"{"reason":"build-finished","success":true}"#).is_err());
    }

    #[test]
    fn tells_kernel_messages_from_test_output() {
        assert!(is_kernel_message(
            "[    1.234567] Run /init as init process"
        ));
        assert!(is_kernel_message("[12345.000001] reboot: Power down"));
        assert!(!is_kernel_message("test edges::a ... ok <0.1s>"));
        assert!(!is_kernel_message("[6.1] echoed"));
        assert!(!is_kernel_message("[] x"));
    }

    #[test]
    fn finds_vmlinuz_in_both_package_layouts() {
        let root = std::env::temp_dir().join(format!("xtask-vmlinuz-{}", std::process::id()));
        let old = root.join("old");
        let new = root.join("new");
        fs::create_dir_all(old.join("boot")).unwrap();
        fs::write(old.join("boot/vmlinuz-6.1.0-56-cloud-amd64"), b"").unwrap();
        fs::create_dir_all(new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64")).unwrap();
        fs::write(
            new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz"),
            b"",
        )
        .unwrap();
        fs::create_dir_all(root.join("base/usr/lib/modules/7.3.4+deb13-cloud-amd64")).unwrap();
        let found = (
            find_vmlinuz(&old).unwrap(),
            find_vmlinuz(&new).unwrap(),
            find_vmlinuz(&root.join("base")).unwrap(),
        );
        fs::remove_dir_all(&root).unwrap();
        let (old_found, new_found, base_found) = found;
        assert_eq!(
            old_found,
            Some((
                old.join("boot/vmlinuz-6.1.0-56-cloud-amd64"),
                "6.1.0-56-cloud-amd64".to_owned()
            ))
        );
        assert_eq!(
            new_found,
            Some((
                new.join("usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz"),
                "7.3.4+deb13-cloud-amd64".to_owned()
            ))
        );
        assert_eq!(base_found, None);
    }

    #[test]
    fn kernel_lines_are_distinct() {
        let labels: std::collections::HashSet<_> = KERNELS.iter().map(|k| k.label).collect();
        assert_eq!(labels.len(), KERNELS.len());
        for line in &KERNELS {
            assert!(line.series.starts_with(line.label) && line.series.ends_with('.'));
        }
    }
}
