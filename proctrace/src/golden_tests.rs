//! The JSON contract, end to end on a fixed input: a stream of ring-buffer records recorded
//! from the real kernel programs (the privileged scenarios: threads, a thread's exec, a
//! long-lived zombie, spawns, a leader that exits first, execveat, SIGCHLD ignored, a
//! subreaper, exit_group from a thread, a pid namespace, a signal death) goes through the
//! decoder, the engine and the writer, and must give exactly the recorded JSON Lines.
//!
//! The golden file was written by the code before the layout change and proves that the
//! change kept every byte. When the contract changes on purpose, regenerate it with
//! `PROCTRACE_UPDATE_GOLDEN=1 cargo test -p proctrace golden` and review the diff.
//!
//! The exec records' `euid` word was reserved when the stream was recorded (older programs
//! left stray values there); it was rewritten to each record's uid (0: the scenarios ran as
//! root and exec'd no setuid binary) when `euid` was added. The usage counters came later
//! still: the exec records got an absent `maxrss_pages` (u64::MAX after the header) and the
//! exit records an absent usage block (all u64::MAX), so their `usage` is `null`. The place
//! (issue 12) came after that: 24 zero bytes ("unknown") at the end of each fork and exit
//! record and after the exec header, so `cgroup`, `container_id`, `pidns` and `nspid` are
//! `null` (the regenerated file differs from the old one by exactly those four keys). The
//! zombie diagnosis (issue 12) added `reparented`, `siblings_unreaped` and `diagnosis` to the
//! zombie records and to the summary's `unreaped`, the summary's `zombies_by_parent` and
//! `zombies_by_container`, and the `wait` job to `lost_causes`: `diagnosis` is `null` here,
//! as the replay reads no /proc (the session's diagnoser fills it from the live parent).
use std::path::Path;

use crate::{
    engine::{Engine, EngineConfig},
    ingest::decode::decode,
    output::{timefmt::Clock, writer::encode_all},
};

/// Frames of `u32 little-endian length` + record bytes, as the ring buffer handed them over.
const EVENTS: &[u8] = include_bytes!("../tests/data/golden/events.bin");
const GOLDEN: &str = "tests/data/golden/records.jsonl";

const S: u64 = 1_000_000_000;

fn frames(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at(4);
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let (frame, rest) = rest.split_at(len);
        out.push(frame);
        bytes = rest;
    }
    out
}

fn replay() -> String {
    let mut engine = Engine::new(EngineConfig {
        zombie_threshold_ns: S,
        clock: Clock::from_offset_ns(1_795_702_550 * i128::from(S)),
        top: 10,
    });
    let mut records = Vec::new();
    let mut last_ns = 0;
    for frame in frames(EVENTS) {
        let event = decode(frame).expect("a recorded record decodes");
        last_ns = event.ktime_ns();
        engine.handle(event, &mut records);
    }
    // Past every zombie threshold: the alerts and the summary are part of the contract.
    let end_ns = last_ns + 5 * S;
    engine.tick(end_ns, &mut records);
    engine.summary(end_ns, &mut records);
    encode_all(&records)
}

#[test]
fn recorded_stream_gives_the_golden_records() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let got = replay();
    if std::env::var_os("PROCTRACE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("writing the golden file");
    }
    let want = std::fs::read_to_string(&path).expect("reading the golden file");
    assert!(got.lines().count() > 100, "the replay produced too little");
    for (i, (got, want)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
}
