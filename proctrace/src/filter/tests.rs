//! The filters on synthetic record sequences: each flag alone, kept and dropped; their
//! combinations; what is remembered across a process's records; the records that always
//! pass; the bound on what is remembered.
use std::sync::Arc;

use clap::Parser;

use super::{
    lineage::{SeedEntry, SeedError},
    selector::Criteria,
    FilterArgs, RecordFilter,
};
use crate::engine::{Engine, EngineConfig};
use crate::output::record::{
    CheckReason, Clock, Discrepancies, ExecRecord, ExitRecord, ForkRecord, Hooks, LostCauses,
    LostRecord, ProcCheckRecord, ProcId, ReapHow, ReapRecord, Record, StartRecord, Where,
    ZombieRecord, ZombieSource,
};

const CLOCK: Clock = Clock::from_offset_ns(1_795_702_550 * 1_000_000_000);

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    filters: FilterArgs,
    /// As in `cli::Args`, which the filters conflict with.
    #[arg(long)]
    no_events: bool,
}

fn parse(args: &[&str]) -> Result<FilterArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("proctrace").chain(args.iter().copied())).map(|c| c.filters)
}

fn criteria(args: &[&str]) -> Criteria {
    parse(args)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .criteria()
        .expect("a filter flag")
}

fn filter(args: &[&str]) -> RecordFilter {
    RecordFilter::from_criteria(criteria(args), 1000)
}

/// `--tree` with `roots` (not parsed: its parser wants them running now), and `args`.
fn tree_filter(roots: &[u32], args: &[&str]) -> RecordFilter {
    let mut criteria = parse(args).expect("flags").criteria().unwrap_or_default();
    criteria.trees = roots.to_vec();
    RecordFilter::from_criteria(criteria, 1000)
}

/// A process as the records name it: pid, start time, where it lives.
#[derive(Clone)]
struct P {
    pid: u32,
    ppid: u32,
    start: u64,
    comm: &'static str,
    uid: u32,
    place: Where,
}

fn p(pid: u32, ppid: u32, comm: &'static str) -> P {
    P {
        pid,
        ppid,
        start: u64::from(pid) * 1000,
        comm,
        uid: 0,
        place: Where::default(),
    }
}

impl P {
    fn uid(mut self, uid: u32) -> P {
        self.uid = uid;
        self
    }

    fn cgroup(mut self, path: &str, container: Option<&str>) -> P {
        self.place.cgroup = Some(Arc::from(path));
        self.place.container_id = container.map(Arc::from);
        self
    }

    fn proc_id(&self) -> ProcId {
        ProcId::new(self.pid, self.start)
    }

    fn fork(&self) -> Record {
        Record::Fork(ForkRecord {
            time: CLOCK.wall(self.start),
            ktime_ns: self.start,
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.to_owned(),
            proc_id: self.proc_id(),
            parent_proc_id: None,
            uid: self.uid,
            place: self.place.clone(),
        })
    }

    fn exec(&self, filename: &str) -> Record {
        Record::Exec(ExecRecord {
            time: CLOCK.wall(self.start),
            ktime_ns: self.start,
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.to_owned(),
            proc_id: self.proc_id(),
            filename: filename.to_owned(),
            argv: vec![filename.to_owned()],
            argv_truncated: false,
            argv_read_failed: false,
            filename_truncated: false,
            argv0_empty: false,
            old_pid: self.pid,
            uid: self.uid,
            euid: Some(self.uid),
            place: self.place.clone(),
        })
    }

    fn exit(&self) -> Record {
        Record::Exit(ExitRecord {
            time: CLOCK.wall(self.start),
            ktime_ns: self.start,
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.to_owned(),
            proc_id: self.proc_id(),
            exit_code: Some(0),
            signal: None,
            core_dumped: false,
            lifetime_ns: 1,
            uid: self.uid,
            usage: None,
            place: self.place.clone(),
        })
    }

    fn zombie(&self) -> Record {
        Record::Zombie(ZombieRecord {
            time: CLOCK.wall(self.start),
            ktime_ns: self.start,
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.to_owned(),
            proc_id: self.proc_id(),
            zombie_ns: 1,
            parent_comm: None,
            source: ZombieSource::Trace,
            exit_code: Some(0),
            signal: None,
            core_dumped: false,
            reparented: false,
            siblings_unreaped: 0,
            diagnosis: None,
            place: self.place.clone(),
        })
    }

    fn reap(&self) -> Record {
        Record::Reap(ReapRecord {
            time: CLOCK.wall(self.start),
            ktime_ns: self.start,
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.to_owned(),
            proc_id: Some(self.proc_id()),
            reaper: Some(self.ppid),
            how: ReapHow::Wait,
            zombie_ns: Some(1),
            zombie_class: None,
            reap_window_ns: None,
            reparented: false,
            place: self.place.clone(),
        })
    }

    /// fork, exec of `filename`, exit, zombie, reap.
    fn life(&self, filename: &str) -> Vec<Record> {
        vec![
            self.fork(),
            self.exec(filename),
            self.exit(),
            self.zombie(),
            self.reap(),
        ]
    }

    fn seed(&self, exe: Option<&str>) -> SeedEntry {
        SeedEntry {
            pid: self.pid,
            ppid: self.ppid,
            proc_id: self.proc_id(),
            uid: self.uid,
            exe: exe.map(str::to_owned),
        }
    }
}

/// The records kept, as (type, pid) pairs.
fn kept(f: &mut RecordFilter, records: Vec<Record>) -> Vec<(&'static str, u32)> {
    let mut records = records;
    f.retain(&mut records);
    records.iter().map(|r| (name(r), pid(r))).collect()
}

fn name(r: &Record) -> &'static str {
    match r {
        Record::Start(_) => "start",
        Record::Fork(_) => "fork",
        Record::Exec(_) => "exec",
        Record::Exit(_) => "exit",
        Record::Lost(_) => "lost",
        Record::Zombie(_) => "zombie",
        Record::Reap(_) => "reap",
        Record::ProcCheck(_) => "proc_check",
        Record::Summary(_) => "summary",
    }
}

fn pid(r: &Record) -> u32 {
    match r {
        Record::Fork(r) => r.pid,
        Record::Exec(r) => r.pid,
        Record::Exit(r) => r.pid,
        Record::Zombie(r) => r.pid,
        Record::Reap(r) => r.pid,
        _ => 0,
    }
}

fn whole_life(pid: u32) -> Vec<(&'static str, u32)> {
    ["fork", "exec", "exit", "zombie", "reap"]
        .into_iter()
        .map(|t| (t, pid))
        .collect()
}

/// Two processes' lives, one after the other.
fn two(a: &P, a_exe: &str, b: &P, b_exe: &str) -> Vec<Record> {
    let mut records = a.life(a_exe);
    records.extend(b.life(b_exe));
    records
}

#[test]
fn pid_keeps_those_processes_only() {
    let (a, b, c) = (p(100, 1, "a"), p(101, 1, "b"), p(102, 1, "c"));
    let mut f = filter(&["--pid", "100,102"]);
    let mut records = two(&a, "/a", &b, "/b");
    records.extend(c.life("/c"));
    let mut want = whole_life(100);
    want.extend(whole_life(102));
    assert_eq!(kept(&mut f, records), want);
}

#[test]
fn comm_matches_each_record_by_its_own_comm() {
    let (a, b) = (p(100, 1, "nginx-worker"), p(101, 1, "bash"));
    let mut f = filter(&["--comm", "nginx*"]);
    assert_eq!(kept(&mut f, two(&a, "/x", &b, "/y")), whole_life(100));
    // A later comm (an exec, prctl(PR_SET_NAME)) is what later records match.
    let renamed = P {
        comm: "sleep",
        ..a.clone()
    };
    let mut f = filter(&["--comm", "sleep", "--comm", "true"]);
    let records = vec![a.fork(), renamed.exec("/bin/sleep"), renamed.exit()];
    assert_eq!(kept(&mut f, records), [("exec", 100), ("exit", 100)]);
}

#[test]
fn exe_follows_a_process_from_its_exec_to_its_reap() {
    let (a, b) = (p(100, 1, "sleep"), p(101, 1, "sleep"));
    let mut f = filter(&["--exe", "/usr/bin/sleep"]);
    let got = kept(&mut f, two(&a, "/usr/bin/sleep", &b, "/bin/sleep"));
    // The fork came before the exec: it was not /usr/bin/sleep yet.
    assert_eq!(got, whole_life(100)[1..]);
    // A child forked by it runs the same program until it execs another.
    let child = p(200, 100, "sleep");
    let mut f = filter(&["--exe", "*/sleep"]);
    let records = vec![
        a.fork(),
        a.exec("/usr/bin/sleep"),
        child.fork(),
        child.exec("/bin/true"),
        child.exit(),
    ];
    assert_eq!(
        kept(&mut f, records),
        [("exec", 100), ("fork", 200)],
        "the child's exec of true and its exit are not sleep's"
    );
}

#[test]
fn uid_comes_from_the_latest_record_that_carries_one() {
    let nobody = p(100, 1, "sh").uid(65534);
    let root = p(101, 1, "sh");
    let mut f = filter(&["--uid", "65534"]);
    assert_eq!(
        kept(&mut f, two(&nobody, "/bin/sh", &root, "/bin/sh")),
        whole_life(100),
        "the zombie and reap records carry no uid: remembered from the exit"
    );
    // setuid() before exec: the fork was root's, the exec on are nobody's.
    let before = p(102, 1, "sh");
    let after = before.clone().uid(65534);
    let records = vec![
        before.fork(),
        after.exec("/bin/true"),
        after.exit(),
        after.zombie(),
        after.reap(),
    ];
    let mut f = filter(&["--uid", "root,65534"]);
    assert_eq!(kept(&mut f, records.clone()), whole_life(102));
    let mut f = filter(&["--uid", "65534"]);
    assert_eq!(kept(&mut f, records), whole_life(102)[1..]);
}

#[test]
fn cgroup_keeps_a_cgroup_and_those_below_it_by_whole_components() {
    let web = p(100, 1, "a").cgroup("/system.slice/web.service", None);
    let sub = p(101, 1, "b").cgroup("/system.slice/web.service/worker", None);
    let other = p(102, 1, "c").cgroup("/system.slice/web.service2", None);
    let unknown = p(103, 1, "d");
    let mut records = two(&web, "/a", &sub, "/b");
    records.extend(two(&other, "/c", &unknown, "/d"));
    let mut f = filter(&["--cgroup", "/system.slice/web.service/"]);
    let mut want = whole_life(100);
    want.extend(whole_life(101));
    assert_eq!(kept(&mut f, records.clone()), want);
    let mut f = filter(&["--cgroup", "/"]);
    want.extend(whole_life(102));
    assert_eq!(kept(&mut f, records), want, "`/`: every known cgroup");
}

#[test]
fn container_keeps_the_ids_with_that_prefix() {
    let id_a = "3f2a9c1b7d4e".repeat(6);
    let id_a = &id_a[..64];
    let id_b = "0123456789abcdef".repeat(4);
    let a = p(100, 1, "a").cgroup("/docker/x", Some(id_a));
    let b = p(101, 1, "b").cgroup("/docker/y", Some(&id_b));
    let host = p(102, 1, "c").cgroup("/", None);
    let mut records = two(&a, "/a", &b, "/b");
    records.extend(host.life("/c"));
    let mut f = filter(&["--container", "3F2A9C"]);
    assert_eq!(kept(&mut f, records.clone()), whole_life(100));
    let mut f = filter(&["--container", "3f2a,0123"]);
    let mut want = whole_life(100);
    want.extend(whole_life(101));
    assert_eq!(kept(&mut f, records), want);
}

#[test]
fn type_keeps_those_record_types() {
    let a = p(100, 1, "a");
    let mut f = filter(&["--type", "zombie,reap"]);
    assert_eq!(kept(&mut f, a.life("/a")), whole_life(100)[3..]);
}

#[test]
fn tree_follows_forks_and_keeps_reparented_orphans() {
    let root = p(100, 1, "root");
    let outside = p(50, 1, "outside");
    let seeded_child = p(110, 100, "child");
    let mut f = tree_filter(&[100], &[]);
    let seeds = [root.seed(None), outside.seed(None), seeded_child.seed(None)];
    f.lineage
        .as_mut()
        .expect("a lineage")
        .seed(&seeds, &f.criteria)
        .expect("root found");
    let grandchild = p(120, 110, "grandchild");
    let great = p(130, 120, "great");
    // The grandchild dies; its child is reparented to init and still in the tree.
    let orphan = P {
        ppid: 1,
        ..great.clone()
    };
    let stranger = p(140, 50, "stranger");
    let records = vec![
        grandchild.fork(),
        great.fork(),
        stranger.fork(),
        grandchild.exit(),
        grandchild.reap(),
        orphan.exec("/bin/sleep"),
        orphan.exit(),
        orphan.reap(),
        seeded_child.exit(),
        root.exit(),
        outside.exit(),
    ];
    assert_eq!(
        kept(&mut f, records),
        [
            ("fork", 120),
            ("fork", 130),
            ("exit", 120),
            ("reap", 120),
            ("exec", 130),
            ("exit", 130),
            ("reap", 130),
            ("exit", 110),
            ("exit", 100),
        ]
    );
}

#[test]
fn a_tree_root_gone_by_the_proc_read_is_an_error_that_says_what_to_do() {
    let mut f = tree_filter(&[1], &[]);
    let seeds = [p(2, 0, "kthreadd").seed(None)];
    let err = f
        .lineage
        .as_mut()
        .expect("a lineage")
        .seed(&seeds, &f.criteria)
        .unwrap_err();
    assert_eq!(err, SeedError::TreeRootGone(1));
    assert!(err.to_string().contains("start proctrace again"), "{err}");
}

#[test]
fn processes_alive_at_start_match_on_what_proc_showed() {
    let sleeper = p(100, 1, "sleep").uid(1000);
    let other = p(101, 1, "sleep");
    let mut f = filter(&["--exe", "/usr/bin/sleep", "--uid", "1000"]);
    let seeds = [
        sleeper.seed(Some("/usr/bin/sleep")),
        other.seed(Some("/usr/bin/sleep")),
    ];
    f.lineage
        .as_mut()
        .expect("a lineage")
        .seed(&seeds, &f.criteria)
        .expect("seed");
    let records = vec![
        sleeper.zombie(),
        sleeper.reap(),
        other.zombie(),
        other.reap(),
    ];
    assert_eq!(kept(&mut f, records), [("zombie", 100), ("reap", 100)]);
}

#[test]
fn different_flags_must_all_match() {
    let a = p(100, 1, "worker").uid(33);
    let b = p(101, 1, "worker").uid(0);
    let c = p(102, 1, "other").uid(33);
    let mut records = two(&a, "/srv/worker", &b, "/srv/worker");
    records.extend(c.life("/srv/worker"));
    let mut f = filter(&["--comm", "work*", "--uid", "33", "--type", "exit,reap"]);
    assert_eq!(kept(&mut f, records), [("exit", 100), ("reap", 100)]);
}

#[test]
fn start_lost_proc_check_and_summary_always_pass() {
    let mut engine = Engine::new(EngineConfig {
        zombie_threshold_ns: 1,
        clock: CLOCK,
        top: 10,
    });
    let mut summary = Vec::new();
    engine.summary(10, &mut summary);
    let mut records = vec![
        StartRecord::new(&CLOCK, 1, "0", Hooks::default(), Vec::new(), 4096).into(),
        Record::Lost(LostRecord {
            time: CLOCK.wall(2),
            ktime_ns: 2,
            count: 1,
            causes: LostCauses {
                ring_buffer_full: 1,
                ..LostCauses::default()
            },
        }),
        Record::ProcCheck(ProcCheckRecord {
            time: CLOCK.wall(3),
            ktime_ns: 3,
            reason: CheckReason::Interval,
            checked: 1,
            missing: Discrepancies::default(),
            unknown: Discrepancies::default(),
            mismatched: Discrepancies::default(),
            scan_ns: 1,
        }),
    ];
    records.extend(p(100, 1, "a").life("/a"));
    records.extend(summary);
    for args in [
        &["--pid", "4000000"][..],
        &["--type", "fork", "--comm", "nothing"],
        &["--exe", "/nothing"],
    ] {
        let mut f = tree_filter(&[1], args);
        assert_eq!(
            kept(&mut f, records.clone()),
            [("start", 0), ("lost", 0), ("proc_check", 0), ("summary", 0)],
            "{args:?}"
        );
    }
}

#[test]
fn a_reap_forgets_the_process_and_the_table_stays_bounded() {
    let mut f = RecordFilter::from_criteria(criteria(&["--uid", "0"]), 4);
    let procs: Vec<P> = (100..110).map(|pid| p(pid, 1, "x")).collect();
    for q in &procs[..3] {
        kept(&mut f, q.life("/x"));
    }
    let lineage = f.lineage.as_ref().expect("a lineage");
    assert_eq!(lineage.len(), 0, "each reap removed its entry");
    // Ten processes whose reaps are lost: only the 4 latest are remembered.
    for q in &procs {
        kept(&mut f, vec![q.fork(), q.exit()]);
    }
    let lineage = f.lineage.as_ref().expect("a lineage");
    assert_eq!(lineage.len(), 4);
    assert_eq!(lineage.forgotten(), 6);
    // The latest still match through their zombie and reap; the oldest do not.
    let got = kept(&mut f, vec![procs[9].zombie(), procs[0].zombie()]);
    assert_eq!(got, [("zombie", 109)]);
}

#[test]
fn a_pid_reused_after_a_lost_reap_is_a_new_process() {
    let old = p(100, 1, "old").uid(1000);
    let new = P {
        start: 999_999,
        ..p(100, 1, "new")
    };
    let mut f = filter(&["--uid", "1000"]);
    // The old one's reap is lost; the new one's zombie must not inherit its uid.
    let records = vec![old.fork(), old.exit(), new.zombie(), new.reap()];
    assert_eq!(kept(&mut f, records), [("fork", 100), ("exit", 100)]);
}

#[test]
fn no_flag_no_filter() {
    let args = parse(&[]).expect("no flags");
    assert!(args.criteria().is_none());
    assert!(RecordFilter::new(&args).is_none());
}

#[test]
fn flags_needing_no_memory_keep_none() {
    for args in [
        &["--pid", "1"][..],
        &["--comm", "x"],
        &["--cgroup", "/a"],
        &["--container", "abcd"],
        &["--type", "exit"],
    ] {
        assert!(filter(args).lineage.is_none(), "{args:?}");
    }
    for args in [&["--exe", "x"][..], &["--uid", "0"]] {
        assert!(filter(args).lineage.is_some(), "{args:?}");
    }
    assert!(tree_filter(&[1], &[]).lineage.is_some());
}

#[test]
fn bad_values_are_usage_errors_that_say_what_to_do() {
    for (args, says) in [
        (&["--pid", "0"][..], "pids run from 1"),
        (&["--pid", "12x"], "is not a pid"),
        (&["--pid", "1,,2"], "is not a pid"),
        (&["--tree", "4194304"], "no process 4194304 is running"),
        (&["--comm", ""], "empty pattern"),
        (&["--comm", "abcdefghijklmnop"], "at most 15 bytes"),
        (&["--comm", "éééééééé"], "longer than 15 bytes"),
        (&["--exe", "/usr/[bin"], "'\\['"),
        (&["--uid", "no-such-user-proctrace"], "give a numeric uid"),
        (&["--uid", "4294967295"], "is not a uid"),
        (&["--cgroup", "system.slice"], "starting with '/'"),
        (&["--cgroup", "/a//b"], "is not a cgroup path"),
        (&["--cgroup", "/a/../b"], "is not a cgroup path"),
        (&["--container", "abc"], "4 to 64 hex digits"),
        (&["--container", "xyz1"], "4 to 64 hex digits"),
        (&["--type", "forks"], "unknown record type"),
        (&["--type", "lost"], "always written"),
        (&["--type", ""], "unknown record type"),
    ] {
        let err = parse(args).expect_err(&format!("{args:?} accepted"));
        assert_eq!(err.exit_code(), 2, "{args:?}");
        let text = err.to_string();
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains(says), "one line says it: {args:?}: {text}");
    }
}

#[test]
fn a_thread_is_not_a_tree_root() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // SAFETY: no arguments; returns the caller's thread id.
        let tid = unsafe { libc::gettid() };
        let _ = tx.send(tid);
        let _ = done_rx.recv();
    });
    let tid = rx.recv().expect("the thread's id").to_string();
    let err = parse(&["--tree", &tid]).expect_err("a thread");
    let _ = done_tx.send(());
    let _ = thread.join();
    assert!(err.to_string().contains("is a thread of process"), "{err}");
    let me = std::process::id().to_string();
    assert_eq!(
        parse(&["--tree", &me]).expect("our own pid").trees,
        [std::process::id()]
    );
}

/// Every filter flag has its row in README's options table, with an example.
#[test]
fn every_filter_flag_is_in_the_readme_options_table() {
    use clap::CommandFactory as _;
    let readme = include_str!("../../../README.md");
    let command = Cli::command();
    let flags: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !["help", "no-events"].contains(l))
        .map(|l| format!("--{l}"))
        .collect();
    assert_eq!(flags.len(), 8, "{flags:?}");
    for flag in flags {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{flag} <")))
            .unwrap_or_else(|| panic!("README's options table has no row for {flag}"));
        // The first cell is `{flag} <VALUE>`; the example is another.
        let mentions = row.matches(&format!("`{flag} ")).count();
        assert!(mentions >= 2, "no example in {row}");
    }
}

#[test]
fn filters_with_no_events_are_a_usage_error() {
    let err = parse(&["--no-events", "--pid", "1"]).expect_err("nothing to filter");
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    assert_eq!(err.exit_code(), 2);
}
