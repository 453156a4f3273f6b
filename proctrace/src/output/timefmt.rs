//! Kernel boot time → wall-clock time, formatted as RFC 3339 with nanoseconds.
//!
//! Events carry CLOCK_BOOTTIME nanoseconds (`ktime_ns`). A [`Clock`] holds the offset from that
//! clock to CLOCK_REALTIME, measured once at start-up, so that `time = ktime_ns + offset`.
//! Times are printed in UTC with nine fractional digits and a `Z` suffix, e.g.
//! `2026-11-26T14:15:54.123456789Z` (humantime's RFC 3339 formatter).

use std::{
    fmt::{self, Write as _},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::output::stack_str::StackStr;

const NS_PER_SEC: i128 = 1_000_000_000;
/// 9999-12-31T23:59:59.999999999Z, the last instant RFC 3339 can write.
const LAST_RFC3339_NS: i128 = 253_402_300_800 * NS_PER_SEC - 1;

/// Offset from kernel boot time (CLOCK_BOOTTIME) to wall-clock time (CLOCK_REALTIME), in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    boot_to_wall_ns: i128,
}

impl Clock {
    /// A clock whose wall time is `ktime_ns + boot_to_wall_ns`.
    pub const fn from_offset_ns(boot_to_wall_ns: i128) -> Self {
        Clock { boot_to_wall_ns }
    }

    /// Measures the offset on this machine: CLOCK_REALTIME read between two CLOCK_BOOTTIME
    /// readings, matched with their midpoint. For the session only (the engine never reads
    /// clocks).
    pub fn measure() -> std::io::Result<Self> {
        let b0 = read_clock(libc::CLOCK_BOOTTIME)?;
        let real = read_clock(libc::CLOCK_REALTIME)?;
        let b1 = read_clock(libc::CLOCK_BOOTTIME)?;
        let boot_mid = b0 + (b1 - b0) / 2;
        Ok(Clock::from_offset_ns(real - boot_mid))
    }

    /// Wall-clock time of a kernel boot-time instant.
    pub fn wall(&self, ktime_ns: u64) -> WallTime {
        WallTime(i128::from(ktime_ns) + self.boot_to_wall_ns)
    }
}

/// CLOCK_BOOTTIME now, in ns: the clock of event `ktime_ns` (for `Engine::tick`).
pub fn boottime_now_ns() -> std::io::Result<u64> {
    let ns = read_clock(libc::CLOCK_BOOTTIME)?;
    u64::try_from(ns).map_err(|_| std::io::Error::other("CLOCK_BOOTTIME out of range"))
}

fn read_clock(id: libc::clockid_t) -> std::io::Result<i128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(i128::from(ts.tv_sec) * NS_PER_SEC + i128::from(ts.tv_nsec))
}

/// Nanoseconds since the Unix epoch (UTC); `Display` and `Serialize` give RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(pub i128);

impl WallTime {
    /// As a `SystemTime` inside RFC 3339's range (1970 to 9999): a clock set before 1970 or a
    /// corrupt kernel timestamp prints as the nearest end of the range, never as an error.
    fn clamped(self) -> SystemTime {
        let ns = self.0.clamp(0, LAST_RFC3339_NS);
        let secs = u64::try_from(ns / NS_PER_SEC).unwrap_or(0);
        let nanos = u32::try_from(ns % NS_PER_SEC).unwrap_or(0);
        UNIX_EPOCH + Duration::new(secs, nanos)
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_rfc3339_nanos(self.clamped()).fmt(f)
    }
}

impl serde::Serialize for WallTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On the stack first (see `StackStr`): every record has a `time`. RFC 3339 with
        // nanoseconds is 30 bytes.
        let mut text = StackStr::<32>::new();
        write!(text, "{self}").map_err(serde::ser::Error::custom)?;
        s.serialize_str(text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt_ns(ns: i128) -> String {
        WallTime(ns).to_string()
    }

    const fn secs(s: i128) -> i128 {
        s * NS_PER_SEC
    }

    #[test]
    fn epoch_and_padding() {
        assert_eq!(fmt_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(fmt_ns(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(fmt_ns(secs(1) + 1_000), "1970-01-01T00:00:01.000001000Z");
        assert_eq!(fmt_ns(secs(3661) + 10), "1970-01-01T01:01:01.000000010Z");
    }

    #[test]
    fn out_of_range_times_are_clamped_not_errors() {
        assert_eq!(fmt_ns(-1), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(fmt_ns(i128::MIN), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(fmt_ns(i128::MAX), "9999-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn example_from_the_contract() {
        // `date -u -d @1795702554` = Thu Nov 26 14:15:54 UTC 2026
        assert_eq!(
            fmt_ns(secs(1_795_702_554) + 123_456_789),
            "2026-11-26T14:15:54.123456789Z"
        );
    }

    #[test]
    fn leap_years() {
        // 1709251199 = 2024-02-29T23:59:59Z; one second later is March 1st.
        assert_eq!(
            fmt_ns(secs(1_709_251_199) + 1),
            "2024-02-29T23:59:59.000000001Z"
        );
        assert_eq!(
            fmt_ns(secs(1_709_251_200)),
            "2024-03-01T00:00:00.000000000Z"
        );
        // 2100 is not a leap year (divisible by 100): 4107542400 = 2100-03-01T00:00:00Z.
        assert_eq!(
            fmt_ns(secs(4_107_542_400 - 1)),
            "2100-02-28T23:59:59.000000000Z"
        );
    }

    #[test]
    fn clock_adds_the_offset() {
        let clock = Clock::from_offset_ns(secs(1_795_702_554) - 5_000_000_000);
        assert_eq!(
            clock.wall(5_123_456_789).to_string(),
            "2026-11-26T14:15:54.123456789Z"
        );
        assert_eq!(
            serde_json::to_string(&clock.wall(5_000_000_000))
                .ok()
                .as_deref(),
            Some("\"2026-11-26T14:15:54.000000000Z\"")
        );
    }

    #[test]
    fn measured_clock_is_plausible() {
        let clock = Clock::measure().expect("clock_gettime");
        let now = clock.wall(boottime_now_ns().expect("boottime"));
        // After 2020-01-01 and formatted as RFC 3339.
        assert!(now.0 > secs(1_577_836_800));
        let s = now.to_string();
        assert_eq!(s.len(), "2026-11-26T14:15:54.123456789Z".len());
        assert!(s.ends_with('Z'));
    }
}
