//! A tracing session: the kernel programs loaded, the ring buffer → decoder → engine → JSON
//! pipeline, the seam with /proc at start-up, the timers (zombie alerts, loss polling, /proc
//! checks, --duration), and the orderly end (detach, last drain, losses, summary).
use std::{fs::File, io, os::fd::AsFd as _, time::Duration};

use anyhow::Context as _;
use aya::{
    maps::{MapData, RingBuf},
    Ebpf,
};
use proctrace_common::EventHeader;
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, Signal, SignalKind},
    time::{sleep, Instant, Interval},
};

use crate::{
    cgroup::{self, resolve::Resolver},
    cli::Args,
    diag,
    diagnoser::Diagnoser,
    engine::{Engine, EngineConfig},
    filter::RecordFilter,
    ingest::{decode::decode, event::KernelEvent},
    kernel::{
        btf,
        counters::{self, KernelCounters},
        explain, loader, offsets, privileges,
        progstats::ProgStats,
        tracefs_mount::{self, Tracefs},
        waiters::Waiters,
    },
    metrics,
    output::{
        queue::{Finished, OutputQueue, FINISH_WITHIN},
        record::{CheckReason, Hooks, LostCauses, ReapTimingName, Record, StartRecord},
        sink::Sink,
        timefmt::{boottime_now_ns, Clock},
        writer::{encode_line, OutputError},
    },
    proc::{reconcile, scan as procscan},
    released,
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
/// A timer that is switched off still needs a period; it never fires in practice.
const NEVER: Duration = Duration::from_secs(3600);

/// Whether anyone still reads our output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    Listening,
    /// The reader closed the pipe (`proctrace | head`): exit quietly with success.
    Gone,
    /// A write failed (ENOSPC, EIO): stop; `close` prints the summary on stderr and fails.
    Failed,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Before anything is printed: a reader may signal us as soon as it sees `start`.
    let mut stop = StopSignals::install()?;
    let (mut session, attached) = Session::open(&args)?;
    let mut reader = session.seed(attached, args.ring_buffer_size)?;
    if reader == Reader::Listening {
        reader = session.follow(&args, &mut stop).await?;
    }
    if reader == Reader::Gone {
        return Ok(());
    }
    session.close()
}

/// SIGINT, SIGTERM and SIGHUP: each ends the session with a summary. SIGHUP too: its default
/// action would kill proctrace without one (a closed terminal, `kill -HUP` by a supervisor);
/// with `--output` it reopens the file instead (see [`Session::hangup_reopens`]).
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    fn install() -> io::Result<Self> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for one; returns whether it was SIGHUP.
    async fn recv(&mut self) -> bool {
        tokio::select! {
            _ = self.interrupt.recv() => false,
            _ = self.terminate.recv() => false,
            _ = self.hangup.recv() => true,
        }
    }
}

/// What the loader settled, for the `start` record.
struct Attached {
    hooks: Hooks,
    unsupported: Vec<String>,
    reap_timing: ReapTimingName,
}

/// Kernel events on their way to records: the decoder and the engine.
struct Pipeline {
    engine: Engine,
    /// Cgroup ids to paths and containers, before the engine sees an event.
    cgroups: Resolver,
    /// Records of the current batch, written and cleared by [`Session::flush`].
    records: Vec<Record>,
    decode_errors: u64,
}

impl Pipeline {
    /// Hands up to `max` events to the engine; returns how many there were.
    fn drain(&mut self, ring: &mut RingBuf<MapData>, max: usize) -> usize {
        let Pipeline {
            engine,
            cgroups,
            records,
            decode_errors,
        } = self;
        drain_into(ring, decode_errors, max, |mut event| {
            if let Some(place) = event.place_mut() {
                cgroups.resolve(place);
            }
            engine.handle(event, records);
        })
    }
}

struct Session {
    /// Owns the programs and their links: dropping it detaches everything.
    ebpf: Ebpf,
    clock: Clock,
    ring: AsyncFd<RingBuf<MapData>>,
    counters: KernelCounters,
    progstats: ProgStats,
    /// Completes zombie records with their diagnosis before they are written.
    diagnoser: Diagnoser,
    /// `start.reap_timing` is `bounded`: reaps are learnt from the releases (released.rs).
    bounded_reaps: bool,
    pipeline: Pipeline,
    /// Records on their way to stdout, written by a thread of their own (queue.rs); `None`
    /// with `--no-events`.
    out: Option<OutputQueue>,
    /// `--metrics`: every record flushed is counted there too.
    metrics: Option<metrics::Agent>,
    /// `--pid`, `--tree`, …: which records are written (after the metrics counted them all).
    filter: Option<RecordFilter>,
    /// "Everything up to now" is at most a full ring buffer: producers do not stop for us,
    /// so draining until empty could go on for ever under churn.
    in_buffer: usize,
    /// Loss totals already reported. From 0: losses during start-up (the /proc read) are
    /// reported like any other.
    lost_seen: LostCauses,
    /// Last, so that it is dropped last: a tracefs we mounted is unmounted once the programs
    /// are detached (see tracefs_mount.rs).
    _tracefs: Tracefs,
}

impl Session {
    /// Loads and attaches the programs; nothing is printed yet.
    fn open(args: &Args) -> anyhow::Result<(Self, Attached)> {
        // Before anything is mounted or loaded: inside a pid namespace /proc and the kernel
        // events would never agree on a pid.
        crate::proc::namespace::check()?;
        // Before anything is mounted or loaded too: an address in use is a quick refusal.
        let metrics = args
            .metrics_config()
            .map(|config| metrics::Agent::start(&config))
            .transpose()?;
        let tracefs = mount_tracefs()?;
        privileges::check(false)?;
        let memlock_raised = raise_memlock();

        // Before loading: a path proctrace cannot write is a quick refusal.
        let sink = open_sink(args)?;

        let btf_path = std::path::Path::new(btf::VMLINUX_BTF);
        let hierarchy = cgroup::hierarchy::read();
        let v1_controller = hierarchy.as_ref().and_then(|h| h.controller.clone());
        let (layout, prepared) = beside(
            || offsets::build_config(tracefs.root(), btf_path, v1_controller.as_deref()),
            loader::prepare,
        );
        let (config, report, place) = layout.map_err(explain::layout_error)?;
        let situation = explain::LoadSituation {
            memlock_raised,
            ring_buffer_bytes: args.ring_buffer_size,
        };
        let hooks = (args.hooks.into(), args.reap_timing.into());
        let loaded = prepared
            .and_then(|prepared| loader::load(prepared, config, args.ring_buffer_size, hooks))
            .context("loading the kernel programs")
            .map_err(|err| explain::load_error(err, situation))?;
        diag::warn!("{}", hooks_in_words(&loaded.hooks, &loaded.fallbacks));
        for fallback in &loaded.fallbacks {
            diag::detail!("fell back: {}", fallback.detail);
        }
        diag::detail!("offsets: {report:?}");
        diag::detail!("place offsets: {place:?}");
        let mut ebpf = loaded.ebpf;
        release_startup_memory();

        let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("EVENTS map missing")?)?;
        let counters = KernelCounters::new(
            ebpf.take_map("COUNTERS")
                .context("COUNTERS map missing")?
                .try_into()?,
        );
        let progstats = ProgStats::new(&ebpf);
        let diagnoser = Diagnoser::new(Waiters::take(&mut ebpf)?);
        // SAFETY: the ring buffer owns its fd and outlives the registration (both live in
        // `ring`).
        let ring = unsafe { AsyncFd::register(ring) }
            .map_err(|e| e.into_parts().1)
            .context("polling the ring buffer")?;
        let clock = Clock::measure().context("reading clocks")?;
        let engine = Engine::new(EngineConfig {
            zombie_threshold_ns: u64::try_from(args.zombie_threshold.as_nanos())
                .unwrap_or(u64::MAX),
            clock,
            top: usize::from(args.top),
        });
        let session = Session {
            ebpf,
            clock,
            ring,
            counters,
            progstats,
            diagnoser,
            bounded_reaps: loaded.reap_timing == ReapTimingName::Bounded,
            pipeline: Pipeline {
                engine,
                cgroups: Resolver::new(hierarchy),
                records: Vec::with_capacity(BATCH),
                decode_errors: 0,
            },
            out: sink
                .map(|sink| {
                    let encoder = args.format.encoder(sink.file());
                    OutputQueue::start(sink, args.output_buffer_size, encoder)
                })
                .transpose()
                .context("starting the output thread")?,
            metrics,
            filter: RecordFilter::new(&args.filters),
            in_buffer: args.ring_buffer_size as usize / std::mem::size_of::<EventHeader>(),
            lost_seen: LostCauses::default(),
            _tracefs: tracefs,
        };
        let attached = Attached {
            hooks: loaded.hooks,
            unsupported: loaded.unsupported,
            reap_timing: loaded.reap_timing,
        };
        Ok((session, attached))
    }

    /// The seam: the programs are attached, so events since then wait in the ring buffer
    /// while /proc is read; then both are merged (reconcile::seed), and nothing is missed or
    /// reported twice across it. Prints `start`, the zombies found, and the events so far.
    fn seed(&mut self, attached: Attached, ring_buffer_bytes: u32) -> anyhow::Result<Reader> {
        let snapshot = procscan::scan().context("reading /proc")?;
        if let Some(filter) = &mut self.filter {
            filter.seed(&snapshot)?;
        }
        let mut pending = Vec::new();
        let errors = &mut self.pipeline.decode_errors;
        drain_into(self.ring.get_mut(), errors, self.in_buffer, |e| {
            pending.push(e);
        });
        let engine = &mut self.pipeline.engine;
        let records = &mut self.pipeline.records;
        let (seeded, zombies) = reconcile::seed(engine, &snapshot, &pending);

        let mut start = StartRecord::new(
            &self.clock,
            boottime_now_ns()?,
            env!("CARGO_PKG_VERSION"),
            attached.hooks,
            attached.unsupported,
            u64::from(ring_buffer_bytes),
        );
        start.reap_timing = attached.reap_timing;
        start.seeded_processes = seeded;
        start.seeded_zombies = zombies.len() as u64;
        start.cgroup_hierarchy = self.pipeline.cgroups.hierarchy();
        engine.emit(start.into(), records);
        let now = boottime_now_ns()?;
        engine.report_zombies_now(&zombies, now, records);
        for mut event in pending {
            if let Some(place) = event.place_mut() {
                self.pipeline.cgroups.resolve(place);
            }
            engine.handle(event, records);
        }
        self.flush()
    }

    /// Follows the kernel until a stop signal, --duration, or the reader going away.
    async fn follow(&mut self, args: &Args, stop: &mut StopSignals) -> anyhow::Result<Reader> {
        let deadline = args.duration.map(|d| Instant::now() + d);
        let mut lost_poll = tokio::time::interval(LOST_POLL);
        let mut checks = Checks::new(args.proc_check_interval);
        let mut coalesce_until: Option<Instant> = None;
        loop {
            let alert_in = self.pipeline.engine.next_deadline().map(|due| {
                let now = boottime_now_ns().unwrap_or(due);
                Duration::from_nanos(due.saturating_sub(now))
            });
            let settled_at = checks.settle_until();
            tokio::select! {
                guard = self.ring.readable_mut(), if coalesce_until.is_none() => {
                    let mut guard = guard?;
                    let n = self.pipeline.drain(guard.get_inner_mut(), BATCH);
                    // Only an emptied ring buffer waits for the next wakeup; a full batch
                    // means more is there, so stay ready and come back after the other
                    // branches.
                    if n < BATCH {
                        guard.clear_ready();
                        coalesce_until = Some(Instant::now() + COALESCE);
                    }
                }
                _ = sleep_until_opt(coalesce_until), if coalesce_until.is_some() => {
                    coalesce_until = None;
                }
                _ = sleep(alert_in.unwrap_or(NEVER)), if alert_in.is_some() => {
                    self.alert_zombies()?;
                }
                _ = lost_poll.tick() => {
                    if self.report_losses()? {
                        // What was lost left the engine wrong somewhere: check /proc now.
                        checks.due = Some(CheckReason::Lost);
                    }
                }
                _ = checks.timer.tick(), if checks.enabled => {
                    checks.due.get_or_insert(CheckReason::Interval);
                }
                _ = sleep_until_opt(settled_at), if settled_at.is_some() => {
                    if let Some((pending, _)) = checks.settling.take() {
                        self.confirm_check(pending).await?;
                    }
                }
                hangup = stop.recv() => if !self.hangup_reopens(hangup) {
                    return Ok(Reader::Listening);
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => return Ok(Reader::Listening),
            }
            if let Some(reason) = checks.take_due() {
                if let Err(pending) = self.begin_check(reason).await? {
                    let settle = Duration::from_nanos(reconcile::SETTLE_NS);
                    checks.settling = Some((pending, Instant::now() + settle));
                }
            }
            let reader = self.flush()?;
            if reader != Reader::Listening {
                return Ok(reader);
            }
        }
    }

    /// SIGHUP with `--output`: the file is reopened (a log rotation) and tracing goes on.
    /// Otherwise (stdout, SIGINT, SIGTERM) the signal stops the session.
    fn hangup_reopens(&mut self, hangup: bool) -> bool {
        hangup && self.out.as_mut().is_some_and(OutputQueue::reopen)
    }

    /// Detach first, so the final drain sees every event up to the end; then account for
    /// anything lost, then the summary: it is the last line.
    fn close(mut self) -> anyhow::Result<()> {
        let stopping = std::time::Instant::now();
        loader::detach_all(&mut self.ebpf);
        self.catch_up();
        self.settle_last_releases()?;
        self.report_losses()?;
        let now = boottime_now_ns()?;
        self.pipeline
            .engine
            .wind_up(now, &mut self.pipeline.records);
        if self.flush()? == Reader::Gone {
            return Ok(());
        }
        // Every record is queued or dropped by now, so the summary counts every drop: after
        // `wind_up` nothing else falls due at the same `now`, and `lost` and `summary` are
        // never dropped.
        let unreported = self.out.as_mut().map_or(0, OutputQueue::take_dropped_now);
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        engine.lost(output_drops(unreported), now, records);
        engine.summary(now, records);
        let summary = records.last().cloned();
        if self.flush()? == Reader::Gone {
            return Ok(());
        }
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let name = out.name().to_owned();
        match out.finish(stopping + FINISH_WITHIN) {
            Ok(Finished::Delivered) | Err(OutputError::BrokenPipe) => Ok(()),
            Ok(Finished::Stalled { lines, bytes }) => {
                report_stalled(&name, lines, bytes, summary.as_ref());
                Ok(())
            }
            Err(err) => {
                // The error line comes last, from main; the summary the output could not
                // take goes before it.
                print_summary(summary.as_ref());
                Err(err).context(format!("writing to {name}"))
            }
        }
    }

    /// Hands every event already in the ring buffer (at most a full buffer) to the engine.
    fn catch_up(&mut self) {
        self.pipeline.drain(self.ring.get_mut(), self.in_buffer);
    }

    /// Zombie alerts are due. Events already in the ring buffer happened before now: hand them
    /// over first so that a reap racing its alert comes out in time order.
    /// Losses are read first: a zombie whose reap was lost must not be reported before the
    /// `lost` record that explains it.
    fn alert_zombies(&mut self) -> anyhow::Result<()> {
        self.pipeline.drain(self.ring.get_mut(), BATCH);
        self.report_losses()?;
        let now = boottime_now_ns()?;
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        engine.tick(now, records);
        Ok(())
    }

    /// Emits a `lost` record for losses (or damage) since the last one; returns whether
    /// there was any: either can leave the engine wrong (a missed event, a thread taken for
    /// a process), so the caller checks /proc.
    fn report_losses(&mut self) -> anyhow::Result<bool> {
        let total = self.lost_so_far();
        let new = total.since(&self.lost_seen);
        if new.is_empty() {
            return Ok(false);
        }
        let now = boottime_now_ns()?;
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        engine.lost(new, now, records);
        self.lost_seen = total;
        Ok(true)
    }

    /// Every loss counter, as totals since start: the programs' own, the runs the kernel
    /// skipped, and the records we could not decode (lost to the user too).
    fn lost_so_far(&self) -> LostCauses {
        LostCauses {
            recursion: self.progstats.recursion_misses(),
            undecodable: self.pipeline.decode_errors,
            ..counters::causes(&self.counters.totals())
        }
    }

    /// Reads /proc off the event loop's thread, then hands over every event up to the end of
    /// the read before comparing (see reconcile.rs on races). A check whose mismatches may
    /// still be events in flight comes back as pending, to be confirmed after a pause.
    async fn begin_check(
        &mut self,
        reason: CheckReason,
    ) -> anyhow::Result<Result<(), reconcile::PendingCheck>> {
        let snapshot = tokio::task::spawn_blocking(procscan::scan).await??;
        self.catch_up();
        let now = boottime_now_ns()?;
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        let check = reconcile::begin(engine, &snapshot, reason, now)
            .map(|record| engine.emit(record, records));
        self.reap_found_gone(now);
        Ok(check)
    }

    /// Rereads the pending check's candidates and emits its `proc_check` record.
    async fn confirm_check(&mut self, pending: reconcile::PendingCheck) -> anyhow::Result<()> {
        let pids = pending.candidates.clone();
        let snapshot = tokio::task::spawn_blocking(move || procscan::scan_pids(&pids)).await??;
        self.catch_up();
        let now = boottime_now_ns()?;
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        let record = reconcile::finish(engine, &pending, &snapshot, now);
        engine.emit(record, records);
        self.reap_found_gone(now);
        Ok(())
    }

    /// Bounded reap timing: the zombies a check found gone from /proc were released, even if
    /// their release events never come (released.rs).
    fn reap_found_gone(&mut self, now: u64) {
        if !self.bounded_reaps {
            return;
        }
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        for event in released::found_gone(engine, &self.diagnoser, now) {
            engine.handle(event, records);
        }
    }

    /// Bounded reap timing, at the end: the zombies released since their last event whose
    /// release tracing stopped too early to see (released.rs).
    /// A read of a few pids, on this thread: the session is ending.
    fn settle_last_releases(&mut self) -> anyhow::Result<()> {
        if !self.bounded_reaps {
            return Ok(());
        }
        let pids = released::zombies(&self.pipeline.engine);
        let snapshot = procscan::scan_pids(&pids)?;
        let Pipeline {
            engine, records, ..
        } = &mut self.pipeline;
        for event in released::missing_from(engine, &snapshot, &self.diagnoser) {
            engine.handle(event, records);
        }
        Ok(())
    }

    /// Hands the batch to the output thread, and after it a `lost` record for the records the
    /// full output queue dropped since the last one, once there is room again.
    /// With `--metrics` every record is counted first, and about once a second the gauges
    /// are refreshed from the engine.
    fn flush(&mut self) -> anyhow::Result<Reader> {
        self.diagnoser.complete(&mut self.pipeline.records);
        if let Some(agent) = &mut self.metrics {
            agent.observe(&self.pipeline.records);
            let now = std::time::Instant::now();
            if agent.refresh_due(now) {
                agent.refresh(self.pipeline.engine.gauges(boottime_now_ns()?), now);
            }
        }
        let Some(out) = &mut self.out else {
            self.pipeline.records.clear();
            return Ok(Reader::Listening);
        };
        if let Some(filter) = &mut self.filter {
            filter.retain(&mut self.pipeline.records);
        }
        let mut result = out.send(&self.pipeline.records);
        self.pipeline.records.clear();
        let dropped = out.take_dropped();
        if result.is_ok() && dropped > 0 {
            let now = boottime_now_ns()?;
            let Pipeline {
                engine, records, ..
            } = &mut self.pipeline;
            engine.lost(output_drops(dropped), now, records);
            if let Some(agent) = &self.metrics {
                agent.observe(records);
            }
            result = out.send(records);
            records.clear();
        }
        match result {
            Ok(()) => Ok(Reader::Listening),
            Err(OutputError::BrokenPipe) => Ok(Reader::Gone),
            // Reported by `close`, with the summary.
            Err(OutputError::Io(_)) => Ok(Reader::Failed),
            Err(err) => Err(err).context(format!("writing to {}", out.name())),
        }
    }
}

/// The periodic /proc comparison (--proc-check-interval) and the one after losses.
struct Checks {
    enabled: bool,
    timer: Interval,
    due: Option<CheckReason>,
    /// A check waiting for its candidates to settle (reconcile::SETTLE_NS).
    settling: Option<(reconcile::PendingCheck, Instant)>,
}

impl Checks {
    fn new(interval: Duration) -> Self {
        let enabled = !interval.is_zero();
        let period = if enabled { interval } else { NEVER };
        Checks {
            enabled,
            timer: tokio::time::interval_at(Instant::now() + period, period),
            due: None,
            settling: None,
        }
    }

    /// The check to start now, if one is due and none is settling.
    fn take_due(&mut self) -> Option<CheckReason> {
        if self.enabled && self.settling.is_none() {
            self.due.take()
        } else {
            None
        }
    }

    fn settle_until(&self) -> Option<Instant> {
        self.settling.as_ref().map(|(_, until)| *until)
    }
}

/// The one line printed at start: the hook of each job, and the preferred hooks the kernel
/// refused, in words.
fn hooks_in_words(hooks: &Hooks, fallbacks: &[loader::Fallback]) -> String {
    let hook = |h: &Option<String>| h.clone().unwrap_or_else(|| "none".to_owned());
    let mut text = format!(
        "hooks: fork {}, exec {}, exit {}, reap {}, wait {}",
        hook(&hooks.fork),
        hook(&hooks.exec),
        hook(&hooks.exit),
        hook(&hooks.reap),
        hook(&hooks.wait)
    );
    if !fallbacks.is_empty() {
        let refused: Vec<String> = fallbacks
            .iter()
            .map(|f| format!("{}: {}", f.hook, f.in_words))
            .collect();
        text.push_str("; preferred hooks refused: ");
        text.push_str(&refused.join("; "));
    }
    text
}

/// Records the output queue dropped, as a loss (nothing when `n` is 0).
fn output_drops(n: u64) -> LostCauses {
    LostCauses {
        output_queue_full: n,
        ..LostCauses::default()
    }
}

/// The reader still had not taken everything when proctrace had to exit: say so on stderr,
/// with the summary it may never read on stdout (or the `--output` FIFO).
fn report_stalled(name: &str, lines: usize, bytes: usize, summary: Option<&Record>) {
    diag::always!(
        "the reader of {name} stalled: {lines} records ({bytes} bytes) could not be written \
         before exit; the summary follows here"
    );
    print_summary(summary);
}

/// The summary as one JSON line on stderr (after `proctrace: `), even with `-q`.
fn print_summary(summary: Option<&Record>) {
    let mut line = Vec::new();
    if let Some(Ok(())) = summary.map(|s| encode_line(s, &mut line)) {
        diag::always!("{}", String::from_utf8_lossy(&line).trim_end());
    }
}

/// Where the records go: the `--output` file, stdout, or nowhere (`--no-events`).
fn open_sink(args: &Args) -> anyhow::Result<Option<Sink>> {
    if args.no_events {
        return Ok(None);
    }
    Ok(Some(match &args.output.output {
        Some(path) => Sink::open(path)?,
        None => stdout_file()?.into(),
    }))
}

/// A descriptor of our own for stdout, for the output thread: std's `Stdout` and its lock
/// stay unused (and the exit-time flush of std has nothing to wait for).
fn stdout_file() -> anyhow::Result<File> {
    let fd = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stdout")?;
    Ok(File::from(fd))
}

fn drain_into(
    ring: &mut RingBuf<MapData>,
    errors: &mut u64,
    max: usize,
    mut sink: impl FnMut(KernelEvent),
) -> usize {
    let mut n = 0;
    while n < max {
        let Some(item) = ring.next() else { break };
        n += 1;
        match decode(&item) {
            Ok(event) => sink(event),
            Err(err) => {
                *errors += 1;
                // A decoding error is a bug between the two sides: say so, but never flood.
                if *errors <= 10 {
                    diag::warn!("undecodable record: {err}");
                }
            }
        }
    }
    n
}

/// `first` on a thread of its own while `second` runs here; both here, in turn, when no
/// thread can be had (a host out of threads must still be traced; `first` is `Copy`, a
/// closure of borrows, so it is still there to run). The kernel's BTF is parsed three times
/// at start-up, once by the offsets (btf.rs) and twice by aya (loader.rs), each about half a
/// second under emulation: the offsets' parse runs beside aya's.
fn beside<A: Send, B>(
    first: impl FnOnce() -> A + Send + Copy,
    second: impl FnOnce() -> B,
) -> (A, B) {
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("proctrace-btf".into())
            .spawn_scoped(scope, first);
        let b = second();
        let a = match helper {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => first(),
        };
        (a, b)
    })
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// tracefs mounted where aya looks, or the reason it cannot be, privileges first: a user
/// without CAP_BPF is told that rather than what tracefs refused.
fn mount_tracefs() -> anyhow::Result<Tracefs> {
    match tracefs_mount::ensure_mounted() {
        Ok(tracefs) => Ok(tracefs),
        Err(err) => {
            let need_sys_admin = matches!(err, tracefs_mount::MountError::Permission { .. });
            privileges::check(need_sys_admin)?;
            Err(err.into())
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

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; later ones use memcg and ignore it
/// (kernel/bpf/syscall.c, "bpf: switch to memcg-based memory accounting"). Raising the limit
/// needs CAP_SYS_RESOURCE: failure is harmless on 5.11+, and on older kernels the map
/// creation error is explained (see kernel/explain.rs). Returns whether it was raised.
fn raise_memlock() -> bool {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall with a valid pointer.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_names_each_hook_and_each_refusal_in_words() {
        let hooks = Hooks {
            fork: Some("tp_btf/sched_process_fork".into()),
            exec: Some("tp_btf/sched_process_exec".into()),
            exit: Some("tp_btf/sched_process_exit".into()),
            reap: Some("tp_btf/sched_process_free".into()),
            wait: Some("tp_btf/sched_process_wait".into()),
        };
        assert_eq!(
            hooks_in_words(&hooks, &[]),
            "hooks: fork tp_btf/sched_process_fork, exec tp_btf/sched_process_exec, exit \
             tp_btf/sched_process_exit, reap tp_btf/sched_process_free, wait \
             tp_btf/sched_process_wait"
        );
        let refused = [loader::Fallback {
            detail: "reap: fentry/release_task: … Verifier output: …".into(),
            hook: "fentry/release_task".into(),
            in_words: "not permitted by this kernel (EPERM)",
        }];
        let line = hooks_in_words(&hooks, &refused);
        assert!(
            line.ends_with(
                "; preferred hooks refused: fentry/release_task: not permitted by this kernel \
                 (EPERM)"
            ),
            "{line}"
        );
        assert!(!line.contains("Verifier"), "details are for -v: {line}");
    }
}
