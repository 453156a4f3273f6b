//! Kernel boot time → wall-clock time, and RFC 3339 formatting with nanoseconds.
//!
//! Events carry CLOCK_BOOTTIME nanoseconds (`ktime_ns`). A [`Clock`] holds the offset from that
//! clock to CLOCK_REALTIME, measured once at start-up, so that `time = ktime_ns + offset`.
//! Formatting is done here (no date crate): proleptic Gregorian calendar, UTC, always nine
//! fractional digits and a `Z` suffix, e.g. `2026-11-26T14:15:54.123456789Z`.

use std::fmt;

const NS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i128 = 86_400;

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

    /// A clock from one pair of readings taken at the same instant.
    #[allow(dead_code)] // public API, not every caller exists yet
    pub fn from_samples(realtime_ns: i128, boottime_ns: u64) -> Self {
        Clock::from_offset_ns(realtime_ns - i128::from(boottime_ns))
    }

    /// Measures the offset on this machine: CLOCK_REALTIME read between two CLOCK_BOOTTIME
    /// readings, matched with their midpoint. For the daemon only (the engine never reads clocks).
    #[allow(dead_code)] // used by the daemon
    pub fn measure() -> std::io::Result<Self> {
        let b0 = read_clock(libc::CLOCK_BOOTTIME)?;
        let real = read_clock(libc::CLOCK_REALTIME)?;
        let b1 = read_clock(libc::CLOCK_BOOTTIME)?;
        let boot_mid = b0 + (b1 - b0) / 2;
        Ok(Clock::from_offset_ns(real - boot_mid))
    }

    #[allow(dead_code)] // public API, not every caller exists yet
    pub const fn offset_ns(&self) -> i128 {
        self.boot_to_wall_ns
    }

    /// Wall-clock time of a kernel boot-time instant.
    pub fn wall(&self, ktime_ns: u64) -> WallTime {
        WallTime(i128::from(ktime_ns) + self.boot_to_wall_ns)
    }
}

/// CLOCK_BOOTTIME now, in ns: the clock of event `ktime_ns` (for `Engine::tick`).
#[allow(dead_code)] // used by the daemon
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
    #[allow(dead_code)] // public API, not every caller exists yet
    pub fn unix_ns(&self) -> i128 {
        self.0
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NS_PER_SEC);
        let nanos = self.0.rem_euclid(NS_PER_SEC);
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        if (0..=9999).contains(&y) {
            write!(
                f,
                "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{nanos:09}Z"
            )
        } else {
            // Outside RFC 3339's range; cannot happen with a sane clock. Keep it readable.
            write!(
                f,
                "{y:+05}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{nanos:09}Z"
            )
        }
    }
}

impl serde::Serialize for WallTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31), proleptic Gregorian.
/// Howard Hinnant's `civil_from_days` (http://howardhinnant.github.io/date_algorithms.html).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i128::from(m <= 2);
    // Both are in range by construction.
    (y, m as u32, d as u32)
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
        assert_eq!(fmt_ns(-1), "1969-12-31T23:59:59.999999999Z");
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
        // 2024-02-29T23:59:59.000000001Z (1709251199 = 2024-02-29T23:59:59Z)
        assert_eq!(
            fmt_ns(secs(1_709_251_199) + 1),
            "2024-02-29T23:59:59.000000001Z"
        );
        // One second later: March 1st.
        assert_eq!(
            fmt_ns(secs(1_709_251_200)),
            "2024-03-01T00:00:00.000000000Z"
        );
        // 2000 is a leap year (divisible by 400): 951782400 = 2000-02-29T00:00:00Z.
        assert_eq!(fmt_ns(secs(951_782_400)), "2000-02-29T00:00:00.000000000Z");
        // 2100 is not (divisible by 100): 4107542400 = 2100-03-01T00:00:00Z,
        // and the day before is Feb 28.
        assert_eq!(
            fmt_ns(secs(4_107_542_400)),
            "2100-03-01T00:00:00.000000000Z"
        );
        assert_eq!(
            fmt_ns(secs(4_107_542_400 - 1)),
            "2100-02-28T23:59:59.000000000Z"
        );
        // End of a leap year: 2024-12-31 is day 366.
        assert_eq!(
            fmt_ns(secs(1_735_689_599)),
            "2024-12-31T23:59:59.000000000Z"
        );
    }

    #[test]
    fn calendar_matches_a_naive_day_counter() {
        // Walk every day from 1970 to 2400 with an independent calendar and compare.
        fn leap(y: i128) -> bool {
            (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        }
        let (mut y, mut m, mut d) = (1970i128, 1u32, 1u32);
        for days in 0..(430 * 366) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn clock_adds_the_offset() {
        let clock = Clock::from_samples(secs(1_795_702_554), 5_000_000_000);
        assert_eq!(clock.offset_ns(), secs(1_795_702_554) - 5_000_000_000);
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
        assert!(now.unix_ns() > secs(1_577_836_800));
        let s = now.to_string();
        assert_eq!(s.len(), "2026-11-26T14:15:54.123456789Z".len());
        assert!(s.ends_with('Z'));
    }
}
