use super::*;
use crate::sample::result;

#[test]
fn counts_add_and_percentiles_come_from_the_added_histograms() {
    // Shard a is fast, shard b slow: the mean of their p50s (≈ 5.5 ms) is what averaging
    // would give; the true median of all 20 requests is in the slow half's bottom.
    let a = result("2026-11-21T10:00:00.000Z", &[1000; 10]);
    let b = result("2026-11-21T10:00:00.200Z", &[10_000; 10]);
    let m = merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(m.total.requests, 20);
    assert_eq!(m.total.errors, 2);
    assert_eq!(m.total.errors_by_kind.status, 2);
    assert_eq!(m.total.statuses["200"], 18);
    assert_eq!(m.total.statuses["500"], 2);
    assert_eq!(m.total.bytes_received, 2000);
    assert_eq!(m.tokens[0].requests, 4);
    assert_eq!(m.iterations, 20);
    assert_eq!(m.total.latency.p50, 1.0);
    assert!(
        (m.total.latency.p99 - 10.0).abs() < 0.01,
        "{:?}",
        m.total.latency
    );
    assert!((m.total.latency.max - 10.0).abs() < 0.01);
    // The merged histogram is the sum: decoding it gives 20 values.
    assert_eq!(decode(&m.total.histogram).unwrap().len(), 20);
    assert_eq!(m.settings.max_vus, 4);
    assert_eq!(m.settings.workers, 2);
    // b started 0.2 s later and ran 2 s: the run lasted 2.2 s.
    assert!((m.duration_s - 2.2).abs() < 1e-9);
    assert!((m.total.rps - 20.0 / 2.2).abs() < 1e-9);
    // Same wall-clock seconds are added together.
    assert_eq!(m.timeline.len(), 2);
    assert_eq!(m.timeline[0].requests, 10);
    assert_eq!(m.timeline[0].active_vus, 4);
    assert_eq!(m.timeline[1].token_requests, 2);
    // p99 < 5ms fails on the merge, though shard a alone passed it.
    assert_eq!(m.thresholds.len(), 1);
    assert!(!m.thresholds[0].passed);
    assert!(!m.passed);
    assert!((m.thresholds[0].observed.unwrap() - 10.0).abs() < 0.01);
}

#[test]
fn one_result_merges_to_itself() {
    let a = result("2026-11-21T10:00:00.000Z", &[1000, 2000, 3000, 4000]);
    let m = merge(std::slice::from_ref(&a)).unwrap();
    assert_eq!(m.total.latency, a.total.latency);
    assert_eq!(m.steps[0].requests, a.steps[0].requests);
    assert_eq!(m.timeline.len(), a.timeline.len());
    assert_eq!(m.timeline[1].requests, a.timeline[1].requests);
    assert_eq!(m.settings, a.settings);
}

#[test]
fn later_starts_shift_the_timeline_and_gaps_are_filled() {
    let a = result("2026-11-21T10:00:00.000Z", &[1000; 4]);
    let b = result("2026-11-21T10:00:03.000Z", &[1000; 4]);
    let m = merge(&[b, a]).unwrap();
    assert_eq!(m.started, "2026-11-21T10:00:00.000Z");
    let req: Vec<u64> = m.timeline.iter().map(|s| s.requests).collect();
    assert_eq!(req, [2, 2, 0, 2, 2]);
    assert!((m.duration_s - 5.0).abs() < 1e-9);
}

#[test]
fn complete_segment_sets_are_the_whole_run() {
    let mut a = result("2026-11-21T10:00:00.000Z", &[1000]);
    let mut b = a.clone();
    a.settings.segment = Some("1/2".into());
    b.settings.segment = Some("2/2".into());
    a.settings.rate = Some(10.0);
    b.settings.rate = Some(11.0);
    let m = merge(&[a.clone(), b]).unwrap();
    assert_eq!(m.settings.segment, None);
    assert_eq!(m.settings.rate, Some(21.0));
    let m = merge(&[a]).unwrap();
    assert_eq!(m.settings.segment.as_deref(), Some("1/2"));
}

#[test]
fn mismatches_name_the_input_and_what_differs() {
    let a = result("2026-11-21T10:00:00.000Z", &[1000; 2]);
    let check = |b: RunResult, want: &str| {
        let e = merge(&[a.clone(), b]).unwrap_err();
        assert_eq!(e.index, Some(1));
        assert!(e.message.contains(want), "{}", e.message);
    };
    let mut b = a.clone();
    b.scenario = "other".into();
    check(b, "its scenario is `other`; the first result's is `shop`");
    let mut b = a.clone();
    b.steps[0].name = "detail".into();
    check(b, "its step list is detail; the first result's is goods");
    let mut b = a.clone();
    b.tokens.clear();
    check(b, "token step list is (none)");
    let mut b = a.clone();
    b.loadtape = "result/v2".into();
    check(b, "`result/v2`");
    let mut b = a.clone();
    b.settings.executor = "constant-rate".into();
    check(b, "executor");
    let mut b = a.clone();
    b.thresholds.clear();
    check(b, "threshold list is (none)");
    let mut b = a.clone();
    b.steps[0].histogram = "not base64!".into();
    check(b, "`goods` latency histogram is not a valid");
    let mut b = a.clone();
    b.started = "yesterday".into();
    check(b, "not an RFC 3339 time");
    assert!(merge(&[]).unwrap_err().index.is_none());
}

#[test]
fn check_failures_are_summed_by_rule_and_value() {
    let mut a = result("2026-11-21T10:00:00.000Z", &[1000; 4]);
    let mut b = result("2026-11-21T10:00:00.000Z", &[1000; 4]);
    a.steps[0].check_failures.add("$.errno == 0", "402", 3);
    a.steps[0].check_failures.add("$.errno == 0", "501", 1);
    b.steps[0].check_failures.add("$.errno == 0", "501", 5);
    b.steps[0].check_failures.add("$.errno == 0", "402", 2);
    let m = merge(&[a, b]).unwrap();
    let got: Vec<(&str, &str, u64)> = m.steps[0]
        .check_failures
        .0
        .iter()
        .map(|f| (f.check.as_str(), f.got.as_str(), f.count))
        .collect();
    // Sorted again after summing: 501 overtook 402.
    assert_eq!(
        got,
        [("$.errno == 0", "501", 6), ("$.errno == 0", "402", 5)]
    );
    assert!(m.total.check_failures.is_empty());
}

#[test]
fn timings_checks_bytes_and_step_seconds_add_up() {
    let a = result("2026-11-21T10:00:00.000Z", &[1000; 10]);
    let b = result("2026-11-21T10:00:00.200Z", &[10_000; 10]);
    let m = merge(&[a.clone(), b]).unwrap();
    let t = &m.steps[0].timings;
    assert_eq!((t.opened, t.reused), (2, 18));
    assert_eq!(t.connect.count, 20);
    assert_eq!(decode(&t.ttfb.histogram).unwrap().len(), 20);
    assert!((t.transfer.latency.max - 10.0).abs() < 0.01);
    assert_eq!(m.steps[0].checks.len(), 1);
    assert_eq!(
        (m.steps[0].checks[0].passed, m.steps[0].checks[0].failed),
        (18, 2)
    );
    // Seconds laid on one clock: bytes and each step's requests add, p99 is the larger.
    assert_eq!(m.timeline[0].bytes_sent, 100);
    assert_eq!(m.timeline[0].bytes_received, 1000);
    assert_eq!(m.timeline[0].steps[0].requests, 10);
    assert!((m.timeline[0].steps[0].p99 - 10.0).abs() < 0.01);
    assert!((m.timeline[0].steps[0].p50 - 5.5).abs() < 0.01, "weighted");
    // A result written before these fields merges with one that has them.
    let mut old = a.clone();
    for row in old
        .steps
        .iter_mut()
        .chain(&mut old.tokens)
        .chain([&mut old.total])
    {
        row.timings = Default::default();
        row.checks.clear();
    }
    for s in &mut old.timeline {
        s.steps.clear();
    }
    let text = serde_json::to_string(&old).unwrap();
    assert!(!text.contains("\"timings\"") && !text.contains("\"checks\""));
    let old: RunResult = serde_json::from_str(&text).unwrap();
    let m = merge(&[old, a]).unwrap();
    assert_eq!(m.steps[0].timings.opened, 1);
    assert_eq!(m.steps[0].checks[0].passed, 9);
    assert_eq!(m.timeline[0].steps[0].requests, 5);
}
