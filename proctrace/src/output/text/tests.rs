//! Golden tests: synthetic records → the exact lines, with and without colour.
use std::sync::Arc;

use super::{escape, human, TextRenderer, Zone};
use crate::output::{
    diagnosis::{Diagnosis, ParentRole, ParentZombies, Sigchld, Verdict, ZombieTally},
    record::*,
};

/// 2026-11-26T14:15:54.123456789Z at ktime 5.123456789 s.
const CLOCK: Clock = Clock::from_offset_ns(1_795_702_554_000_000_000 - 5_000_000_000);
const K: u64 = 5_123_456_789;

fn render(color: bool, records: &[Record]) -> String {
    let mut r = TextRenderer::new(color, Zone::Fixed(0));
    let mut text = r.header();
    for record in records {
        text.push_str(&r.render(record));
    }
    text
}

fn start() -> Record {
    let mut s = StartRecord::new(
        &CLOCK,
        K,
        "0.1.0",
        Hooks {
            fork: Some("tp_btf/sched_process_fork".into()),
            exec: Some("tp_btf/sched_process_exec".into()),
            exit: Some("tp_btf/sched_process_exit".into()),
            reap: Some("fentry/release_task".into()),
            wait: None,
        },
        Vec::new(),
        4 << 20,
    );
    s.seeded_processes = 312;
    s.seeded_zombies = 2;
    s.into()
}

fn fork() -> Record {
    Record::Fork(ForkRecord {
        time: CLOCK.wall(K),
        ktime_ns: K,
        pid: 4242,
        ppid: 1000,
        comm: "bash".into(),
        proc_id: ProcId::new(4242, 1),
        parent_proc_id: None,
        uid: 1000,
        place: Where::default(),
    })
}

fn exec(comm: &str, filename: &str, argv: &[&str]) -> ExecRecord {
    ExecRecord {
        time: CLOCK.wall(K + 1_000),
        ktime_ns: K + 1_000,
        pid: 4242,
        ppid: 1000,
        comm: comm.into(),
        proc_id: ProcId::new(4242, 1),
        filename: filename.into(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        argv_truncated: false,
        argv_read_failed: false,
        filename_truncated: false,
        argv0_empty: false,
        old_pid: 4242,
        uid: 1000,
        euid: Some(1000),
        place: Where::default(),
    }
}

fn exit(exit_code: Option<i32>, signal: Option<i32>, core_dumped: bool) -> Record {
    Record::Exit(ExitRecord {
        time: CLOCK.wall(K + 1_200_000_000),
        ktime_ns: K + 1_200_000_000,
        pid: 4242,
        ppid: 1000,
        comm: "sh".into(),
        proc_id: ProcId::new(4242, 1),
        exit_code,
        signal,
        core_dumped,
        lifetime_ns: 1_234_567_890,
        uid: 1000,
        usage: Some(Usage {
            cpu_user_ns: Some(2_000_000),
            cpu_system_ns: Some(500_000),
            max_rss_bytes: Some(3_565_158),
            ..Usage::default()
        }),
        place: Where::default(),
    })
}

fn diagnosis() -> Diagnosis {
    Diagnosis {
        verdict: Verdict::ParentBlocksSigchld,
        parent_state: Some("S".into()),
        parent_wchan: None,
        sigchld: Some(Sigchld::Default),
        sigchld_blocked: Some(true),
        parent_last_wait_ns: None,
        parent_role: Some(ParentRole::Parent),
    }
}

fn zombie() -> Record {
    Record::Zombie(ZombieRecord {
        time: CLOCK.wall(K + 3_000_000_000),
        ktime_ns: K + 3_000_000_000,
        pid: 4242,
        ppid: 1000,
        comm: "sh".into(),
        proc_id: ProcId::new(4242, 1),
        zombie_ns: 2_000_000_000,
        parent_comm: Some("bash".into()),
        source: ZombieSource::Trace,
        exit_code: Some(3),
        signal: None,
        core_dumped: false,
        reparented: false,
        siblings_unreaped: 2,
        diagnosis: Some(diagnosis()),
        place: Where::default(),
    })
}

fn reap(how: ReapHow, zombie_ns: Option<u64>) -> Record {
    Record::Reap(ReapRecord {
        time: CLOCK.wall(K + 3_500_000_000),
        ktime_ns: K + 3_500_000_000,
        pid: 4242,
        ppid: 1000,
        comm: "sh".into(),
        proc_id: Some(ProcId::new(4242, 1)),
        reaper: (how == ReapHow::Wait).then_some(1000),
        how,
        zombie_ns,
        zombie_class: zombie_ns.map(|ns| ZombieClass::of(ns, 1_000_000_000)),
        reap_window_ns: None,
        reparented: false,
        place: Where::default(),
    })
}

fn lost() -> Record {
    Record::Lost(LostRecord {
        time: CLOCK.wall(K),
        ktime_ns: K,
        count: 5,
        causes: LostCauses {
            ring_buffer_full: 3,
            recursion: HookCounts {
                reap: 2,
                ..HookCounts::default()
            },
            kernel_read_failed: 1,
            ..LostCauses::default()
        },
    })
}

fn proc_check(missing: u64) -> Record {
    Record::ProcCheck(ProcCheckRecord {
        time: CLOCK.wall(K),
        ktime_ns: K,
        reason: CheckReason::Interval,
        checked: 120,
        missing: Discrepancies {
            count: missing,
            pids: (0..missing.min(2)).map(|i| 42 + i as u32).collect(),
        },
        unknown: Discrepancies::default(),
        mismatched: Discrepancies::default(),
        scan_ns: 1_500_000,
    })
}

fn summary() -> Record {
    Record::Summary(SummaryRecord {
        time: CLOCK.wall(K + 10_000_000_000),
        ktime_ns: K + 10_000_000_000,
        counts: Counts {
            start: 1,
            fork: 12,
            exec: 10,
            exit: 12,
            lost: 1,
            zombie: 1,
            reap: 11,
            proc_check: 1,
        },
        lost: 5,
        lost_causes: LostCauses {
            ring_buffer_full: 5,
            ..LostCauses::default()
        },
        zombie_ns: ZombieStats {
            p50: Some(120_000),
            p99: Some(2_500_000_000),
            max: Some(2_600_000_000),
            count: 11,
        },
        unreaped: vec![Unreaped {
            pid: 77,
            proc_id: ProcId::new(77, 8),
            comm: "defunct\x1b[2J".into(),
            ppid: 1000,
            parent_comm: Some("bash".into()),
            zombie_ns: 9_000_000_000,
            container_id: None,
            siblings_unreaped: 0,
            reparented: true,
            diagnosis: Some(diagnosis()),
        }],
        zombies_by_parent: vec![ParentZombies {
            ppid: 1000,
            parent_proc_id: Some(ProcId::new(1000, 2)),
            parent_comm: Some("bash".into()),
            tally: ZombieTally {
                unreaped: 1,
                long_lived_reaped: 2,
                max_zombie_ns: 9_000_000_000,
            },
        }],
        zombies_by_container: Vec::new(),
        duration_ns: 10_000_000_000,
        top: TopConsumers {
            by_cpu: vec![Consumer {
                comm: "cc1".into(),
                filename: Some("/usr/lib/gcc/cc1".into()),
                processes: 2,
                cpu_ns: 3_000_000_000,
                max_rss_bytes: Some(40 << 20),
            }],
            ..TopConsumers::default()
        },
    })
}

fn one_of_each() -> Vec<Record> {
    vec![
        start(),
        fork(),
        Record::Exec(exec("sh", "/bin/sh", &["sh", "-c", "exit 3"])),
        exit(Some(3), None, false),
        lost(),
        zombie(),
        reap(ReapHow::Wait, Some(2_500_000_000)),
        proc_check(0),
        summary(),
    ]
}

const GOLDEN: &str = "\
TIME            EVENT          PID    PPID COMM            DETAILS
14:15:54.123456 start            -       - -               proctrace 0.1.0, 2026-11-26 UTC+00:00; hooks: fork tp_btf/sched_process_fork, exec tp_btf/sched_process_exec, exit tp_btf/sched_process_exit, reap fentry/release_task, wait off; 312 processes (2 zombies) in /proc at start
14:15:54.123456 fork          4242    1000 bash            child 4242 of 1000, uid 1000
14:15:54.123457 exec          4242    1000 sh              /bin/sh [sh -c \"exit 3\"]
14:15:55.323456 exit          4242    1000 sh              exit 3 after 1.2s (cpu 2.5ms, rss 3.3 MiB)
14:15:54.123456 lost             -       - -               5 events lost: ring_buffer_full 3, recursion.reap 2; kernel_read_failed 1
14:15:57.123456 zombie        4242    1000 sh              zombie for 2.0s (exit 3), parent 1000 (bash), 2 siblings unreaped: parent_blocks_sigchld
14:15:57.623456 reap          4242    1000 sh              reaped by 1000 (wait), zombie for 2.5s (long_lived)
14:15:54.123456 proc_check       -       - -               interval: 120 checked in 1.5ms, all agree
14:16:04.123456 summary          -       - -               traced for 10s
  records:  start 1, fork 12, exec 10, exit 12, zombie 1, reap 11, lost 1, proc_check 1
  zombies:  zombie time p50 120us, p99 2.5s, max 2.6s over 11 reaps
  losses:   5 events: ring_buffer_full 5
  unreaped: 1, oldest first:
    pid 77 (defunct\\x1b[2J): zombie for 9.0s, parent 1000 (bash), reparented: parent_blocks_sigchld
  parents:  1000 (bash) 1 unreaped, 2 reaped long-lived, max 9.0s
  top cpu:  cc1 ×2 3.0s
";

#[test]
fn one_line_per_record_type() {
    assert_eq!(render(false, &one_of_each()), GOLDEN);
}

/// The same records in colour: SGR around the padded TIME and EVENT cells and the header,
/// nothing else changed.
const GOLDEN_COLOR: &str = "\
\x1b[1mTIME            EVENT          PID    PPID COMM            DETAILS\x1b[0m
\x1b[2m14:15:54.123456\x1b[0m \x1b[1mstart     \x1b[0m       -       - -               proctrace 0.1.0, 2026-11-26 UTC+00:00; hooks: fork tp_btf/sched_process_fork, exec tp_btf/sched_process_exec, exit tp_btf/sched_process_exit, reap fentry/release_task, wait off; 312 processes (2 zombies) in /proc at start
\x1b[2m14:15:54.123456\x1b[0m \x1b[34mfork      \x1b[0m    4242    1000 bash            child 4242 of 1000, uid 1000
\x1b[2m14:15:54.123457\x1b[0m \x1b[32mexec      \x1b[0m    4242    1000 sh              /bin/sh [sh -c \"exit 3\"]
\x1b[2m14:15:55.323456\x1b[0m \x1b[31mexit      \x1b[0m    4242    1000 sh              exit 3 after 1.2s (cpu 2.5ms, rss 3.3 MiB)
\x1b[2m14:15:54.123456\x1b[0m \x1b[31mlost      \x1b[0m       -       - -               5 events lost: ring_buffer_full 3, recursion.reap 2; kernel_read_failed 1
\x1b[2m14:15:57.123456\x1b[0m \x1b[33mzombie    \x1b[0m    4242    1000 sh              zombie for 2.0s (exit 3), parent 1000 (bash), 2 siblings unreaped: parent_blocks_sigchld
\x1b[2m14:15:57.623456\x1b[0m \x1b[36mreap      \x1b[0m    4242    1000 sh              reaped by 1000 (wait), zombie for 2.5s (long_lived)
\x1b[2m14:15:54.123456\x1b[0m \x1b[35mproc_check\x1b[0m       -       - -               interval: 120 checked in 1.5ms, all agree
\x1b[2m14:16:04.123456\x1b[0m \x1b[1msummary   \x1b[0m       -       - -               traced for 10s
  records:  start 1, fork 12, exec 10, exit 12, zombie 1, reap 11, lost 1, proc_check 1
  zombies:  zombie time p50 120us, p99 2.5s, max 2.6s over 11 reaps
  losses:   5 events: ring_buffer_full 5
  unreaped: 1, oldest first:
    pid 77 (defunct\\x1b[2J): zombie for 9.0s, parent 1000 (bash), reparented: parent_blocks_sigchld
  parents:  1000 (bash) 1 unreaped, 2 reaped long-lived, max 9.0s
  top cpu:  cc1 ×2 3.0s
\x1b[2m14:15:55.323456\x1b[0m exit          4242    1000 sh              exit 0 after 1.2s (cpu 2.5ms, rss 3.3 MiB)
";

#[test]
fn with_colour_the_same_cells_in_sgr() {
    let mut records = one_of_each();
    records.push(exit(Some(0), None, false));
    let text = render(true, &records);
    assert_eq!(text, GOLDEN_COLOR);
    assert_eq!(strip_sgr(&text), render(false, &records));
}

#[test]
fn exits_and_reaps_in_words() {
    let mut r = TextRenderer::new(false, Zone::Fixed(0));
    let details =
        |r: &mut TextRenderer, rec: &Record| r.render(rec).chars().skip(59).collect::<String>();
    for (rec, want) in [
        (
            exit(Some(0), None, false),
            "exit 0 after 1.2s (cpu 2.5ms, rss 3.3 MiB)\n",
        ),
        (
            exit(None, Some(11), true),
            "signal 11 (SEGV), core dumped, after 1.2s (cpu 2.5ms, rss 3.3 MiB)\n",
        ),
        (
            exit(None, Some(40), false),
            "signal 40 after 1.2s (cpu 2.5ms, rss 3.3 MiB)\n",
        ),
        (
            reap(ReapHow::Autoreap, Some(0)),
            "autoreaped (the parent ignores SIGCHLD), zombie for 0ns (transient)\n",
        ),
        (
            reap(ReapHow::Release, None),
            "released (no wait seen), zombie time unknown\n",
        ),
        (
            {
                let Record::Start(mut s) = start() else {
                    unreachable!("a start")
                };
                s.unsupported = vec!["lost.causes.recursion".into()];
                s.hooks = Hooks::default();
                Record::Start(s)
            },
            "proctrace 0.1.0, 2026-11-26 UTC+00:00; hooks: fork off, exec off, exit off, \
             reap off, wait off; 312 processes (2 zombies) in /proc at start; \
             not measured here: lost.causes.recursion\n",
        ),
        (
            proc_check(25),
            "interval: 120 checked in 1.5ms: 25 missing (42 43 …)\n",
        ),
    ] {
        assert_eq!(details(&mut r, &rec), want);
    }
}

/// An exec whose comm, path and arguments try to drive the terminal or fake lines.
fn hostile() -> Record {
    let mut e = exec(
        "\x1b]0;pwn\x07x\n",
        "/tmp/a b/\u{202e}gpj.exe",
        &[
            "evil",
            "\x1b[2J\x1b[H",
            "two\nlines",
            "",
            "a b",
            "say \"hi\"",
            "back\\slash",
            "\u{9b}31m",
            "bad \u{fffd} utf8",
            "zero\u{200b}width",
            "tab\there\r",
        ],
    );
    e.argv_truncated = true;
    e.argv0_empty = false;
    e.euid = Some(0);
    Record::Exec(e)
}

#[test]
fn hostile_strings_are_escaped_and_stay_on_their_line() {
    let text = render(false, &[hostile()]);
    let line = text.lines().nth(1).expect("the exec line");
    assert_eq!(text.lines().count(), 2, "{text:?}");
    assert_eq!(
        line,
        r#"14:15:54.123457 exec          4242    1000 \x1b]0;pwn\x07… "/tmp/a b/\u{202e}gpj.exe" [evil \x1b[2J\x1b[H "two\nlines" "" "a b" "say \"hi\"" back\\slash \u{9b}31m "bad \u{fffd} utf8" zero\u{200b}width "tab\there\r" …] (argv truncated) (uid 1000 euid 0)"#
    );
    assert!(
        !line.chars().any(char::is_control),
        "no control character reaches the terminal: {line:?}"
    );
}

#[test]
fn long_and_wide_values_are_cut_never_shift_a_column() {
    let mut wide = exec("日本語のプロセス", "/x", &["x"]);
    wide.pid = 4_194_304;
    wide.ppid = 4_194_303;
    let mut long = exec("abcdefghijklmnopqrstuvwxyz", "/x", &["x"]);
    long.argv = vec!["y".repeat(8192)];
    let text = render(false, &[Record::Exec(wide), Record::Exec(long)]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "14:15:54.123457 exec       4194304 4194303 \\u{65e5}\\u{672… /x [x]"
    );
    assert!(
        lines[2].starts_with("14:15:54.123457 exec          4242    1000 abcdefghijklmn… /x [yyyy")
    );
    assert_eq!(lines.len(), 3);
}

/// Every record line (and the header) has its separators at the same character offsets,
/// whatever it holds; colour adds only SGR sequences around cells.
#[test]
fn columns_start_at_the_same_offsets() {
    let mut records = one_of_each();
    records.extend([
        hostile(),
        exit(None, Some(11), true),
        reap(ReapHow::Release, None),
    ]);
    for color in [false, true] {
        let text = strip_sgr(&render(color, &records));
        let rows = text.lines().filter(|l| !l.starts_with("  "));
        let mut n = 0;
        for line in rows {
            let chars: Vec<char> = line.chars().collect();
            for sep in [15, 26, 34, 42, 58] {
                assert_eq!(chars.get(sep), Some(&' '), "separator {sep} of {line:?}");
            }
            // Where a cell's text is (left-aligned cells start, right-aligned ones end).
            for text in [0, 16, 33, 41, 43, 59] {
                assert_ne!(chars.get(text), Some(&' '), "offset {text} of {line:?}");
            }
            n += 1;
        }
        assert_eq!(n, records.len() + 1);
    }
}

fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find('m').expect("SGR ends in m");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn durations_bytes_and_escapes() {
    for (ns, want) in [
        (0, "0ns"),
        (999, "999ns"),
        (1_500, "1.5us"),
        (999_999_999, "999ms"),
        (1_200_000_000, "1.2s"),
        (42_000_000_000, "42s"),
        (185_000_000_000, "3m05s"),
        (7_620_000_000_000, "2h07m"),
        (273_600_000_000_000, "3d04h"),
    ] {
        assert_eq!(human::duration(ns), want);
    }
    assert_eq!(human::bytes(512), "512 B");
    assert_eq!(human::bytes(4096), "4.0 KiB");
    assert_eq!(human::bytes(3 << 30), "3.0 GiB");
    assert_eq!(escape::escape("a\u{7f}b\u{85}"), "a\\x7fb\\u{85}");
    assert_eq!(escape::quote(""), "\"\"");
    assert_eq!(escape::quote("a\u{a0}b"), "\"a\u{a0}b\"");
    assert_eq!(escape::escape_narrow("né😀"), "né\\u{1f600}");
}

#[test]
fn container_ids_do_not_matter_here() {
    // Place fields are not shown in text (JSON carries them): a record with them renders the
    // same line as one without.
    let Record::Fork(mut f) = fork() else {
        unreachable!("a fork")
    };
    let plain = render(false, &[Record::Fork(f.clone())]);
    f.place.container_id = Some(Arc::from("0123456789abcdef"));
    assert_eq!(render(false, &[Record::Fork(f)]), plain);
}
