//! The TIME column: the record's wall-clock time (CLOCK_REALTIME, as its RFC 3339 `time`) as
//! a time of day in a time zone, to the microsecond.
use crate::output::record::WallTime;

const NS_PER_SEC: i128 = 1_000_000_000;

/// Which zone times are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The process's local time zone (`TZ`, else /etc/localtime; UTC when neither is set),
    /// asked of libc for each second, so a daylight-saving change shows at once.
    Local,
    /// A fixed offset east of UTC, in seconds (0: UTC): for the golden tests.
    #[cfg(test)]
    Fixed(i32),
}

/// A [`Zone`] and the offset it gave for the latest second asked (localtime_r reads the zone
/// rules under glibc's lock: once a second, not once a record).
#[derive(Debug)]
pub struct ZoneClock {
    zone: Zone,
    cached: Option<(i64, i32)>,
}

impl ZoneClock {
    pub fn new(zone: Zone) -> Self {
        ZoneClock { zone, cached: None }
    }

    /// Seconds east of UTC at `unix_secs`.
    fn offset(&mut self, unix_secs: i64) -> i32 {
        match self.zone {
            #[cfg(test)]
            Zone::Fixed(offset) => offset,
            Zone::Local => match self.cached {
                Some((secs, offset)) if secs == unix_secs => offset,
                _ => {
                    let offset = local_offset(unix_secs);
                    self.cached = Some((unix_secs, offset));
                    offset
                }
            },
        }
    }

    /// The local seconds since 1970 (the zone's offset added) and the nanoseconds.
    fn local(&mut self, time: WallTime) -> (i64, u32, i32) {
        let secs = i64::try_from(time.0.div_euclid(NS_PER_SEC)).unwrap_or(0);
        let nanos = u32::try_from(time.0.rem_euclid(NS_PER_SEC)).unwrap_or(0);
        let offset = self.offset(secs);
        (secs.saturating_add(i64::from(offset)), nanos, offset)
    }

    /// `14:15:54.123456`.
    pub fn time_of_day(&mut self, time: WallTime) -> String {
        let (secs, nanos, _) = self.local(time);
        let day = secs.rem_euclid(86_400);
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            day / 3_600,
            day / 60 % 60,
            day % 60,
            nanos / 1_000
        )
    }

    /// `2026-11-26 UTC+01:00`: the date and zone the times of day are in.
    pub fn date_and_zone(&mut self, time: WallTime) -> String {
        let (secs, _, offset) = self.local(time);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        format!(
            "{y:04}-{m:02}-{d:02} UTC{sign}{:02}:{:02}",
            abs / 3_600,
            abs / 60 % 60
        )
    }
}

/// The offset libc's localtime_r gives (`tm_gmtoff`); 0 if it fails.
fn local_offset(unix_secs: i64) -> i32 {
    // time_t is 64 bits wide on every 64-bit Linux target; a 32-bit one ends in 2038.
    let t = libc::time_t::try_from(unix_secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: an all-zero `tm` is valid (integers and a null zone name).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe (it takes
    // glibc's zone lock) and writes only into `tm`.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if ok {
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    } else {
        0
    }
}

/// Year, month, day of a day number since 1970-01-01 (the proleptic Gregorian calendar; the
/// "days from civil" algorithm of Howard Hinnant, inverted).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_to_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2024-02-29 is day 19782; 2026-11-26 is day 20783.
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn offsets_move_the_time_of_day_and_the_date() {
        // 2026-11-26T23:59:59.5Z
        let t = WallTime((1_795_737_599 * NS_PER_SEC) + 500_000_000);
        let mut utc = ZoneClock::new(Zone::Fixed(0));
        assert_eq!(utc.time_of_day(t), "23:59:59.500000");
        assert_eq!(utc.date_and_zone(t), "2026-11-26 UTC+00:00");
        let mut cet = ZoneClock::new(Zone::Fixed(3_600));
        assert_eq!(cet.time_of_day(t), "00:59:59.500000");
        assert_eq!(cet.date_and_zone(t), "2026-11-27 UTC+01:00");
        let mut nst = ZoneClock::new(Zone::Fixed(-(3 * 3_600 + 1_800)));
        assert_eq!(nst.date_and_zone(t), "2026-11-26 UTC-03:30");
    }

    #[test]
    fn the_local_zone_answers() {
        let t = WallTime(1_795_737_599 * NS_PER_SEC);
        let mut local = ZoneClock::new(Zone::Local);
        assert_eq!(local.time_of_day(t).len(), "00:00:00.000000".len());
    }
}
