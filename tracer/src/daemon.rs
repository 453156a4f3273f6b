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
use tracer_common::{counter, EventHeader};

use crate::{
    cli::Args,
    decode::decode,
    engine::{Engine, EngineConfig},
    event::KernelEvent,
    loader,
    output::{JsonWriter, OutputError},
    procscan,
    progstats::ProgStats,
    reconcile,
    record::{CheckReason, LostCauses, Record, StartRecord},
    timefmt::{boottime_now_ns, Clock},
    tracefs,
};

/// How often the per-CPU loss counters are read: a `lost` record follows a loss within 1 s.
const LOST_POLL: Duration = Duration::from_millis(250);
/// Events handled per turn of the loop. Under sustained churn the ring buffer never runs
/// empty: without a bound the drain would never return, and signals, zombie alerts, loss
/// polling and output would all starve (while records piled up in memory).
const BATCH: usize = 1024;
/// After the ring buffer ran empty, wait this long before waiting for it again. The kernel
/// only wakes a consumer that has caught up (kernel/bpf/ringbuf.c, bpf_ringbuf_commit), so
/// without a pause a busy host costs one wakeup (and one write) per event; with it, one per
/// pause. Records are this much later at most; zombie alerts keep their own timer.
const COALESCE: Duration = Duration::from_millis(5);

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Before anything is printed: a reader may signal us as soon as it sees `start`.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
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
    release_startup_memory();

    let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("EVENTS map missing")?)?;
    let counters: PerCpuArray<MapData, u64> =
        PerCpuArray::try_from(ebpf.take_map("COUNTERS").context("COUNTERS map missing")?)?;
    let progstats = ProgStats::new(&ebpf);
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
    let mut decode_errors = 0u64;

    // The seam: the programs are attached, so events since then wait in the ring buffer
    // while /proc is read; then both are merged (reconcile::seed), and nothing is missed or
    // reported twice across it.
    let snapshot = procscan::scan().context("reading /proc")?;
    let mut pending = Vec::new();
    // "Everything up to now" is at most a full ring buffer: producers do not stop for us, so
    // draining until empty could go on for ever under churn.
    let in_buffer = args.ring_buffer_size as usize / std::mem::size_of::<EventHeader>();
    drain_into(ring.get_mut(), &mut decode_errors, in_buffer, |e| {
        pending.push(e)
    });
    let (seeded, zombies) = reconcile::seed(&mut engine, &snapshot, &pending);

    let mut start = StartRecord::new(
        &clock,
        boottime_now_ns()?,
        env!("CARGO_PKG_VERSION"),
        loaded.hooks.clone(),
        u64::from(args.ring_buffer_size),
    );
    start.seeded_processes = seeded;
    start.seeded_zombies = zombies.len() as u64;
    engine.emit(start.into(), &mut records);
    let now = boottime_now_ns()?;
    for pid in zombies {
        engine.report_zombie_now(pid, now, &mut records);
    }
    for event in pending {
        engine.handle(event, &mut records);
    }
    if emit(&mut out, &records)? {
        return Ok(());
    }
    records.clear();

    let deadline = args.duration.map(|d| Instant::now() + d);
    // From 0: losses during start-up (the /proc read) are reported like any other.
    let mut lost_seen = LostCauses::default();
    let mut lost_poll = tokio::time::interval(LOST_POLL);
    let checks = !args.proc_check_interval.is_zero();
    let period = if checks {
        args.proc_check_interval
    } else {
        Duration::from_secs(3600)
    };
    let mut check_timer = tokio::time::interval_at(Instant::now() + period, period);
    let mut check_due: Option<CheckReason> = None;
    let mut coalesce_until: Option<Instant> = None;
    // A check waiting for its candidates to settle (reconcile::SETTLE_NS).
    let mut confirm: Option<(reconcile::PendingCheck, Instant)> = None;

    loop {
        let alert_in = engine.next_deadline().map(|due| {
            let now = boottime_now_ns().unwrap_or(due);
            Duration::from_nanos(due.saturating_sub(now))
        });
        tokio::select! {
            guard = ring.readable_mut(), if coalesce_until.is_none() => {
                let mut guard = guard?;
                let n = drain(guard.get_inner_mut(), &mut engine, &mut records, &mut decode_errors, BATCH);
                // Only an emptied ring buffer waits for the next wakeup; a full batch
                // means more is there, so stay ready and come back after the other branches.
                if n < BATCH {
                    guard.clear_ready();
                    coalesce_until = Some(Instant::now() + COALESCE);
                }
            }
            _ = sleep_until_opt(coalesce_until), if coalesce_until.is_some() => {
                coalesce_until = None;
            }
            _ = sleep(alert_in.unwrap_or(Duration::from_secs(3600))), if alert_in.is_some() => {
                // Events already in the ring buffer happened before now: hand them over
                // first so that a reap racing its alert comes out in time order.
                drain(ring.get_mut(), &mut engine, &mut records, &mut decode_errors, BATCH);
                engine.tick(boottime_now_ns()?, &mut records);
            }
            _ = lost_poll.tick() => {
                let total = lost_so_far(&counters, &progstats, decode_errors);
                let new = total.since(&lost_seen);
                if new.total() > 0 {
                    engine.lost(new, boottime_now_ns()?, &mut records);
                    lost_seen = total;
                    // What was lost left the engine wrong somewhere: check /proc now.
                    check_due = Some(CheckReason::Lost);
                }
            }
            _ = check_timer.tick(), if checks => {
                check_due.get_or_insert(CheckReason::Interval);
            }
            _ = sleep_until_opt(confirm.as_ref().map(|c| c.1)), if confirm.is_some() => {
                if let Some((pending, _)) = confirm.take() {
                    let pids = pending.candidates.clone();
                    let snapshot =
                        tokio::task::spawn_blocking(move || procscan::scan_pids(&pids)).await??;
                    drain(ring.get_mut(), &mut engine, &mut records, &mut decode_errors, in_buffer);
                    let record =
                        reconcile::finish(&mut engine, &pending, &snapshot, boottime_now_ns()?);
                    engine.emit(record, &mut records);
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sleep_until_opt(deadline), if deadline.is_some() => break,
        }
        if checks && confirm.is_none() {
            if let Some(reason) = check_due.take() {
                // Read /proc off the event loop's thread, then hand over every event up to
                // the end of the read before comparing (see reconcile.rs on races).
                let snapshot = tokio::task::spawn_blocking(procscan::scan).await??;
                drain(
                    ring.get_mut(),
                    &mut engine,
                    &mut records,
                    &mut decode_errors,
                    in_buffer,
                );
                match reconcile::begin(&mut engine, &snapshot, reason, boottime_now_ns()?) {
                    Ok(record) => engine.emit(record, &mut records),
                    Err(pending) => {
                        let settle = Duration::from_nanos(reconcile::SETTLE_NS);
                        confirm = Some((pending, Instant::now() + settle));
                    }
                }
            }
        }
        if emit(&mut out, &records)? {
            return Ok(());
        }
        records.clear();
    }

    // Detach first, so the final drain sees every event up to the end; then account for
    // anything lost, then the summary: it is the last line.
    loader::detach_all(&mut ebpf);
    drain(
        ring.get_mut(),
        &mut engine,
        &mut records,
        &mut decode_errors,
        in_buffer,
    );
    let now = boottime_now_ns()?;
    let total = lost_so_far(&counters, &progstats, decode_errors);
    engine.lost(total.since(&lost_seen), now, &mut records);
    engine.tick(now, &mut records);
    engine.summary(now, &mut records);
    emit(&mut out, &records)?;
    drop(ebpf);
    Ok(())
}

/// Hands up to `max` events to the engine; returns how many there were.
fn drain(
    rb: &mut RingBuf<MapData>,
    engine: &mut Engine,
    records: &mut Vec<Record>,
    errors: &mut u64,
    max: usize,
) -> usize {
    drain_into(rb, errors, max, |event| engine.handle(event, records))
}

fn drain_into(
    rb: &mut RingBuf<MapData>,
    errors: &mut u64,
    max: usize,
    mut sink: impl FnMut(KernelEvent),
) -> usize {
    let mut n = 0;
    while n < max {
        let Some(item) = rb.next() else { break };
        n += 1;
        match decode(&item) {
            Ok(event) => sink(event),
            Err(err) => {
                *errors += 1;
                // A decoding error is a bug between the two sides: say so, but never flood.
                if *errors <= 10 {
                    eprintln!("proctrace: undecodable record: {err}");
                }
            }
        }
    }
    n
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

/// Every loss counter, as totals since start. Records we could not decode are lost to the
/// user too.
fn lost_so_far(
    counters: &PerCpuArray<MapData, u64>,
    progstats: &ProgStats,
    decode_errors: u64,
) -> LostCauses {
    LostCauses {
        ring_buffer_full: counters
            .get(&counter::RINGBUF_FULL, 0)
            .map(|values| values.iter().sum())
            .unwrap_or(0),
        recursion: progstats.recursion_misses(),
        undecodable: decode_errors,
    }
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

/// Parsing the kernel's BTF (twice: offsets, and aya's loader) peaks at tens of MB of heap
/// that is never needed again; hand it back to the system so the steady-state RSS is small.
fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
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
