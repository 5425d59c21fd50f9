//! Latency recording with fixed memory.
//!
//! A load run can time millions of deliveries; keeping every sample would make memory grow with
//! the run. [`Histogram`] is log-linear (128 sub-buckets per power of two, so any quantile is
//! within 1 % of the true value) and never grows past about 60 KiB.

use std::time::Duration;

use serde::Serialize;

/// Sub-buckets per power of two, as a bit count.
const SUB_BITS: u32 = 7;
const SUB_COUNT: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB_COUNT;

/// A histogram of durations in nanoseconds with about 1 % relative precision.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ns: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn bucket_of(ns: u64) -> usize {
    if ns < SUB_COUNT as u64 {
        return ns as usize;
    }
    let msb = 63 - ns.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = (ns >> shift) as usize & (SUB_COUNT - 1);
    ((shift as usize + 1) << SUB_BITS) + sub
}

fn lower_bound_of(bucket: usize) -> u64 {
    if bucket < SUB_COUNT {
        return bucket as u64;
    }
    let shift = (bucket >> SUB_BITS) - 1;
    let sub = (bucket & (SUB_COUNT - 1)) as u64;
    (SUB_COUNT as u64 + sub) << shift
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max_ns: 0, sum_ns: 0 }
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(ns)] += 1;
        self.total += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie, in nanoseconds
    /// (0 when empty).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lower_bound_of(bucket).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// p50, p99, max and mean in microseconds.
    pub fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: self.total,
            p50_us: us(self.quantile_ns(0.50)),
            p99_us: us(self.quantile_ns(0.99)),
            max_us: us(self.max_ns),
            mean_us: if self.total == 0 {
                0.0
            } else {
                self.sum_ns as f64 / self.total as f64 / 1000.0
            },
        }
    }
}

/// The usual latency figures, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LatencySummary {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} / p99 {} / max {} ({} samples)",
            fmt_us(self.p50_us),
            fmt_us(self.p99_us),
            fmt_us(self.max_us),
            self.count
        )
    }
}

/// Formats microseconds for people: `850 µs`, `12.3 ms`, `2.10 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for ns in [0u64, 1, 127, 128, 129, 255, 256, 1000, 65_537, 10_000_000, u64::MAX / 3] {
            let b = bucket_of(ns);
            assert!(b >= last, "bucket order broke at {ns}");
            last = b;
            let low = lower_bound_of(b);
            assert!(low <= ns, "{low} > {ns}");
            assert!((ns - low) as f64 <= ns as f64 / 127.0 + 1.0, "imprecise at {ns}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_us - 500.0).abs() <= 5.0, "{s:?}");
        assert!((s.p99_us - 990.0).abs() <= 10.0, "{s:?}");
        assert_eq!(s.max_us, 1000.0);
        let mut other = Histogram::new();
        other.record(Duration::from_secs(1));
        h.merge(&other);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.summary().max_us, 1_000_000.0);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        assert_eq!(Histogram::new().summary(), LatencySummary::default());
    }
}
