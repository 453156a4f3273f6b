//! Command-line interface.
use std::{net::SocketAddr, time::Duration};

use clap::{CommandFactory as _, Parser};

use crate::{
    filter::FilterArgs,
    generate::Generate,
    kernel::loader::{HookPolicy, ReapTiming},
    metrics::MetricsConfig,
    output::{args::OutputArgs, format::FormatArgs},
};

/// eBPF process-lifecycle tracer: one JSON object per line on stdout for every fork, exec,
/// exit, zombie and reap on this host.
#[derive(Debug, Parser)]
#[command(
    name = "proctrace",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// `completions`, `man`; without one, trace (the flags below apply to tracing only).
    #[command(subcommand)]
    pub command: Option<Generate>,

    /// `--format`, `--color`: how records are written (heading "Output").
    #[command(flatten)]
    pub format: FormatArgs,

    /// `--output`: where records go (heading "Output").
    #[command(flatten)]
    pub output: OutputArgs,

    /// `--pid`, `--tree`, `--comm`, …: which records are written (heading "Filters").
    #[command(flatten)]
    pub filters: FilterArgs,

    /// Size of the kernel→user ring buffer in bytes (a power of two, multiple of the page
    /// size; suffixes K, M, G accepted).
    #[arg(long, default_value = "4M", value_parser = parse_ring_size, help_heading = "Tuning")]
    pub ring_buffer_size: u32,

    /// Zombie age at which a `zombie` alert is emitted and above which a reap counts as
    /// long-lived (e.g. 500ms, 2s, 1m; at most 1y).
    #[arg(long, default_value = "1s", value_parser = parse_duration, help_heading = "Tuning")]
    pub zombie_threshold: Duration,

    /// Stop after this long (e.g. 30s, 5m; at most 1y) and print the summary; default: until
    /// SIGINT/SIGTERM (or SIGHUP, without --output).
    #[arg(long, value_parser = parse_duration, help_heading = "Tuning")]
    pub duration: Option<Duration>,

    /// How often to compare the tracked processes with /proc and emit a `proc_check` record
    /// (e.g. 10s, 1m; from 100ms to 1y); 0 disables the checks. A check also runs right after
    /// events are lost.
    #[arg(long, default_value = "10s", value_parser = parse_interval, help_heading = "Tuning")]
    pub proc_check_interval: Duration,

    /// Most bytes of records held for a reader that does not keep up (suffixes K, M, G; from
    /// 64K to 1G). When it is full, records are dropped and counted in a `lost` record
    /// (`causes.output_queue_full`); `start`, `lost`, `proc_check` and `summary` records are
    /// never dropped.
    #[arg(long, default_value = "16M", value_parser = parse_output_buffer_size, help_heading = "Tuning")]
    pub output_buffer_size: usize,

    /// Entries in each list of the summary's `top` (the largest consumers of CPU and of
    /// memory among the processes that ended, grouped by program); from 0 to 1000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(0..=1000), help_heading = "Tuning")]
    pub top: u16,

    /// Also print the details behind the diagnostics on stderr (verifier output of refused
    /// hooks, the kernel offsets resolved).
    #[arg(short, long, conflicts_with = "quiet", help_heading = "Diagnostics")]
    pub verbose: bool,

    /// Print nothing on stderr but a fatal error (and records stdout could not take).
    #[arg(short, long, help_heading = "Diagnostics")]
    pub quiet: bool,

    /// Which kernel hooks to use: `auto` probes BTF tracepoints and function hooks (fentry,
    /// kprobe on release_task) and falls back to classic tracepoints; `tracepoints` never uses
    /// a function hook; `classic` forces the classic tracepoints.
    #[arg(long, value_enum, default_value_t = HookMode::Auto, help_heading = "Tuning")]
    pub hooks: HookMode,

    /// How a reap's moment is found on kernels where release_task() cannot be hooked (fentry
    /// refused, no kprobes: `start.reap_timing` says which applies). `bounded` places it from
    /// the reaper's wait calls, never later than the task's release (`reap.reap_window_ns`),
    /// and slows nothing; `exact` uses the wait4/waitid syscall tracepoints, which put every
    /// syscall of every process on the host through the kernel's tracing slow path (a cheap
    /// syscall about 1.2x slower).
    #[arg(long, value_enum, default_value_t = ReapTimingMode::Bounded, help_heading = "Tuning")]
    pub reap_timing: ReapTimingMode,

    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9464, [::1]:9464);
    /// off by default. A loopback address unless --metrics-allow-remote.
    #[arg(long, value_name = "ADDR", help_heading = "Metrics")]
    pub metrics: Option<SocketAddr>,

    /// Let --metrics listen on an address other hosts can reach (e.g. 0.0.0.0:9464): the
    /// metrics name containers and, with --metrics-comm-allow, programs.
    #[arg(long, requires = "metrics", help_heading = "Metrics")]
    pub metrics_allow_remote: bool,

    /// Containers with a `container` series of their own in the zombie gauges (those with
    /// the most zombies); the rest are summed into `container="other"`. From 0 to 1000.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        value_parser = clap::value_parser!(u16).range(0..=1000),
        help_heading = "Metrics"
    )]
    pub metrics_max_containers: u16,

    /// Count exits per command name for these comms only (comma-separated, e.g.
    /// nginx,postgres; at most 100, each at most 15 bytes): adds
    /// proctrace_exits_by_comm_total{comm}. No comm is ever a label otherwise.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = parse_comm,
        requires = "metrics",
        help_heading = "Metrics"
    )]
    pub metrics_comm_allow: Vec<String>,

    /// Write no records on stdout (a metrics-only agent; needs --metrics).
    #[arg(long, requires = "metrics", help_heading = "Metrics")]
    pub no_events: bool,
}

/// The most comms `--metrics-comm-allow` takes: each is a series of its own.
pub const MAX_COMMS: usize = 100;

impl Args {
    /// Checks what one flag's parser cannot: the flags together. A usage error (exit 2)
    /// otherwise.
    pub fn validate(&self) -> Result<(), clap::Error> {
        self.format.validate()?;
        let usage = |message: String| {
            Args::command().error(clap::error::ErrorKind::ValueValidation, message)
        };
        if let Some(addr) = self.metrics {
            if !addr.ip().to_canonical().is_loopback() && !self.metrics_allow_remote {
                return Err(usage(format!(
                    "--metrics {addr} is not a loopback address: add --metrics-allow-remote \
                     to serve metrics to other hosts"
                )));
            }
        }
        if self.metrics_comm_allow.len() > MAX_COMMS {
            return Err(usage(format!(
                "--metrics-comm-allow names {} comms: at most {MAX_COMMS}",
                self.metrics_comm_allow.len()
            )));
        }
        Ok(())
    }

    /// What the metrics flags ask for; `None` without `--metrics`.
    pub fn metrics_config(&self) -> Option<MetricsConfig> {
        Some(MetricsConfig {
            addr: self.metrics?,
            max_containers: usize::from(self.metrics_max_containers),
            comms: dedup(&self.metrics_comm_allow),
        })
    }
}

/// Parses the command line; a usage error (exit 2) exits here.
pub fn parse() -> Args {
    let args = Args::parse();
    if let Err(err) = args.validate() {
        err.exit();
    }
    args
}

/// One `--metrics-comm-allow` entry: a command name as the kernel keeps it (at most 15
/// bytes, TASK_COMM_LEN - 1), or it could never match.
fn parse_comm(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("an empty comm".to_owned());
    }
    if s.len() > 15 {
        return Err(format!(
            "{s:?} is {} bytes: the kernel keeps at most 15 of a command name",
            s.len()
        ));
    }
    Ok(s.to_owned())
}

fn dedup(comms: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    comms
        .iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect()
}

/// `--hooks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HookMode {
    /// BTF tracepoints and function hooks where the kernel allows them, classic tracepoints
    /// otherwise.
    Auto,
    /// Tracepoints only (BTF, else classic): no fentry or kprobe; the reap comes from
    /// sched_process_free, its moment set by `--reap-timing`.
    Tracepoints,
    /// Classic tracepoints only (the fallback path, e.g. to test it on a kernel with BTF).
    Classic,
}

impl From<HookMode> for HookPolicy {
    fn from(mode: HookMode) -> Self {
        match mode {
            HookMode::Auto => HookPolicy::MostPrecise,
            HookMode::Tracepoints => HookPolicy::Tracepoints,
            HookMode::Classic => HookPolicy::ClassicOnly,
        }
    }
}

/// `--reap-timing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReapTimingMode {
    /// Estimated from the reaper's wait calls; no syscall tracepoint.
    Bounded,
    /// The wait syscall tracepoints: exact, at a cost to every syscall on the host.
    Exact,
}

impl From<ReapTimingMode> for ReapTiming {
    fn from(mode: ReapTimingMode) -> Self {
        match mode {
            ReapTimingMode::Bounded => ReapTiming::Bounded,
            ReapTimingMode::Exact => ReapTiming::Exact,
        }
    }
}

/// The longest duration any flag takes: humantime's `1y` (365.25 days). Longer is surely a
/// mistake, and far longer overflows the clock: "now + 9300000000000000000s" panicked.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);
/// The shortest /proc check period: each check reads all of /proc, so `1ns` would keep a core
/// busy doing nothing else.
pub const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// A duration of at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 2s, 1m)"))?;
    if d > MAX_DURATION {
        return Err("must be at most 1y".to_owned());
    }
    Ok(d)
}

/// A duration where a bare `0` means "off"; otherwise at least [`MIN_CHECK_INTERVAL`].
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let d = parse_duration(s)?;
    if d < MIN_CHECK_INTERVAL {
        return Err("must be at least 100ms, or 0 to turn the checks off".to_owned());
    }
    Ok(d)
}

/// A byte count with an optional K, M or G suffix (powers of 1024).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let mult = match s[i..].to_ascii_uppercase().as_str() {
                "K" | "KB" | "KIB" => 1 << 10,
                "M" | "MB" | "MIB" => 1 << 20,
                "G" | "GB" | "GIB" => 1 << 30,
                other => return Err(format!("unknown size suffix {other:?} (use K, M or G)")),
            };
            (&s[..i], mult)
        }
    };
    let n: u64 = digits.parse().map_err(|e| format!("{e}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| "size too large".to_owned())
}

pub fn parse_output_buffer_size(s: &str) -> Result<usize, String> {
    let bytes = parse_bytes(s)?;
    if !(64 << 10..=1 << 30).contains(&bytes) {
        return Err(format!("{bytes} bytes: must be between 64K and 1G"));
    }
    usize::try_from(bytes).map_err(|_| "size too large".to_owned())
}

pub fn parse_ring_size(s: &str) -> Result<u32, String> {
    let bytes = parse_bytes(s)?;
    // kernel/bpf/ringbuf.c ringbuf_map_alloc: power of two and page aligned.
    let page = 4096;
    if bytes < page || !bytes.is_power_of_two() || bytes > (1 << 31) {
        return Err(format!(
            "{bytes} bytes: must be a power of two between 4K and 2G"
        ));
    }
    u32::try_from(bytes).map_err(|_| "size too large".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes() {
        assert_eq!(parse_ring_size("8M"), Ok(8 << 20));
        assert_eq!(parse_ring_size("4096"), Ok(4096));
        assert_eq!(parse_ring_size("64k"), Ok(64 << 10));
        assert!(parse_ring_size("3M").is_err());
        assert!(parse_ring_size("1K").is_err());
        assert!(parse_ring_size("8X").is_err());
        assert!(parse_ring_size("").is_err());
        assert_eq!(parse_output_buffer_size("64K"), Ok(64 << 10));
        assert_eq!(parse_output_buffer_size("100000"), Ok(100_000));
        assert_eq!(parse_output_buffer_size("1G"), Ok(1 << 30));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("10s"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("1y"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("1y 1s").is_err());
        assert!(parse_duration("9300000000000000000s").is_err());
        assert!(parse_duration("99999999999999999999999s").is_err());
        assert_eq!(parse_interval("100ms"), Ok(MIN_CHECK_INTERVAL));
        assert_eq!(parse_interval("1y"), Ok(MAX_DURATION));
        assert!(parse_interval("99ms").is_err());
        assert!(parse_interval("1ns").is_err());
        assert!(parse_interval("0s").is_err(), "only a bare 0 means off");
        assert!(parse_interval("9300000000000000000s").is_err());
    }

    /// Every flag that takes a number or a duration rejects absurd values as a usage error,
    /// before anything is loaded.
    #[test]
    fn out_of_range_flags_are_usage_errors() {
        let huge = "9300000000000000000s";
        for args in [
            ["--duration", huge],
            ["--zombie-threshold", huge],
            ["--proc-check-interval", huge],
            ["--proc-check-interval", "1ns"],
            ["--ring-buffer-size", "4G"],
            ["--ring-buffer-size", "99999999999999999999K"],
            ["--output-buffer-size", "2G"],
            ["--output-buffer-size", "1K"],
            ["--output-buffer-size", "99999999999999999999G"],
        ] {
            let err = Args::try_parse_from(["proctrace", args[0], args[1]])
                .expect_err(&format!("{args:?} accepted"));
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn quiet_and_verbose_exclude_each_other() {
        let err = Args::try_parse_from(["proctrace", "-q", "-v"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let args = Args::try_parse_from(["proctrace", "-v"]).expect("-v");
        assert!(args.verbose && !args.quiet);
    }

    fn metrics_args(args: &[&str]) -> Result<Args, clap::Error> {
        let args = Args::try_parse_from(std::iter::once("proctrace").chain(args.iter().copied()))?;
        args.validate()?;
        Ok(args)
    }

    #[test]
    fn metrics_are_off_by_default_and_loopback_only_unless_allowed() {
        let args = metrics_args(&[]).expect("no flags");
        assert_eq!(args.metrics_config(), None);
        assert!(!args.no_events);
        for addr in [
            "127.0.0.1:9464",
            "127.3.2.1:1",
            "[::1]:9464",
            "[::ffff:127.0.0.1]:9464",
        ] {
            let args = metrics_args(&["--metrics", addr]).unwrap_or_else(|e| panic!("{addr}: {e}"));
            let config = args.metrics_config().expect("--metrics");
            assert_eq!(
                config.addr.to_string().parse::<SocketAddr>().ok(),
                Some(config.addr)
            );
            assert_eq!(config.max_containers, 20);
            assert!(config.comms.is_empty());
        }
        for addr in ["0.0.0.0:9464", "192.0.2.7:9464", "[::]:9464"] {
            let err = metrics_args(&["--metrics", addr]).expect_err(addr);
            assert_eq!(err.exit_code(), 2, "{addr}");
            let text = err.to_string();
            assert!(
                text.contains("is not a loopback address: add --metrics-allow-remote"),
                "{text}"
            );
            assert_eq!(
                text.lines().next().map(|l| l.contains(addr)),
                Some(true),
                "{text}"
            );
            let args = metrics_args(&["--metrics", addr, "--metrics-allow-remote"])
                .unwrap_or_else(|e| panic!("{addr} allowed: {e}"));
            assert!(args.metrics_allow_remote);
        }
        for bad in ["localhost", "127.0.0.1", "9464", "127.0.0.1:99999"] {
            let err = metrics_args(&["--metrics", bad]).expect_err(bad);
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
    }

    #[test]
    fn metrics_flags_need_metrics_and_stay_bounded() {
        for alone in [
            &["--no-events"][..],
            &["--metrics-allow-remote"],
            &["--metrics-comm-allow", "sh"],
        ] {
            let err = metrics_args(alone).expect_err("without --metrics");
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{alone:?}"
            );
            assert_eq!(err.exit_code(), 2);
        }
        let args = metrics_args(&[
            "--metrics",
            "127.0.0.1:9464",
            "--no-events",
            "--metrics-max-containers",
            "0",
            "--metrics-comm-allow",
            "nginx,postgres,nginx",
        ])
        .expect("metrics-only agent");
        assert!(args.no_events);
        let config = args.metrics_config().expect("--metrics");
        assert_eq!(config.max_containers, 0);
        assert_eq!(config.comms, ["nginx", "postgres"]);
        for (flag, value) in [
            ("--metrics-max-containers", "1001"),
            ("--metrics-max-containers", "-1"),
            ("--metrics-comm-allow", "a,,b"),
            ("--metrics-comm-allow", "sixteen-bytes-xx"),
        ] {
            let err = metrics_args(&["--metrics", "127.0.0.1:1", flag, value])
                .expect_err(&format!("{flag} {value}"));
            assert_eq!(err.exit_code(), 2, "{flag} {value}");
        }
        let many: Vec<String> = (0..=MAX_COMMS).map(|i| format!("c{i}")).collect();
        let err = metrics_args(&[
            "--metrics",
            "127.0.0.1:1",
            "--metrics-comm-allow",
            &many.join(","),
        ])
        .expect_err("too many comms");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let err = Args::try_parse_from(["proctrace", "--zombie-threshold", "soon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
