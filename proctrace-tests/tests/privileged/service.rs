//! The service around the binary: the repository's systemd unit passes `systemd-analyze
//! verify` and its hardening still lets proctrace trace; the generated completions load in
//! real shells and the man page formats cleanly. The tools are those a Debian host has
//! (systemd, bash, man-db, groff-base, util-linux); a missing one fails the test.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

use crate::common::{proctrace_bin, tree};

const UNIT: &str = include_str!("../../../deploy/systemd/proctrace.service");

/// A directory of its own under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("proctrace-{what}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a tool the test needs; a missing one fails with the package to install.
fn tool(program: &str, package: &str, configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(program);
    configure(&mut command);
    command.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): install Debian's {package} package")
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `proctrace ARGS`' stdout (a generator subcommand: it must succeed and print something).
fn generated(args: &[&str]) -> String {
    let out = Command::new(proctrace_bin())
        .args(args)
        .output()
        .expect("run proctrace");
    assert!(out.status.success(), "proctrace {args:?}: {}", text(&out));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(stdout.len() > 100, "proctrace {args:?} printed {stdout:?}");
    stdout
}

/// The unit with ExecStart at the binary under test (the installed path may not exist), its
/// man page where `Documentation=man:proctrace(8)` finds it: verify runs `man` for it.
#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = TempDir::new("unit");
    let unit = UNIT.replace("/usr/local/bin/proctrace", &proctrace_bin());
    assert_ne!(
        unit, UNIT,
        "the unit's ExecStart names /usr/local/bin/proctrace"
    );
    let path = dir.0.join("proctrace.service");
    fs::write(&path, unit).expect("write the unit");
    let man8 = dir.0.join("man/man8");
    fs::create_dir_all(&man8).expect("man dir");
    fs::write(man8.join("proctrace.8"), generated(&["man"])).expect("write the man page");

    let out = tool("systemd-analyze", "systemd", |c| {
        c.arg("verify").arg(&path).env("MANPATH", dir.0.join("man"));
    });
    let said = text(&out);
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    // Warnings (an unknown directive, a bad value) go to stderr with exit code 0; other
    // units on the host may have their own, which are not ours to judge.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("proctrace")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns: {ours:#?}");
}

/// The unit's capability set, NoNewPrivileges=, and what ProtectKernelTunables=,
/// ProtectControlGroups= and ProcSubset=pid do to /sys and /proc (every mount under /sys
/// read-only, /proc without /proc/sys), in a mount namespace of its own: proctrace still
/// loads, traces a child and finds no disagreement with /proc. With tracefs mounted (read-only
/// then, as systemd's sys-kernel-tracing.mount leaves it) ...
#[test]
fn the_units_hardening_still_traces() {
    hardened_run("");
}

/// ... and without, when proctrace mounts it on the read-only /sys (CAP_SYS_ADMIN).
#[test]
fn the_units_hardening_still_mounts_tracefs() {
    hardened_run("umount /sys/kernel/tracing 2>/dev/null || true");
}

fn hardened_run(before: &str) {
    let caps = UNIT
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet= in the unit");
    let setpriv_caps: Vec<String> = caps
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    let script = format!(
        r#"set -e
         {before}
         for m in $(awk '$2 ~ "^/sys(/|$)" {{print $2}}' /proc/self/mounts); do
             mount -o remount,bind,ro "$m"
         done
         mount -t proc -o subset=pid proc /proc
         setpriv --no-new-privs --bounding-set -all,{caps} {bin} --duration 2s \
             --proc-check-interval 500ms &
         while kill -0 $! 2>/dev/null; do /bin/true; sleep 0.1; done
         wait $!"#,
        caps = setpriv_caps.join(","),
        bin = proctrace_bin(),
    );
    let out = tool("unshare", "util-linux", |c| {
        c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.first().map(|r| &r["type"]), Some(&"start".into()));
    assert_eq!(records.last().map(|r| &r["type"]), Some(&"summary".into()));
    // The shell is unshare's child; its /bin/true children were traced.
    let shells: Vec<u64> = records
        .iter()
        .filter(|r| r["type"] == "exec" && r["filename"] == "/bin/true")
        .filter_map(|r| r["ppid"].as_u64())
        .collect();
    let traced = shells.first().map(|&sh| tree(&records, sh as u32).len());
    assert!(traced > Some(1), "no /bin/true traced; stderr: {stderr}");
    let checks: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "proc_check")
        .collect();
    assert!(!checks.is_empty(), "no proc_check; stderr: {stderr}");
    for check in checks {
        assert_eq!(check["missing"]["count"], 0, "{check}");
    }
}

#[test]
fn the_bash_completion_loads_and_completes() {
    let script = generated(&["completions", "bash"]);
    let out = tool("bash", "bash", |c| {
        c.args([
            "-c",
            "source /dev/stdin <<<\"$0\"
             complete -p proctrace
             COMP_WORDS=(proctrace --zombie-th); COMP_CWORD=1
             _proctrace proctrace --zombie-th proctrace
             echo \"flag: ${COMPREPLY[*]}\"
             COMP_WORDS=(proctrace completions ''); COMP_CWORD=2
             _proctrace proctrace '' completions
             echo \"shells: ${COMPREPLY[*]}\"",
            &script,
        ]);
    });
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("-F _proctrace proctrace\n"), "{said}");
    assert!(said.contains("flag: --zombie-threshold\n"), "{said}");
    assert!(said.contains("bash zsh fish"), "{said}");
}

/// zsh and fish are not on every host: their scripts are checked by the shell when it is
/// there (syntax only), and by their first line otherwise.
#[test]
fn the_zsh_and_fish_completions_are_generated() {
    for (shell, marker, check) in [
        ("zsh", "#compdef proctrace\n", &["-n"][..]),
        ("fish", "\ncomplete -c proctrace ", &["--no-execute"][..]),
    ] {
        let script = generated(&["completions", shell]);
        assert!(
            script.contains(marker),
            "{shell}: no {marker:?} in\n{script}"
        );
        if which(shell).is_some() {
            let dir = TempDir::new(shell);
            let file = dir.0.join("completion");
            fs::write(&file, &script).expect("write");
            let out = tool(shell, shell, |c| {
                c.args(check).arg(&file);
            });
            assert!(out.status.success(), "{shell} {check:?}: {}", text(&out));
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// groff reads it without a warning (-ww: all of them), and man shows its sections.
#[test]
fn the_man_page_formats_cleanly() {
    let dir = TempDir::new("man");
    let page = dir.0.join("proctrace.8");
    fs::write(&page, generated(&["man"])).expect("write the page");
    let out = tool("groff", "groff-base", |c| {
        c.args(["-k", "-man", "-Tutf8", "-ww", "-z"]).arg(&page);
    });
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff: {}",
        text(&out)
    );
    let out = tool("man", "man-db", |c| {
        c.arg("-l")
            .arg(&page)
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat");
    });
    let shown = text(&out);
    assert!(out.status.success(), "man -l: {shown}");
    for expected in [
        "PROCTRACE(8)",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "--ring-buffer-size",
    ] {
        assert!(
            shown.contains(expected),
            "man -l lacks {expected}:\n{shown}"
        );
    }
}

/// The generators need no root, and never lose their output without a word: a closed or
/// full stdout is exit 1 with one line; a reader that went away (EPIPE: the reader `true` is
/// gone before proctrace starts) is no error.
#[test]
fn the_generators_run_unprivileged_and_report_a_bad_stdout() {
    let nobody = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {} man",
        proctrace_bin()
    );
    for (command, code, said) in [
        (format!("{{ sleep 0.3; {nobody}; }} | true"), 0, None),
        (
            format!("{nobody} >&-"),
            1,
            Some("proctrace: stdout is closed: redirect it"),
        ),
        (
            format!("{nobody} >/dev/full"),
            1,
            Some("proctrace: writing to stdout: No space left"),
        ),
    ] {
        let script = format!("{command}; echo \"exit ${{PIPESTATUS[0]}}\"");
        let out = tool("bash", "bash", |c| {
            c.args(["-c", &script]);
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout, format!("exit {code}\n"), "{command}: {stderr}");
        match said {
            None => assert_eq!(stderr, "", "{command}"),
            Some(said) => {
                assert!(stderr.starts_with(said), "{command}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "{command}: one line: {stderr}");
            }
        }
    }
}
