//! Command-line interface.
use std::time::Duration;

use clap::Parser;

use crate::kernel::loader::HookPolicy;

/// eBPF process-lifecycle tracer: one JSON object per line on stdout for every fork, exec,
/// exit, zombie and reap on this host.
#[derive(Debug, Parser)]
#[command(name = "proctrace", version, about)]
pub struct Args {
    /// Size of the kernel→user ring buffer in bytes (a power of two, multiple of the page
    /// size; suffixes K, M, G accepted).
    #[arg(long, default_value = "4M", value_parser = parse_ring_size)]
    pub ring_buffer_size: u32,

    /// Zombie age at which a `zombie` alert is emitted and above which a reap counts as
    /// long-lived (e.g. 500ms, 2s, 1m).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub zombie_threshold: Duration,

    /// Stop after this long (e.g. 30s, 5m) and print the summary; default: until SIGINT/SIGTERM.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// How often to compare the tracked processes with /proc and emit a `proc_check` record
    /// (e.g. 10s, 1m); 0 disables the checks. A check also runs right after events are lost.
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    pub proc_check_interval: Duration,

    /// Which kernel hooks to use: `auto` probes BTF tracepoints and falls back to classic
    /// tracepoints; `classic` forces the fallback.
    #[arg(long, value_enum, default_value_t = HookMode::Auto)]
    pub hooks: HookMode,
}

/// `--hooks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HookMode {
    /// BTF tracepoints where the kernel allows them, classic tracepoints otherwise.
    Auto,
    /// Classic tracepoints only (the fallback path, e.g. to test it on a kernel with BTF).
    Classic,
}

impl From<HookMode> for HookPolicy {
    fn from(mode: HookMode) -> Self {
        match mode {
            HookMode::Auto => HookPolicy::MostPrecise,
            HookMode::Classic => HookPolicy::ClassicOnly,
        }
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 2s, 1m)"))
}

/// A duration where a bare `0` means "off".
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

pub fn parse_ring_size(s: &str) -> Result<u32, String> {
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
    let bytes = n.checked_mul(mult).ok_or("size too large")?;
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
    fn bad_arguments_are_usage_errors() {
        let err = Args::try_parse_from(["proctrace", "--zombie-threshold", "soon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
