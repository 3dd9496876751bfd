//! The latency histograms of `result/v1`: µs, 3 significant digits, stored as HdrHistogram V2
//! + deflate in base64 ([`encode`], [`decode`]), and read as [`Latency`] figures in ms.

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::result::{Latency, RunResult};

/// Highest latency recorded: an hour, in µs. Longer values are clamped.
pub const MAX_US: u64 = 3_600_000_000;

/// An empty histogram: µs, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that are valid for hdrhistogram.
    Histogram::new_with_bounds(1, MAX_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Latency statistics of a histogram, in ms.
pub fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        min: ms(h.min()),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// V2 + deflate, base64: the `result/v1` histogram encoding.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode`].
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}

/// The rows of `r` whose latency histograms do not decode (an edited or damaged file): the
/// HTML report leaves their charts out, and says so, rather than drawing nothing silently.
pub fn unreadable(r: &RunResult) -> Vec<String> {
    let rows = r
        .tokens
        .iter()
        .chain(&r.steps)
        .chain(std::iter::once(&r.total));
    rows.filter(|s| !s.histogram.is_empty() && decode(&s.histogram).is_none())
        .map(|s| s.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_losslessly() {
        let mut h = histogram();
        for v in [1, 10, 999, 1000, 123_456, 5_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        let l = latency(&back);
        assert_eq!(l.min, 0.001);
        assert!((l.max - 5000.0).abs() < 5.0);
    }
}
