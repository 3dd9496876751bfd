use super::gate::Gate;
use super::*;
use crate::histogram::{encode, histogram, latency};
use crate::result::{Second, StepSecond, Tail};
use crate::sample::bare;

/// A run of `seconds` seconds at `per_second` requests each, every latency `base_us` µs
/// times a pseudo-random factor from 1 to 3 (a long tail, as real latencies have), the
/// stream of factors set by `seed`: two seeds are two runs of the same settings.
fn run(seconds: usize, per_second: usize, base_us: f64, seed: u64) -> RunResult {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut all = histogram();
    let mut timeline = Vec::new();
    for t in 0..seconds {
        let mut h = histogram();
        for _ in 0..per_second {
            let u: f64 = next();
            h.record((base_us * (1.0 + 2.0 * u * u * u)) as u64)
                .unwrap();
        }
        all.add(&h).unwrap();
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        timeline.push(Second {
            t: t as u64,
            requests: per_second as u64,
            p50: q(0.5),
            p99: q(0.99),
            histogram: encode(&h),
            steps: vec![StepSecond {
                requests: per_second as u64,
                errors: 0,
                p50: q(0.5),
                p99: q(0.99),
                tail: Some(Tail {
                    p90: q(0.9),
                    p95: q(0.95),
                    p999: q(0.999),
                    max: h.max() as f64 / 1000.0,
                }),
            }],
            ..Second::default()
        });
    }
    let n = (seconds * per_second) as u64;
    let total = StepStats {
        name: "total".into(),
        kind: "total".into(),
        requests: n,
        succeeded: Some(n),
        rps: per_second as f64,
        latency: latency(&all),
        histogram: encode(&all),
        ..StepStats::default()
    };
    let mut r = bare(total, vec![]);
    r.duration_s = seconds as f64;
    r.timeline = timeline;
    r
}

fn inputs<'a>(runs: &'a [RunResult]) -> Vec<Input<'a>> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| Input {
            result: r,
            file: format!("run{i}.json"),
        })
        .collect()
}

fn verdicts(c: &Comparison, k: usize) -> Vec<(String, Figure, Verdict)> {
    c.rows
        .iter()
        .flat_map(|r| {
            r.lines
                .iter()
                .map(move |l| (r.name.clone(), l.figure, l.candidates[k].verdict))
        })
        .collect()
}

#[test]
fn runs_of_the_same_settings_are_within_noise_on_every_figure() {
    for seed in 0..10 {
        let runs = [run(30, 200, 1000.0, seed), run(30, 200, 1000.0, seed + 100)];
        let c = compare(&inputs(&runs), false).unwrap();
        for (row, figure, v) in verdicts(&c, 0) {
            assert_eq!(v, Verdict::WithinNoise, "seed {seed}: {row} {figure:?}");
        }
        assert_eq!(c.baseline.seconds, 28, "all but the first and the last");
    }
}

#[test]
fn a_slower_candidate_is_worse_on_its_latencies_with_high_confidence() {
    let runs = [run(30, 200, 1000.0, 1), run(30, 200, 1300.0, 2)];
    let c = compare(&inputs(&runs), false).unwrap();
    let p99 = c.row("total").unwrap().line(Figure::P99).unwrap();
    let ch = &p99.candidates[0];
    assert_eq!(ch.verdict, Verdict::Worse, "{ch:?}");
    assert!(ch.confidence().unwrap() > 0.999, "{ch:?}");
    let pct = ch.change_pct.unwrap();
    assert!((25.0..35.0).contains(&pct), "{pct}");
    for (row, figure, v) in verdicts(&c, 0) {
        match figure {
            // The same count every second: no difference at all.
            Figure::Rps | Figure::ErrorRate => assert_eq!(v, Verdict::WithinNoise, "{row}"),
            Figure::Max => {}
            _ => assert_eq!(v, Verdict::Worse, "{row} {figure:?}"),
        }
    }
    // The other way round it is better.
    let runs = [runs[1].clone(), runs[0].clone()];
    let c = compare(&inputs(&runs), false).unwrap();
    let p50 = c.row("goods").unwrap().line(Figure::P50).unwrap();
    assert_eq!(p50.candidates[0].verdict, Verdict::Better);
}

#[test]
fn short_runs_are_too_short_to_tell() {
    let runs = [run(4, 200, 1000.0, 1), run(4, 200, 3000.0, 2)];
    let c = compare(&inputs(&runs), false).unwrap();
    for (row, figure, v) in verdicts(&c, 0) {
        assert_eq!(v, Verdict::TooShort, "{row} {figure:?}");
    }
    // Ten seconds judged a side: enough for a difference this clear, even corrected for
    // the 16 figures.
    let runs = [run(12, 200, 1000.0, 1), run(12, 200, 3000.0, 2)];
    let c = compare(&inputs(&runs), false).unwrap();
    let p50 = c.row("total").unwrap().line(Figure::P50).unwrap();
    assert_eq!(p50.candidates[0].verdict, Verdict::Worse);
}

#[test]
fn other_step_lists_are_refused_unless_loose() {
    let a = run(10, 10, 1000.0, 1);
    let mut b = run(10, 10, 1000.0, 2);
    b.steps[0].name = "detail".into();
    let runs = [a, b];
    let e = compare(&inputs(&runs), false).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(
        e.message
            .contains("its steps are detail; the baseline's are goods"),
        "{e}"
    );
    let c = compare(&inputs(&runs), true).unwrap();
    assert_eq!(
        c.rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["total"]
    );
    assert_eq!(c.not_compared.len(), 2, "{:?}", c.not_compared);
    let mut other = runs[0].clone();
    other.scenario = "checkout".into();
    let e = compare(&inputs(&[runs[0].clone(), other]), false).unwrap_err();
    assert!(e.message.contains("its scenario is `checkout`"), "{e}");
    assert!(compare(&inputs(&runs[..1]), false).is_err(), "no candidate");
}

#[test]
fn gates_fail_exactly_beyond_their_limit() {
    let runs = [
        run(30, 200, 1000.0, 1),
        run(30, 200, 1000.0, 2),
        run(30, 200, 1300.0, 3),
    ];
    let mut c = compare(&inputs(&runs), false).unwrap();
    let gates = [
        Gate::parse("p99 +10%").unwrap(),
        Gate::parse("goods.p50 worse").unwrap(),
    ];
    gate::apply(&mut c, &gates).unwrap();
    let failed: Vec<(&str, &str)> = c
        .gates
        .iter()
        .filter(|g| g.failed)
        .map(|g| (g.rule.as_str(), g.candidate.as_str()))
        .collect();
    assert_eq!(failed, [("p99 +10%", "run2"), ("goods.p50 worse", "run2")]);
    assert!(!c.passed);
    // The limit itself passes; a hair beyond fails.
    let pct = c
        .row("total")
        .unwrap()
        .line(Figure::P99)
        .unwrap()
        .candidates[1]
        .change_pct
        .unwrap();
    for (limit, fails) in [(pct, false), (pct - 0.01, true)] {
        let mut c = c.clone();
        gate::apply(&mut c, &[Gate::parse(&format!("p99 +{limit}%")).unwrap()]).unwrap();
        assert_eq!(!c.passed, fails, "limit {limit} of {pct}");
    }
    let e = gate::apply(&mut c, &[Gate::parse("checkout.p99 +1%").unwrap()]).unwrap_err();
    assert!(e.contains("no step `checkout`"), "{e}");
    // A candidate that failed its own run fails any gate set, however good its figures.
    let mut failed = runs[1].clone();
    failed.passed = false;
    let runs = [runs[0].clone(), failed];
    let mut c = compare(&inputs(&runs), false).unwrap();
    gate::apply(&mut c, &[Gate::parse("p99 +1000%").unwrap()]).unwrap();
    assert!(!c.passed);
    assert_eq!(
        (c.gates[0].rule.as_str(), c.gates[0].observed.as_str()),
        (gate::OWN_RUN, "FAILED")
    );
    assert!(!c.gates[1].failed, "the figure itself is within the limit");
}

#[test]
fn gate_rules_parse_or_say_what_to_write() {
    let g = Gate::parse("goods.p99.9 +1.5ms").unwrap();
    assert_eq!((g.row.as_str(), g.figure), ("goods", Figure::P999));
    let g = Gate::parse("p99.9 2s").unwrap();
    assert_eq!((g.row.as_str(), g.figure), ("total", Figure::P999));
    assert_eq!(Gate::parse("rps -5%").unwrap().figure, Figure::Rps);
    for (rule, says) in [
        ("rps +5%", "write `-5%`"),
        ("p99 -10%", "write `+10%`"),
        ("p99 10", "not a unit of p99"),
        ("error_rate +0.5", "percentage points"),
        ("p42 +1%", "not a figure"),
        ("p99", "write the figure, a space"),
        ("p99 +ten%", "not a change"),
    ] {
        let e = Gate::parse(rule).unwrap_err();
        assert!(e.contains(says), "{rule}: {e}");
    }
}

#[test]
fn text_and_json_show_every_figure() {
    let mut slow = run(12, 50, 1300.0, 2);
    slow.label = Some("after".into());
    let runs = [run(12, 50, 1000.0, 1), slow];
    let c = compare(&inputs(&runs), false).unwrap();
    let t = text::text(&c);
    for want in [
        "comparing runs of `s`",
        "run0.json",
        "candidate  after  run1.json",
        "p99.9 latency",
        "requests/s (higher is better)",
        "worse (",
    ] {
        assert!(t.contains(want), "no {want:?} in\n{t}");
    }
    let v: serde_json::Value = serde_json::to_value(&c).unwrap();
    assert_eq!(v["loadtape"], COMPARE_V1);
    assert_eq!(v["rows"][0]["lines"][6]["figure"], "p99.9");
    assert_eq!(v["candidates"][0]["label"], "after");
    let page = page::render(&c, &[&runs[0], &runs[1]]);
    assert_eq!(page.matches("data-figure=").count(), 8);
    assert!(page.contains(r#"data-chart="distribution""#));
}
