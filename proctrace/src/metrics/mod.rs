//! Metrics for Prometheus (`--metrics ADDR`, README "Metrics"): counters and histograms made
//! from the records as they are flushed, gauges refreshed from the engine's process table
//! about once a second, served on `/metrics` by an HTTP server on the session's runtime.
//!
//! # Layout
//! - `definitions`: every metric, its labels and the registry;
//! - `observer`: records in, counter and histogram updates out;
//! - `containers`: the bounded `container` label of the zombie gauges;
//! - `server`: the HTTP endpoint and the choice of exposition format;
//! - this file: [`Agent`], which the session holds, and the gauge refresh.
mod containers;
mod definitions;
mod observer;
mod server;

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{engine::TableGauges, output::record::Record};

use definitions::{ContainerLabel, Metrics, StateLabel};
use observer::Observer;

/// How often the gauges are refreshed from the engine.
pub const REFRESH: Duration = Duration::from_secs(1);

/// What `--metrics*` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    pub addr: SocketAddr,
    /// `--metrics-max-containers`.
    pub max_containers: usize,
    /// `--metrics-comm-allow`.
    pub comms: Vec<String>,
}

/// The metrics of one session: their values, the server that exposes them, and what the
/// gauges were last set to.
pub struct Agent {
    metrics: Arc<Metrics>,
    observer: Observer,
    max_containers: usize,
    /// The `container` label values that have a series now.
    containers: BTreeSet<String>,
    next_refresh: Instant,
    server: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Listens on the address (an error names it) and serves `/metrics` from now on. Call it
    /// inside the runtime.
    pub fn start(config: &MetricsConfig) -> anyhow::Result<Agent> {
        let listener = server::bind(config.addr)?;
        let metrics = Arc::new(Metrics::new(&config.comms));
        let server = server::spawn(listener, Arc::clone(&metrics));
        Ok(Agent {
            observer: Observer::new(Arc::clone(&metrics), &config.comms),
            metrics,
            max_containers: config.max_containers,
            containers: BTreeSet::new(),
            next_refresh: Instant::now(),
            server,
        })
    }

    /// Counts a batch of records (every record made passes here once).
    pub fn observe(&self, records: &[Record]) {
        self.observer.observe(records);
    }

    /// Whether the gauges are due for a refresh at `now` (one second after the last).
    pub fn refresh_due(&self, now: Instant) -> bool {
        now >= self.next_refresh
    }

    /// Sets the gauges: the process table's figures, and our own resident memory.
    pub fn refresh(&mut self, table: TableGauges, now: Instant) {
        self.next_refresh = now + REFRESH;
        set_table(
            &self.metrics,
            &mut self.containers,
            table,
            self.max_containers,
        );
        if let Some(rss) = resident_bytes() {
            self.metrics
                .resident_memory_bytes
                .set(i64::try_from(rss).unwrap_or(i64::MAX));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The process gauges from the table; the `container` series are those of
/// [`containers::bound`], and a series whose container has no zombie left is removed.
fn set_table(
    metrics: &Metrics,
    shown: &mut BTreeSet<String>,
    table: TableGauges,
    max_containers: usize,
) {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for (state, n) in [("alive", table.alive), ("zombie", table.zombies)] {
        metrics
            .processes
            .get_or_create(&StateLabel { state })
            .set(count(n));
    }
    let series = containers::bound(table.by_container, max_containers);
    let now: BTreeSet<String> = series.iter().map(|s| s.container.clone()).collect();
    for gone in shown.difference(&now) {
        let label = ContainerLabel {
            container: gone.clone(),
        };
        metrics.zombies.remove(&label);
        metrics.zombie_oldest_age_seconds.remove(&label);
    }
    for s in series {
        let label = ContainerLabel {
            container: s.container,
        };
        metrics.zombies.get_or_create(&label).set(count(s.zombies));
        // Exact below 2^53 ns (104 days).
        let age = s.oldest_age_ns as f64 / 1e9;
        metrics
            .zombie_oldest_age_seconds
            .get_or_create(&label)
            .set(age);
    }
    *shown = now;
}

/// Our resident set in bytes (/proc/self/statm's second field, in pages).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests;
