//! The observer (records in, exposed values out, read back from the text exposition), the
//! gauge refresh with its bounded and cleaned-up `container` series, and the golden stream
//! of real kernel records counted as the JSON says.
use std::{collections::BTreeMap, sync::Arc};

use prometheus_client::encoding::prometheus_text;

use super::{definitions::Metrics, observer::Observer, set_table};
use crate::{
    engine::{ContainerZombieGauge, Engine, EngineConfig, TableGauges},
    ingest::decode::decode,
    output::{
        diagnosis::{Diagnosis, Verdict},
        record::{
            CheckReason, Clock, Discrepancies, ExecRecord, ExitRecord, ForkRecord, HookCounts,
            LostCauses, LostRecord, ProcCheckRecord, ProcId, ReapHow, ReapRecord, Record,
            RecordType, StartRecord, Usage, Where, ZombieClass, ZombieRecord, ZombieSource,
        },
    },
};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const CLOCK: Clock = Clock::from_offset_ns(0);

/// Every sample of the text exposition: `name{labels}` → value.
fn scrape(metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut text = String::new();
    prometheus_text::encode(&mut text, &metrics.registry).expect("encode");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

fn observer(comms: &[&str]) -> (Arc<Metrics>, Observer) {
    let comms: Vec<String> = comms.iter().map(|&c| c.to_owned()).collect();
    let metrics = Arc::new(Metrics::new(&comms));
    let observer = Observer::new(Arc::clone(&metrics), &comms);
    (metrics, observer)
}

fn fork(pid: u32) -> Record {
    Record::Fork(ForkRecord {
        time: CLOCK.wall(S),
        ktime_ns: S,
        pid,
        ppid: 1,
        comm: "sh".into(),
        proc_id: ProcId::new(pid, S),
        parent_proc_id: None,
        uid: 0,
        place: Where::default(),
    })
}

fn exec(pid: u32) -> Record {
    Record::Exec(ExecRecord {
        time: CLOCK.wall(S),
        ktime_ns: S,
        pid,
        ppid: 1,
        comm: "true".into(),
        proc_id: ProcId::new(pid, S),
        filename: "/bin/true".into(),
        argv: vec!["true".into()],
        argv_truncated: false,
        argv_read_failed: false,
        filename_truncated: false,
        argv0_empty: false,
        old_pid: pid,
        uid: 0,
        euid: Some(0),
        place: Where::default(),
    })
}

fn exit(
    comm: &str,
    signal: Option<i32>,
    core: bool,
    lifetime_ns: u64,
    usage: Option<Usage>,
) -> Record {
    Record::Exit(ExitRecord {
        time: CLOCK.wall(2 * S),
        ktime_ns: 2 * S,
        pid: 10,
        ppid: 1,
        comm: comm.into(),
        proc_id: ProcId::new(10, S),
        exit_code: signal.is_none().then_some(0),
        signal,
        core_dumped: core,
        lifetime_ns,
        uid: 0,
        usage,
        place: Where::default(),
    })
}

fn reap(how: ReapHow, zombie_ns: Option<u64>) -> Record {
    Record::Reap(ReapRecord {
        time: CLOCK.wall(3 * S),
        ktime_ns: 3 * S,
        pid: 10,
        ppid: 1,
        comm: "x".into(),
        proc_id: Some(ProcId::new(10, S)),
        reaper: Some(1),
        how,
        zombie_ns,
        zombie_class: zombie_ns.map(|ns| ZombieClass::of(ns, S)),
        reap_window_ns: None,
        reparented: false,
        place: Where::default(),
    })
}

fn zombie(verdict: Option<Verdict>) -> Record {
    Record::Zombie(ZombieRecord {
        time: CLOCK.wall(3 * S),
        ktime_ns: 3 * S,
        pid: 10,
        ppid: 1,
        comm: "x".into(),
        proc_id: ProcId::new(10, S),
        zombie_ns: S,
        parent_comm: None,
        source: ZombieSource::Trace,
        exit_code: Some(0),
        signal: None,
        core_dumped: false,
        reparented: false,
        siblings_unreaped: 0,
        diagnosis: verdict.map(|verdict| Diagnosis {
            verdict,
            parent_state: None,
            parent_wchan: None,
            sigchld: None,
            sigchld_blocked: None,
            parent_last_wait_ns: None,
            parent_role: None,
        }),
        place: Where::default(),
    })
}

fn discrepancies(count: u64) -> Discrepancies {
    Discrepancies {
        count,
        pids: Vec::new(),
    }
}

#[test]
fn every_counter_starts_at_zero_with_its_known_label_values() {
    let (metrics, _) = observer(&[]);
    let s = scrape(&metrics);
    assert_eq!(get(&s, "proctrace_forks_total"), 0.0);
    assert_eq!(get(&s, "proctrace_exits_total{reason=\"core\"}"), 0.0);
    assert_eq!(
        get(
            &s,
            "proctrace_reaps_total{how=\"release\",class=\"unknown\"}"
        ),
        0.0
    );
    assert_eq!(
        get(&s, "proctrace_events_lost_total{cause=\"dropped.wait\"}"),
        0.0
    );
    assert_eq!(
        get(
            &s,
            "proctrace_proc_check_discrepancies_total{kind=\"mismatched\"}"
        ),
        0.0
    );
    assert_eq!(get(&s, "proctrace_up"), 1.0);
    assert!(
        !s.keys()
            .any(|k| k.contains("by_comm") || k.starts_with("proctrace_zombies")),
        "no per-comm counter without --metrics-comm-allow, no container yet: {s:#?}"
    );
    // 38 finite buckets, 2^-20 s to 2^17 s, and +Inf.
    let buckets: Vec<&String> = s
        .keys()
        .filter(|k| k.starts_with("proctrace_zombie_duration_seconds_bucket"))
        .collect();
    assert_eq!(buckets.len(), 39);
    assert!(s.contains_key("proctrace_zombie_duration_seconds_bucket{le=\"9.5367431640625e-07\"}"));
    assert!(s.contains_key("proctrace_zombie_duration_seconds_bucket{le=\"131072\"}"));
    assert!(s.contains_key("proctrace_zombie_duration_seconds_bucket{le=\"+Inf\"}"));
}

#[test]
fn records_in_counters_and_histograms_out() {
    let (metrics, o) = observer(&["nginx"]);
    let usage = Usage {
        cpu_user_ns: Some(1_500 * MS),
        cpu_system_ns: Some(250 * MS),
        read_bytes: Some(4096 + 1024),
        write_bytes: None,
        // Its reaped children's, counted at their own exits: not again.
        children_read_bytes: Some(1024),
        children_write_bytes: Some(512),
        ..Usage::default()
    };
    let mut start = StartRecord::new(&CLOCK, S, "0", Default::default(), Vec::new(), 8 << 20);
    start.seeded_processes = 3;
    o.observe(&[
        start.into(),
        fork(10),
        fork(11),
        fork(12),
        exec(10),
        exit("nginx", None, false, 3 * S, Some(usage)),
        exit("sh", Some(9), false, 500 * MS, None),
        exit("nginx", Some(11), true, 2 * MS, None),
        reap(ReapHow::Wait, Some(2 * S)),
        reap(ReapHow::Wait, Some(10 * MS)),
        reap(ReapHow::Autoreap, Some(0)),
        reap(ReapHow::Release, None),
        zombie(Some(Verdict::ParentNeverWaits)),
        zombie(None),
    ]);
    o.observe(&[Record::Lost(LostRecord {
        time: CLOCK.wall(4 * S),
        ktime_ns: 4 * S,
        count: 9,
        causes: LostCauses {
            ring_buffer_full: 5,
            recursion: HookCounts {
                reap: 3,
                ..HookCounts::default()
            },
            output_queue_full: 1,
            kernel_read_failed: 2,
            ..LostCauses::default()
        },
    })]);
    o.observe(&[Record::ProcCheck(ProcCheckRecord {
        time: CLOCK.wall(5 * S),
        ktime_ns: 5 * S,
        reason: CheckReason::Interval,
        checked: 100,
        missing: discrepancies(2),
        unknown: discrepancies(0),
        mismatched: discrepancies(1),
        scan_ns: MS,
    })]);
    let s = scrape(&metrics);
    let want = [
        ("proctrace_ring_buffer_bytes", 8_388_608.0),
        ("proctrace_forks_total", 3.0),
        ("proctrace_execs_total", 1.0),
        ("proctrace_exits_total{reason=\"exit\"}", 1.0),
        ("proctrace_exits_total{reason=\"signal\"}", 1.0),
        ("proctrace_exits_total{reason=\"core\"}", 1.0),
        ("proctrace_exits_by_comm_total{comm=\"nginx\"}", 2.0),
        ("proctrace_exited_cpu_seconds_total{mode=\"user\"}", 1.5),
        ("proctrace_exited_cpu_seconds_total{mode=\"system\"}", 0.25),
        (
            "proctrace_exited_storage_bytes_total{direction=\"read\"}",
            4096.0,
        ),
        (
            "proctrace_exited_storage_bytes_total{direction=\"write\"}",
            0.0,
        ),
        (
            "proctrace_reaps_total{how=\"wait\",class=\"long_lived\"}",
            1.0,
        ),
        (
            "proctrace_reaps_total{how=\"wait\",class=\"transient\"}",
            1.0,
        ),
        (
            "proctrace_reaps_total{how=\"autoreap\",class=\"transient\"}",
            1.0,
        ),
        (
            "proctrace_reaps_total{how=\"release\",class=\"unknown\"}",
            1.0,
        ),
        (
            "proctrace_reaps_total{how=\"release\",class=\"long_lived\"}",
            0.0,
        ),
        (
            "proctrace_zombie_alerts_total{verdict=\"parent_never_waits\"}",
            1.0,
        ),
        ("proctrace_zombie_alerts_total{verdict=\"unknown\"}", 1.0),
        (
            "proctrace_events_lost_total{cause=\"ring_buffer_full\"}",
            5.0,
        ),
        ("proctrace_events_lost_total{cause=\"recursion.reap\"}", 3.0),
        (
            "proctrace_events_lost_total{cause=\"output_queue_full\"}",
            1.0,
        ),
        ("proctrace_events_lost_total{cause=\"recursion.fork\"}", 0.0),
        (
            "proctrace_events_damaged_total{cause=\"kernel_read_failed\"}",
            2.0,
        ),
        (
            "proctrace_proc_check_discrepancies_total{kind=\"missing\"}",
            2.0,
        ),
        (
            "proctrace_proc_check_discrepancies_total{kind=\"unknown\"}",
            0.0,
        ),
        (
            "proctrace_proc_check_discrepancies_total{kind=\"mismatched\"}",
            1.0,
        ),
        // Three reaps with a known zombie time: 2 s, 10 ms and 0 (the autoreap).
        ("proctrace_zombie_duration_seconds_count", 3.0),
        ("proctrace_zombie_duration_seconds_sum", 2.01),
        (
            "proctrace_zombie_duration_seconds_bucket{le=\"9.5367431640625e-07\"}",
            1.0,
        ),
        (
            "proctrace_zombie_duration_seconds_bucket{le=\"0.015625\"}",
            2.0,
        ),
        ("proctrace_zombie_duration_seconds_bucket{le=\"1\"}", 2.0),
        ("proctrace_zombie_duration_seconds_bucket{le=\"2\"}", 3.0),
        ("proctrace_process_lifetime_seconds_count", 3.0),
        ("proctrace_process_lifetime_seconds_sum", 3.502),
        // 2 ms is above 2^-9 s (1.953 ms): in the 2^-8 s bucket.
        (
            "proctrace_process_lifetime_seconds_bucket{le=\"0.001953125\"}",
            0.0,
        ),
        (
            "proctrace_process_lifetime_seconds_bucket{le=\"0.00390625\"}",
            1.0,
        ),
        ("proctrace_process_lifetime_seconds_bucket{le=\"0.5\"}", 2.0),
        ("proctrace_process_lifetime_seconds_bucket{le=\"2\"}", 2.0),
        ("proctrace_process_lifetime_seconds_bucket{le=\"4\"}", 3.0),
    ];
    for (series, value) in want {
        let got = get(&s, series);
        assert!((got - value).abs() < 1e-9, "{series}: {got}, want {value}");
    }
    // The comm of an exit outside the allow list never becomes a label.
    assert!(!s.keys().any(|k| k.contains("comm=\"sh\"")), "{s:#?}");
}

fn gauge(id: Option<&str>, zombies: u64, age_s: u64) -> ContainerZombieGauge {
    ContainerZombieGauge {
        container_id: id.map(Arc::from),
        zombies,
        oldest_age_ns: age_s * S,
    }
}

#[test]
fn container_series_are_bounded_and_removed_when_their_zombies_are_gone() {
    let metrics = Metrics::new(&[]);
    let mut shown = Default::default();
    let table = TableGauges {
        alive: 40,
        zombies: 6,
        by_container: vec![
            gauge(Some("aaa"), 3, 7),
            gauge(None, 1, 2),
            gauge(Some("bbb"), 1, 9),
            gauge(Some("ccc"), 1, 1),
        ],
    };
    set_table(&metrics, &mut shown, table, 2);
    let s = scrape(&metrics);
    assert_eq!(get(&s, "proctrace_processes{state=\"alive\"}"), 40.0);
    assert_eq!(get(&s, "proctrace_processes{state=\"zombie\"}"), 6.0);
    assert_eq!(get(&s, "proctrace_zombies{container=\"aaa\"}"), 3.0);
    assert_eq!(get(&s, "proctrace_zombies{container=\"bbb\"}"), 1.0);
    assert_eq!(get(&s, "proctrace_zombies{container=\"other\"}"), 2.0);
    assert_eq!(
        get(
            &s,
            "proctrace_zombie_oldest_age_seconds{container=\"other\"}"
        ),
        2.0
    );
    assert_eq!(
        get(&s, "proctrace_zombie_oldest_age_seconds{container=\"aaa\"}"),
        7.0
    );
    let containers = |s: &BTreeMap<String, f64>| {
        s.keys()
            .filter(|k| k.starts_with("proctrace_zombies{"))
            .count()
    };
    assert_eq!(containers(&s), 3);

    // aaa's zombies are reaped, the host's are the only ones left.
    let table = TableGauges {
        alive: 41,
        zombies: 1,
        by_container: vec![gauge(None, 1, 3)],
    };
    set_table(&metrics, &mut shown, table, 2);
    let s = scrape(&metrics);
    assert_eq!(get(&s, "proctrace_zombies{container=\"host\"}"), 1.0);
    assert_eq!(containers(&s), 1, "{s:#?}");
    assert!(
        !s.keys()
            .any(|k| k.contains("container=\"aaa\"") || k.contains("container=\"other\"")),
        "{s:#?}"
    );

    set_table(&metrics, &mut shown, TableGauges::default(), 2);
    let s = scrape(&metrics);
    assert_eq!(containers(&s), 0, "{s:#?}");
    assert!(!s.keys().any(|k| k.starts_with("proctrace_zombie_oldest")));
    assert_eq!(get(&s, "proctrace_processes{state=\"zombie\"}"), 0.0);
}

/// The recorded stream of real kernel records (golden_tests.rs): the counters say what the
/// JSON says, record for record.
#[test]
fn the_golden_stream_counts_as_its_records() {
    const EVENTS: &[u8] = include_bytes!("../../tests/data/golden/events.bin");
    let mut engine = Engine::new(EngineConfig {
        zombie_threshold_ns: S,
        clock: CLOCK,
        top: 10,
    });
    let mut records = Vec::new();
    let mut rest = EVENTS;
    let mut last_ns = 0;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let event = decode(frame).expect("a recorded record decodes");
        last_ns = event.ktime_ns();
        engine.handle(event, &mut records);
    }
    engine.summary(last_ns + 10 * S, &mut records);
    let (metrics, o) = observer(&[]);
    o.observe(&records);
    let s = scrape(&metrics);
    let n = |t: RecordType| records.iter().filter(|r| r.record_type() == t).count() as f64;
    assert!(n(RecordType::Fork) > 10.0, "the stream has forks");
    assert_eq!(get(&s, "proctrace_forks_total"), n(RecordType::Fork));
    assert_eq!(get(&s, "proctrace_execs_total"), n(RecordType::Exec));
    let exits: f64 = ["exit", "signal", "core"]
        .iter()
        .map(|r| get(&s, &format!("proctrace_exits_total{{reason=\"{r}\"}}")))
        .sum();
    assert_eq!(exits, n(RecordType::Exit));
    assert_eq!(
        get(&s, "proctrace_process_lifetime_seconds_count"),
        n(RecordType::Exit)
    );
    let reaps: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("proctrace_reaps_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(reaps, n(RecordType::Reap));
    let long_lived = records
        .iter()
        .filter(|r| matches!(r, Record::Reap(r) if r.zombie_class == Some(ZombieClass::LongLived)))
        .count() as f64;
    let counted: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("proctrace_reaps_total{") && k.contains("long_lived"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(counted, long_lived);
    let alerts: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("proctrace_zombie_alerts_total{"))
        .map(|(_, v)| v)
        .sum();
    assert!(n(RecordType::Zombie) >= 1.0, "the stream has zombie alerts");
    assert_eq!(alerts, n(RecordType::Zombie));
}

/// The README's table under `### The metrics` lists exactly the metrics exposed, each with
/// its type.
#[test]
fn readme_documents_every_metric() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split_once("### The metrics\n")
        .expect("README has a `### The metrics` section")
        .1;
    let section = section.split("\n### ").next().unwrap_or_default();
    let documented: BTreeMap<String, String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (name, rest) = l.split_once('`')?;
            let ty = rest.trim_start_matches(" |").split('|').next()?.trim();
            Some((name.to_owned(), ty.to_owned()))
        })
        .collect();
    let metrics = Metrics::new(&["sh".to_owned()]);
    let mut shown = Default::default();
    set_table(
        &metrics,
        &mut shown,
        TableGauges {
            alive: 1,
            zombies: 1,
            by_container: vec![gauge(None, 1, 1)],
        },
        20,
    );
    let mut text = String::new();
    prometheus_text::encode(&mut text, &metrics.registry).expect("encode");
    let exposed: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, ty) = l.split_once(' ')?;
            Some((name.to_owned(), ty.to_owned()))
        })
        .collect();
    assert_eq!(exposed.len(), 19, "{exposed:#?}");
    assert_eq!(documented, exposed, "README's table differs from /metrics");
}
