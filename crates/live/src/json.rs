//! A [`Snapshot`] as the JSON the dashboard draws (one server-sent event each): the figures
//! an operator watches, worked out here once per snapshot so that the page only displays.
//!
//! While the run goes on the headline is the latest window (about a second): requests/s,
//! errors/s, p50 and p99. Once it is over (`finished`) the headline is the whole run, and
//! every figure equals the run's result (`result/v1`'s `total` and `steps`).

use hdrhistogram::Histogram;
use loadtape_engine::{LiveRow, Snapshot};
use serde_json::{json, Map, Value};

/// Milliseconds of a µs histogram's quantile, as `result/v1` computes them (0 when empty).
fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

fn kinds(rows: &[LiveRow]) -> Map<String, Value> {
    let mut out = Map::new();
    for r in rows {
        for (kind, n) in r.errors.kinds() {
            let slot = out.entry(kind).or_insert(json!(0));
            *slot = json!(slot.as_u64().unwrap_or(0) + n);
        }
    }
    out
}

fn row(r: &LiveRow, seconds: f64) -> Value {
    json!({
        "name": r.name,
        "requests": r.requests,
        "errors": r.errors.total(),
        "errors_by_kind": kinds(std::slice::from_ref(r)),
        "rps": if seconds > 0.0 { r.requests as f64 / seconds } else { 0.0 },
        "p50_ms": ms(&r.latency, 0.5),
        "p99_ms": ms(&r.latency, 0.99),
        "bytes_sent": r.bytes_sent,
        "bytes_received": r.bytes_received,
        "refreshes": r.refreshes,
    })
}

/// The snapshot's JSON.
pub(crate) fn snapshot(s: &Snapshot) -> Value {
    let elapsed = s.elapsed.as_secs_f64();
    let mut all = loadtape_report::histogram::histogram();
    let (mut requests, mut errors) = (0u64, 0u64);
    for r in &s.steps {
        let _ = all.add(&r.latency);
        requests += r.requests;
        errors += r.errors.total();
    }
    let w = &s.recent;
    let per_s = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let headline = if s.finished {
        json!({
            "window": "run",
            "rps": per_s(requests, elapsed),
            "errors_per_s": per_s(errors, elapsed),
            "p50_ms": ms(&all, 0.5),
            "p99_ms": ms(&all, 0.99),
        })
    } else {
        json!({
            "window": "second",
            "rps": per_s(w.requests, w.seconds),
            "errors_per_s": per_s(w.errors, w.seconds),
            "p50_ms": ms(&w.latency, 0.5),
            "p99_ms": ms(&w.latency, 0.99),
        })
    };
    json!({
        "scenario": s.scenario,
        "elapsed_s": elapsed,
        "planned_s": s.planned.as_secs_f64(),
        "finished": s.finished,
        "vus": s.active_vus,
        "max_vus": s.max_vus,
        "iterations": s.iterations,
        "dropped": s.dropped,
        "now": headline,
        "total": {
            "requests": requests,
            "errors": errors,
            "errors_by_kind": kinds(&s.steps),
            "p50_ms": ms(&all, 0.5),
            "p99_ms": ms(&all, 0.99),
        },
        "token_requests": s.tokens.iter().map(|t| t.requests).sum::<u64>(),
        "token_refreshes": s.tokens.iter().map(|t| t.refreshes).sum::<u64>(),
        "steps": s.steps.iter().map(|r| row(r, elapsed)).collect::<Vec<_>>(),
        "tokens": s.tokens.iter().map(|r| row(r, elapsed)).collect::<Vec<_>>(),
    })
}
