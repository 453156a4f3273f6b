//! The event loop: kernel ring buffer → decoder → engine → JSON on stdout, plus the timers
//! (zombie alerts, lost-event polling, --duration) and signal handling.
use std::{
    io::{self, Write},
    time::Duration,
};

use anyhow::{bail, Context as _};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, SignalKind},
    time::{sleep, Instant},
};
use tracer_common::counter;

use crate::{
    cli::Args,
    decode::decode,
    engine::{Engine, EngineConfig},
    loader,
    output::{JsonWriter, OutputError},
    record::{Record, StartRecord},
    timefmt::{boottime_now_ns, Clock},
    tracefs,
};

/// How often the per-CPU loss counters are read: a `lost` record follows a loss within 1 s.
const LOST_POLL: Duration = Duration::from_millis(250);

pub async fn run(args: Args) -> anyhow::Result<()> {
    let tracefs_root = tracefs_root()?;
    crate::privileges::check(false)?;
    raise_memlock();

    let btf_path = std::path::Path::new(crate::btf::VMLINUX_BTF);
    let (mut config, report) = crate::offsets::build_config(&tracefs_root, btf_path)?;
    config.self_tgid = std::process::id();
    let loaded = loader::load(config, args.ring_buffer_size, args.hooks)
        .context("loading the kernel programs")?;
    for reason in &loaded.fallbacks {
        eprintln!("proctrace: fell back: {reason}");
    }
    eprintln!("proctrace: offsets: {report:?}");
    let mut ebpf = loaded.ebpf;

    let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("EVENTS map missing")?)?;
    let counters: PerCpuArray<MapData, u64> =
        PerCpuArray::try_from(ebpf.take_map("COUNTERS").context("COUNTERS map missing")?)?;
    // SAFETY: the ring buffer owns its fd and outlives the registration (both live in `ring`).
    let mut ring = unsafe { AsyncFd::register(ring) }
        .map_err(|e| e.into_parts().1)
        .context("polling the ring buffer")?;

    let clock = Clock::measure().context("reading clocks")?;
    let mut engine = Engine::new(EngineConfig {
        zombie_threshold_ns: u64::try_from(args.zombie_threshold.as_nanos()).unwrap_or(u64::MAX),
        clock,
    });
    let mut out = JsonWriter::new(io::stdout().lock());
    let mut records: Vec<Record> = Vec::with_capacity(1024);

    let start = StartRecord::new(
        &clock,
        boottime_now_ns()?,
        env!("CARGO_PKG_VERSION"),
        loaded.hooks.clone(),
        u64::from(args.ring_buffer_size),
    );
    engine.emit(start.into(), &mut records);
    if emit(&mut out, &records)? {
        return Ok(());
    }
    records.clear();

    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut lost_seen = read_lost(&counters);
    let mut lost_poll = tokio::time::interval(LOST_POLL);
    let mut decode_errors = 0u64;

    loop {
        let alert_in = engine.next_deadline().map(|due| {
            let now = boottime_now_ns().unwrap_or(due);
            Duration::from_nanos(due.saturating_sub(now))
        });
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                drain(guard.get_inner_mut(), &mut engine, &mut records, &mut decode_errors);
                guard.clear_ready();
            }
            _ = sleep(alert_in.unwrap_or(Duration::from_secs(3600))), if alert_in.is_some() => {
                // Events already in the ring buffer happened before now: hand them over
                // first so that a reap racing its alert comes out in time order.
                drain(ring.get_mut(), &mut engine, &mut records, &mut decode_errors);
                engine.tick(boottime_now_ns()?, &mut records);
            }
            _ = lost_poll.tick() => {
                let total = read_lost(&counters);
                if total > lost_seen {
                    engine.lost(total - lost_seen, boottime_now_ns()?, &mut records);
                    lost_seen = total;
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sleep_until_opt(deadline), if deadline.is_some() => break,
        }
        if emit(&mut out, &records)? {
            return Ok(());
        }
        records.clear();
    }

    // Drain what is already in the ring buffer, then account for anything lost, then the
    // summary: it is the last line.
    drain(
        ring.get_mut(),
        &mut engine,
        &mut records,
        &mut decode_errors,
    );
    let now = boottime_now_ns()?;
    let total = read_lost(&counters);
    if total > lost_seen {
        engine.lost(total - lost_seen, now, &mut records);
    }
    engine.tick(now, &mut records);
    engine.summary(now, &mut records);
    emit(&mut out, &records)?;
    // Dropping `ebpf` detaches every program.
    drop(ebpf);
    Ok(())
}

fn drain(
    rb: &mut RingBuf<MapData>,
    engine: &mut Engine,
    records: &mut Vec<Record>,
    errors: &mut u64,
) {
    while let Some(item) = rb.next() {
        match decode(&item) {
            Ok(event) => engine.handle(event, records),
            Err(err) => {
                *errors += 1;
                // A decoding error is a bug between the two sides: say so, but never flood.
                if *errors <= 10 {
                    eprintln!("proctrace: undecodable record: {err}");
                }
            }
        }
    }
}

/// Write and flush a batch. Returns true when the reader has gone (`| head`): the caller exits
/// quietly with success.
fn emit<W: Write>(out: &mut JsonWriter<W>, records: &[Record]) -> anyhow::Result<bool> {
    let result = out.write_all(records).and_then(|()| out.flush());
    match result {
        Ok(()) => Ok(false),
        Err(OutputError::BrokenPipe) => Ok(true),
        Err(err) => Err(err).context("writing to stdout"),
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn read_lost(counters: &PerCpuArray<MapData, u64>) -> u64 {
    counters
        .get(&counter::RINGBUF_FULL, 0)
        .map(|values| values.iter().sum())
        .unwrap_or(0)
}

fn tracefs_root() -> anyhow::Result<std::path::PathBuf> {
    match tracefs::ensure_mounted() {
        Ok(root) => Ok(root),
        Err(err) => {
            // Name the privilege problem first when that is the cause.
            crate::privileges::check(true)?;
            bail!("tracefs: {err}")
        }
    }
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; later ones use memcg and ignore it.
fn raise_memlock() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall with a valid pointer.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) };
    // Failure is harmless on 5.11+ (memcg accounting); on older kernels the map creation
    // error that follows names the problem.
    let _ = ret;
}
