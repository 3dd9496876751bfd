//! Where an answered request's time went (k6's connecting / TLS handshaking / waiting /
//! receiving): connect and TLS per new connection, measured where dialing is
//! ([`loadtape_net::dial_timed`]), and per request the time to first byte and the transfer,
//! measured around hyper's send (see `http::send_on`). Kept as histograms in each worker's
//! rows, like the latency: recording is four histogram increments, no lock, no allocation.

use std::time::Duration;

use hdrhistogram::Histogram;
use loadtape_net::DialTiming;
use loadtape_report::breakdown::phase;
use loadtape_report::histogram::{histogram, MAX_US};
use loadtape_report::result::Timings;

/// A duration as the histograms record it: whole microseconds, clamped to the range they
/// track (1 µs to [`MAX_US`], an hour).
pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_US)
}

/// The timing of one answered exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// How the connection was dialed, when the request had to open one; `None` when it was
    /// sent on a connection kept from before.
    pub dial: Option<DialTiming>,
    /// From handing the request to the connection to the response head.
    pub ttfb: Duration,
    /// From the response head to the end of the body.
    pub transfer: Duration,
}

/// A row's timing histograms (µs) and connection counts.
#[derive(Debug, Clone)]
pub struct TimingMetrics {
    /// Answered requests that opened their connection.
    pub opened: u64,
    /// Answered requests on a kept connection.
    pub reused: u64,
    /// TCP connect per opened connection.
    pub connect: Histogram<u64>,
    /// TLS handshake per opened `https` connection.
    pub tls: Histogram<u64>,
    /// Time to first byte per answered request.
    pub ttfb: Histogram<u64>,
    /// Transfer per answered request.
    pub transfer: Histogram<u64>,
}

impl Default for TimingMetrics {
    fn default() -> Self {
        TimingMetrics::new()
    }
}

impl TimingMetrics {
    /// Nothing timed yet.
    pub fn new() -> TimingMetrics {
        TimingMetrics {
            opened: 0,
            reused: 0,
            connect: histogram(),
            tls: histogram(),
            ttfb: histogram(),
            transfer: histogram(),
        }
    }

    /// Records one answered exchange.
    pub fn record(&mut self, t: &Timing) {
        match t.dial {
            Some(d) => {
                self.opened += 1;
                self.connect.saturating_record(micros(d.connect));
                if let Some(tls) = d.tls {
                    self.tls.saturating_record(micros(tls));
                }
            }
            None => self.reused += 1,
        }
        self.ttfb.saturating_record(micros(t.ttfb));
        self.transfer.saturating_record(micros(t.transfer));
    }

    /// Adds another worker's (or row's) numbers.
    pub fn merge(&mut self, o: &TimingMetrics) {
        self.opened += o.opened;
        self.reused += o.reused;
        let _ = self.connect.add(&o.connect);
        let _ = self.tls.add(&o.tls);
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.transfer.add(&o.transfer);
    }

    /// As `result/v1` stores it.
    pub fn to_result(&self) -> Timings {
        Timings {
            opened: self.opened,
            reused: self.reused,
            connect: phase(&self.connect),
            tls: phase(&self.tls),
            ttfb: phase(&self.ttfb),
            transfer: phase(&self.transfer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_connections_time_their_dial_and_kept_ones_count_as_reused() {
        let ms = Duration::from_millis;
        let mut a = TimingMetrics::new();
        a.record(&Timing {
            dial: Some(DialTiming {
                connect: ms(2),
                tls: Some(ms(5)),
            }),
            ttfb: ms(10),
            transfer: ms(1),
        });
        let mut b = TimingMetrics::new();
        b.record(&Timing {
            dial: None,
            ttfb: ms(20),
            transfer: ms(3),
        });
        a.merge(&b);
        let t = a.to_result();
        assert_eq!((t.opened, t.reused), (1, 1));
        assert_eq!((t.connect.count, t.tls.count, t.ttfb.count), (1, 1, 2));
        assert!((t.tls.latency.max - 5.0).abs() < 0.01);
        assert!((t.ttfb.latency.max - 20.0).abs() < 0.02);
    }
}
