//! A log-bucketed histogram of u64 values with bounded memory and ≤ 0.4 % relative error.
//!
//! Values below 128 have a bucket each (exact). Above, each power of two [2^e, 2^(e+1)) is
//! split into 128 equal buckets of width 2^(e-7), so a bucket is at most 1/128 of its lower
//! bound wide; a quantile is reported as the bucket's midpoint (clamped to the exact min and
//! max), hence within 1/256 ≈ 0.39 % of a value in that bucket. 7,424 buckets cover all of u64
//! (58 KiB, allocated on the first value).

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS; // 128
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * SUB as usize; // 7424

#[derive(Clone, Debug, Default)]
pub struct LogHistogram {
    buckets: Vec<u64>,
    count: u64,
    min: u64,
    max: u64,
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let mantissa = v >> shift; // in [SUB, 2*SUB)
    ((shift as u64 + 1) * SUB + (mantissa - SUB)) as usize
}

/// Lowest value and width of a bucket.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let shift = i / SUB - 1;
    let mantissa = SUB + i % SUB;
    (mantissa << shift, 1u64 << shift)
}

impl LogHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, v: u64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
            self.min = v;
            self.max = v;
        }
        if let Some(slot) = self.buckets.get_mut(index(v)) {
            *slot += 1;
        }
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact maximum.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The q-quantile (0 < q ≤ 1, nearest rank), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (lo, width) = bounds(i);
                let mid = lo + (width - 1) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_bounds_agree() {
        let mut samples: Vec<u64> = (0..5000).collect();
        let mut x = 1u64;
        while x < u64::MAX / 3 {
            samples.extend([x - 1, x, x + 1, x * 3 / 2]);
            x *= 2;
        }
        samples.push(u64::MAX);
        for v in samples {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            let (lo, w) = bounds(i);
            assert!(lo <= v && v - lo < w, "{v} in bucket {i} = [{lo}, +{w})");
            if v >= SUB {
                assert!(w <= lo / SUB, "bucket too wide at {v}");
            }
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_within_one_percent() {
        // Deterministic pseudo-random values spread over 1 µs .. 100 s.
        let mut h = LogHistogram::new();
        let mut exact = Vec::new();
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let v = 1_000 + s % 100_000_000_000 / (1 + s % 1000);
            h.record(v);
            exact.push(v);
        }
        exact.sort_unstable();
        for q in [0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((q * exact.len() as f64).ceil() as usize).clamp(1, exact.len());
            let want = exact[rank - 1] as f64;
            let got = h.quantile(q).expect("non-empty") as f64;
            assert!((got - want).abs() / want <= 0.01, "q={q}: {got} vs {want}");
        }
        assert_eq!(h.max(), exact.last().copied());
        assert_eq!(h.count(), 20_000);
    }

    #[test]
    fn small_values_are_exact_and_empty_is_none() {
        let mut h = LogHistogram::new();
        assert_eq!(h.quantile(0.5), None);
        assert_eq!(h.max(), None);
        for v in [0, 0, 5, 100] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(0));
        assert_eq!(h.quantile(0.75), Some(5));
        assert_eq!(h.quantile(0.99), Some(100));
        assert_eq!(h.max(), Some(100));
        let mut one = LogHistogram::new();
        one.record(1_234_567_891);
        assert_eq!(one.quantile(0.5), Some(1_234_567_891)); // clamped to the exact min/max
    }
}
