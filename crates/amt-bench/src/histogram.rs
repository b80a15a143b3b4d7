//! A fixed-size latency histogram (log-linear buckets, under 1 % error).
//!
//! Its memory is allocated once, so a long soak run does not grow the
//! process with every latency it records (which would spoil the RSS
//! figures the soak is there to judge).

use std::time::Duration;

use serde::Serialize;

/// Linear sub-buckets per power of two: 2^7 = 128, so < 0.8 % error.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Largest recorded value, in microseconds (2^40 µs ≈ 12.7 days).
const MAX_BITS: u32 = 40;
const BUCKETS: usize = ((MAX_BITS - SUB_BITS + 2) as usize) * SUB as usize;

/// Latencies in microseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    sum_us: u128,
    max_us: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("max_us", &self.max_us)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

fn index(v: u64) -> usize {
    let v = v.min((1 << MAX_BITS) - 1);
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let mantissa = v >> shift; // in [SUB, 2 * SUB)
    ((shift as u64 + 1) * SUB + (mantissa - SUB)) as usize
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let mantissa = i % SUB + SUB;
    ((mantissa + 1) << shift) - 1
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.counts[index(us)] += 1;
        self.count += 1;
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max_us);
            }
        }
        self.max_us
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.count,
            mean_ms: if self.count == 0 {
                0.0
            } else {
                self.sum_us as f64 / self.count as f64 / 1000.0
            },
            p50_ms: ms(self.quantile_us(0.50)),
            p90_ms: ms(self.quantile_us(0.90)),
            p99_ms: ms(self.quantile_us(0.99)),
            max_ms: ms(self.max_us),
        }
    }
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev = None;
        for v in (0..5000u64).chain([1 << 20, (1 << 20) + 1, (1 << 39) + 12345]) {
            let i = index(v);
            assert!(upper(i) >= v, "{v}");
            assert!(i == 0 || upper(i - 1) < v, "{v}");
            assert!((upper(i) - v) as f64 <= v as f64 / SUB as f64 + 1.0, "{v}");
            if let Some(p) = prev {
                assert!(i >= p);
            }
            prev = Some(i);
        }
        assert!(index((1 << MAX_BITS) + 5) < BUCKETS);
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.5, "{s:?}");
        assert!((s.p90_ms - 90.0).abs() < 0.8, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.8, "{s:?}");
        assert_eq!(s.max_ms, 100.0);
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
        let mut other = Histogram::default();
        other.record(Duration::from_secs(2));
        h.merge(&other);
        assert_eq!(h.summary().max_ms, 2000.0);
        assert_eq!(Histogram::default().summary().p99_ms, 0.0);
    }
}
