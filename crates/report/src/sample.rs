//! Results built by hand for the unit tests.

use crate::breakdown::phase;
use crate::histogram::{encode, histogram, latency};
use crate::result::{
    CheckCount, ErrorCounts, RunResult, Second, Settings, StepSecond, StepStats, ThresholdResult,
    Timings, RESULT_V1,
};
use indexmap::IndexMap;

/// A step row whose latency histogram holds `us` (µs), all answered 200.
pub(crate) fn step(name: &str, kind: &str, us: &[u64]) -> StepStats {
    let mut h = histogram();
    for v in us {
        h.record(*v).unwrap();
    }
    StepStats {
        name: name.into(),
        kind: kind.into(),
        requests: us.len() as u64,
        errors: 1,
        errors_by_kind: ErrorCounts {
            status: 1,
            ..ErrorCounts::default()
        },
        statuses: [
            ("200".to_string(), us.len() as u64 - 1),
            ("500".to_string(), 1),
        ]
        .into_iter()
        .collect(),
        rps: us.len() as f64 / 2.0,
        bytes_sent: 100,
        bytes_received: 1000,
        latency: latency(&h),
        service: latency(&h),
        histogram: encode(&h),
        service_histogram: encode(&h),
        // Every phase the latency's histogram: figures a test can check.
        timings: Timings {
            opened: 1,
            reused: us.len() as u64 - 1,
            connect: phase(&h),
            tls: phase(&h),
            ttfb: phase(&h),
            transfer: phase(&h),
        },
        checks: vec![CheckCount {
            check: "status == 200".into(),
            passed: us.len() as u64 - 1,
            failed: 1,
        }],
        ..StepStats::default()
    }
}

/// A 2-second run started at `started` with steps `goods` (latencies `goods`) and a token step.
pub(crate) fn result(started: &str, goods: &[u64]) -> RunResult {
    let g = step("goods", "step", goods);
    let mut total = g.clone();
    total.name = "total".into();
    total.kind = "total".into();
    let half = goods.len() / 2;
    let second = |t: u64, us: &[u64]| {
        let mut h = histogram();
        for v in us {
            h.record(*v).unwrap();
        }
        Second {
            t,
            span: 1,
            requests: us.len() as u64,
            errors: 0,
            token_requests: 1,
            p50: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99: h.value_at_quantile(0.99) as f64 / 1000.0,
            active_vus: 2,
            dropped: 0,
            histogram: encode(&h),
            bytes_sent: 50,
            bytes_received: 500,
            steps: vec![StepSecond {
                requests: us.len() as u64,
                errors: 0,
                p50: h.value_at_quantile(0.5) as f64 / 1000.0,
                p99: h.value_at_quantile(0.99) as f64 / 1000.0,
                tail: None,
            }],
        }
    };
    RunResult {
        loadtape: RESULT_V1.into(),
        scenario: "shop".into(),
        scenario_file: Some("shop.yaml".into()),
        label: None,
        version: "0.1.0".into(),
        started: started.into(),
        ended: started.into(),
        duration_s: 2.0,
        partial: false,
        end_reason: "completed".into(),
        failure: None,
        settings: Settings {
            executor: "constant-vus".into(),
            max_vus: 2,
            duration_s: 2.0,
            rate: None,
            iterations: None,
            targets: IndexMap::new(),
            insecure: false,
            workers: 1,
            segment: None,
        },
        total,
        tokens: vec![step("session", "token", &[900, 1100])],
        steps: vec![g],
        flows: vec![],
        iterations: goods.len() as u64,
        dropped_iterations: 0,
        timeline: vec![second(0, &goods[..half]), second(1, &goods[half..])],
        thresholds: vec![ThresholdResult {
            threshold: "p99 < 5ms".into(),
            observed: Some(0.0),
            passed: true,
            default: false,
        }],
        passed: true,
        diagnostics: Vec::new(),
    }
}

/// A row of `requests`, `errors` of them failed, and nothing else.
pub(crate) fn row(name: &str, kind: &str, requests: u64, errors: u64) -> StepStats {
    StepStats {
        name: name.into(),
        kind: kind.into(),
        requests,
        errors,
        succeeded: Some(requests.saturating_sub(errors)),
        ..StepStats::default()
    }
}

/// A one-step run (`goods`, a copy of `total`) with `tokens`.
pub(crate) fn bare(total: StepStats, tokens: Vec<StepStats>) -> RunResult {
    RunResult {
        loadtape: RESULT_V1.into(),
        scenario: "s".into(),
        scenario_file: None,
        label: None,
        version: "0".into(),
        started: String::new(),
        ended: String::new(),
        duration_s: 1.0,
        partial: false,
        end_reason: "completed".into(),
        failure: None,
        settings: Settings {
            executor: "constant-vus".into(),
            max_vus: 1,
            duration_s: 1.0,
            rate: None,
            iterations: None,
            targets: Default::default(),
            insecure: false,
            workers: 1,
            segment: None,
        },
        steps: vec![StepStats {
            name: "goods".into(),
            ..total.clone()
        }],
        total,
        tokens,
        flows: vec![],
        iterations: 0,
        dropped_iterations: 0,
        timeline: vec![],
        thresholds: vec![],
        passed: true,
        diagnostics: Vec::new(),
    }
}
