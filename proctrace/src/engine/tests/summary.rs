//! The `summary` record and the JSON output.

use super::*;

#[test]
fn summary_counts_percentiles_and_unreaped() {
    let mut e = engine();
    let mut out = Vec::new();
    e.emit(
        crate::output::record::StartRecord::new(
            &CLOCK,
            S,
            "0.1.0",
            Default::default(),
            Vec::new(),
            1 << 20,
        )
        .into(),
        &mut out,
    );
    // 100 reaps with zombie times 1 ms .. 100 ms.
    for i in 1..=100u32 {
        let (pid, t) = (2000 + i, 2 * S + u64::from(i) * 200 * MS);
        e.handle(fork(t, pid, 1, t), &mut out);
        e.handle(exit(t + 1, pid, 1, t, "w", EXITED_0), &mut out);
        e.handle(
            wait(t + 1 + u64::from(i) * MS, 1, pid, Some(EXITED_0)),
            &mut out,
        );
        e.handle(free(t + 1 + u64::from(i) * MS + GP, pid, t), &mut out);
    }
    // One autoreap (zombie_ns 0), one unknown reap (no zombie_ns: not counted).
    e.handle(fork(30 * S, 3000, 1, 30 * S), &mut out);
    e.handle(exit_autoreap(30 * S + 1, 3000, 1, 30 * S, "a"), &mut out);
    e.handle(wait(30 * S + 2, 1, 3001, Some(EXITED_0)), &mut out);
    // Two unreaped zombies, one with a known parent.
    e.handle(exec(31 * S, 3100, 1, 10, "parentd"), &mut out);
    e.handle(fork(31 * S, 3101, 3100, 31 * S), &mut out);
    e.handle(exit(32 * S, 3101, 3100, 31 * S, "kid", EXITED_0), &mut out);
    e.handle(fork(32 * S, 3102, 77, 32 * S), &mut out);
    e.handle(
        exit(33 * S, 3102, 77, 32 * S, "orphan", exited(1)),
        &mut out,
    );
    e.lost(rb(5), 34 * S, &mut out);
    e.lost(rb(0), 34 * S, &mut out); // nothing
    e.lost(
        LostCauses {
            recursion: HookCounts {
                reap: 1,
                ..HookCounts::default()
            },
            undecodable: 1,
            ..LostCauses::default()
        },
        35 * S,
        &mut out,
    );
    e.tick(36 * S, &mut out);
    let before: Vec<RecordType> = out.iter().map(Record::record_type).collect();
    e.summary(40 * S, &mut out);
    let Some(Record::Summary(s)) = out.last() else {
        panic!("{:?}", out.last())
    };
    let count = |t: RecordType| before.iter().filter(|&&x| x == t).count() as u64;
    for t in [
        RecordType::Start,
        RecordType::Fork,
        RecordType::Exec,
        RecordType::Exit,
        RecordType::Lost,
        RecordType::Zombie,
        RecordType::Reap,
    ] {
        assert_eq!(s.counts.get(t), count(t), "{t:?}");
    }
    assert_eq!(s.counts.start, 1);
    assert_eq!(s.counts.lost, 2);
    assert_eq!(s.counts.reap, 102);
    assert_eq!(s.counts.zombie, 2);
    assert_eq!(s.lost, 7);
    assert_eq!(e.lost_total(), 7);
    assert_eq!(
        s.lost_causes,
        LostCauses {
            ring_buffer_full: 5,
            recursion: HookCounts {
                reap: 1,
                ..HookCounts::default()
            },
            undecodable: 1,
            ..LostCauses::default()
        }
    );
    let lost: Vec<(u64, LostCauses)> = out
        .iter()
        .filter_map(|r| match r {
            Record::Lost(l) => Some((l.count, l.causes)),
            _ => None,
        })
        .collect();
    assert_eq!(lost[1].0, 2, "{lost:?}");
    assert_eq!(lost[1].1.recursion.reap, 1, "{lost:?}");
    // 101 values: 0, 1 ms .. 100 ms. p50 = 50 ms (51st value), p99 = 99 ms (100th), ±1 %.
    assert_eq!(s.zombie_ns.count, 101);
    let near = |got: Option<u64>, want: u64| {
        let got = got.expect("some") as f64;
        (got - want as f64).abs() <= want as f64 * 0.01
    };
    assert!(near(s.zombie_ns.p50, 50 * MS), "{:?}", s.zombie_ns);
    assert!(near(s.zombie_ns.p99, 99 * MS), "{:?}", s.zombie_ns);
    assert_eq!(s.zombie_ns.max, Some(100 * MS));
    // Unreaped, oldest first.
    assert_eq!(s.unreaped.len(), 2);
    assert_eq!(
        (
            s.unreaped[0].pid,
            s.unreaped[0].proc_id.to_string().as_str(),
            s.unreaped[0].comm.as_str()
        ),
        (3101, "3101-31000000000", "kid")
    );
    assert_eq!(s.unreaped[0].zombie_ns, 8 * S);
    assert_eq!(s.unreaped[0].parent_comm.as_deref(), Some("parentd"));
    assert_eq!((s.unreaped[1].pid, s.unreaped[1].ppid), (3102, 77));
    assert_eq!(s.unreaped[1].parent_comm, None);
    assert_eq!(s.unreaped[1].zombie_ns, 7 * S);
    assert_eq!(s.duration_ns, 39 * S, "since the start record");
    assert_eq!(s.ktime_ns, 40 * S);
}

#[test]
fn summary_of_nothing() {
    let mut e = engine();
    let mut out = Vec::new();
    e.summary(5 * S, &mut out);
    let json = serde_json::to_value(&out[0]).expect("serializable");
    assert_eq!(
        json["zombie_ns"],
        serde_json::json!({"p50": null, "p99": null, "max": null, "count": 0})
    );
    assert_eq!(json["unreaped"], serde_json::json!([]));
    assert_eq!(json["duration_ns"], 0);
}

#[test]
fn engine_output_is_json_lines() {
    let mut e = engine();
    let mut out = run(
        &mut e,
        [
            fork(S, 1, 0, 0),
            exec(S + 1, 1, 0, 0, "init\n\"quoted\""),
            exit(2 * S, 1, 0, 0, "init", SIGKILL | 0x80),
        ],
    );
    e.tick(4 * S, &mut out);
    e.handle(free(5 * S, 1, 0), &mut out);
    e.summary(6 * S, &mut out);
    let text = crate::output::writer::encode_all(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|v| v["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, ["fork", "exec", "exit", "zombie", "reap", "summary"]);
    assert_eq!(lines[2]["core_dumped"], true);
    assert_eq!(lines[2]["signal"], 9);
    assert_eq!(lines[2]["exit_code"], serde_json::Value::Null);
    assert_eq!(lines[4]["how"], "release");
    assert_eq!(lines[1]["time"], "2026-11-26T14:15:51.000000001Z");
}
