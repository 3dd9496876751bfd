//! `loadtape report` and `report merge` on results of real runs: shards of one load against
//! one testbed, merged, must add up to the server's own counts and to the histograms the test
//! adds itself; the HTML report must draw its charts in a real browser (headless Chromium).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use loadtape_report::histogram::decode;
use loadtape_report::result::RunResult;
use serde_json::Value;

use crate::run::{fixture, run_cmd};
use crate::util::{curl, finish, loadtape, Running};

fn testbed() -> (Running, String) {
    crate::util::testbed(&["--token-ttl", "1h"])
}

/// Starts `loadtape run` of the shop fixture against `base`, writing `out`.
fn shard(base: &str, out: &Path, args: &[&str]) -> std::process::Child {
    run_cmd(&fixture("shop.scenario.yaml"), base, out, args)
        .spawn()
        .unwrap()
}

fn report(args: &[&Path]) -> Output {
    let child = loadtape()
        .arg("report")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, Duration::from_secs(30))
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read(path: &Path) -> RunResult {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// p50, p99, max (ms) of the sum of the given encoded histograms.
fn added(encoded: &[&str]) -> (f64, f64, f64) {
    let mut sum = decode(encoded[0]).unwrap();
    for e in &encoded[1..] {
        sum.add(decode(e).unwrap()).unwrap();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    (
        ms(sum.value_at_quantile(0.5)),
        ms(sum.value_at_quantile(0.99)),
        ms(sum.max()),
    )
}

#[test]
fn merged_shards_equal_the_servers_counts_and_the_added_histograms_and_render_in_chromium() {
    let (_tb, base) = testbed();
    let dir = tempfile::tempdir().unwrap();
    let outs: Vec<PathBuf> = (0..3)
        .map(|k| dir.path().join(format!("result-{k}.json")))
        .collect();
    // Three segments of one 9-VU load, as three pods of an Indexed Job run it: each its
    // share, all starting at the same instant.
    let start_at = Utc::now() + chrono::Duration::milliseconds(2500);
    let at = start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shard_html = dir.path().join("shard-1.html");
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let seg = format!("{}/3", k + 1);
            let mut args = vec!["--vus", "9", "--duration", "3s", "--segment", &seg];
            args.extend(["--start-at", &at]);
            if k == 0 {
                args.extend(["--html", shard_html.to_str().unwrap()]);
            }
            shard(&base, o, &args)
        })
        .collect();
    for c in children {
        let o = finish(c, Duration::from_secs(40));
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    let shards: Vec<RunResult> = outs.iter().map(|o| read(o)).collect();
    for (k, r) in shards.iter().enumerate() {
        assert_eq!(r.settings.segment, Some(format!("{}/3", k + 1)));
        assert_eq!(r.settings.max_vus, 3);
        let late = (time(&r.started) - start_at).num_milliseconds();
        assert!(
            (0..1000).contains(&late),
            "shard {k} started {late} ms after --start-at"
        );
    }
    // `run --html` writes the report of the run itself.
    let page = std::fs::read_to_string(&shard_html).unwrap();
    assert!(page.contains("data-chart=\"rps\"") && page.contains("<dd>1/3</dd>"));

    let merged_path = dir.path().join("merged.json");
    let html = dir.path().join("report.html");
    let mut args: Vec<&Path> = vec![Path::new("merge")];
    args.extend(outs.iter().map(PathBuf::as_path));
    args.extend([Path::new("--out"), &merged_path, Path::new("--html"), &html]);
    let o = report(&args);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("merged 3 results"), "{stdout}");
    assert!(stdout.contains("PASS error_rate < 1%"), "{stdout}");
    let m = read(&merged_path);

    // Counts: the sum of the shards, and what the server itself saw.
    let (code, body) = curl(&[&format!("{base}/stats")]);
    assert_eq!(code, 0, "{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    let server = |k: &str| s["requests"][k].as_u64().unwrap();
    let sum = |f: &dyn Fn(&RunResult) -> u64| shards.iter().map(f).sum::<u64>();
    assert_eq!(m.total.requests, sum(&|r| r.total.requests));
    assert_eq!(
        m.total.requests,
        server("goods_list") + server("goods_detail") + server("order")
    );
    for (i, name) in ["goods_list", "goods_detail", "order"].iter().enumerate() {
        assert_eq!(m.steps[i].requests, server(name), "{name}");
    }
    assert_eq!(m.tokens[0].requests, server("token"));
    assert_eq!(m.tokens[1].requests, server("login"));
    assert_eq!(m.iterations, sum(&|r| r.iterations));
    assert_eq!(m.total.errors, 0);
    assert_eq!(m.total.statuses["200"], m.total.requests);
    // A complete set of segments is the whole run again.
    assert_eq!(m.settings.max_vus, 9);
    assert_eq!(m.settings.segment, None);

    // Latency: exactly the percentiles of the histograms added here.
    let hist = |f: &dyn Fn(&RunResult) -> &str| -> Vec<String> {
        shards.iter().map(|r| f(r).to_string()).collect()
    };
    let check = |name: &str, encoded: Vec<String>, got: &loadtape_report::result::Latency| {
        let refs: Vec<&str> = encoded.iter().map(String::as_str).collect();
        let (p50, p99, max) = added(&refs);
        assert_eq!((got.p50, got.p99, got.max), (p50, p99, max), "{name}");
    };
    check("total", hist(&|r| &r.total.histogram), &m.total.latency);
    for k in 0..3 {
        check(
            &m.steps[k].name,
            hist(&|r| &r.steps[k].histogram),
            &m.steps[k].latency,
        );
    }
    assert_eq!(decode(&m.total.histogram).unwrap().len(), m.total.requests);

    // Timeline: each shard's second t lands on t + its start's offset, rounded.
    let base_t = shards.iter().map(|r| time(&r.started)).min().unwrap();
    assert_eq!(time(&m.started), base_t);
    let mut want = vec![0u64; m.timeline.len()];
    for r in &shards {
        let shift = ((time(&r.started) - base_t).num_milliseconds() as f64 / 1000.0).round() as u64;
        for sec in &r.timeline {
            want[(sec.t + shift) as usize] += sec.requests;
        }
    }
    let got: Vec<u64> = m.timeline.iter().map(|s| s.requests).collect();
    assert_eq!(got, want);
    assert_eq!(got.iter().sum::<u64>(), m.total.requests);
    assert!((3..=5).contains(&m.timeline.len()), "{got:?}");

    // One result alone renders as it is.
    let o = report(&[&outs[0]]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("testbed-shop"));

    renders_in_chromium(&html, dir.path());
}

/// The report opened in headless Chromium: every chart is drawn with data, the tables have
/// their rows.
fn renders_in_chromium(html: &Path, dir: &Path) {
    let out = crate::util::chromium(dir)
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium is installed (.ci/run installs it)");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("</html>"),
        "no DOM from chromium:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (chart, series) in [
        ("rps", &["requests/s"][..]),
        ("latency", &["p50", "p99"]),
        ("vus", &["VUs"]),
        ("errors", &["errors", "dropped"]),
        ("tokens", &["token requests/s"]),
        ("distribution", &["latency by percentile"]),
    ] {
        let at = dom
            .find(&format!("data-chart=\"{chart}\""))
            .unwrap_or_else(|| panic!("no {chart} chart in the DOM"));
        let svg = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        for name in series {
            let p = svg
                .find(&format!("data-series=\"{name}\""))
                .unwrap_or_else(|| panic!("{chart}: no {name} series"));
            let path = &svg[p..p + svg[p..].find('>').unwrap()];
            let d = attr(path, "d");
            assert!(
                d.starts_with('M') && d.contains(" L"),
                "{chart}/{name}: d={d}"
            );
            let points: usize = attr(path, "data-points").parse().unwrap();
            assert!(points >= 3, "{chart}/{name}: {points} points");
        }
    }
    let steps = &dom[dom.find("<table id=\"steps\"").unwrap()..];
    let steps = &steps[..steps.find("</table>").unwrap()];
    assert_eq!(steps.matches("<tr class=\"step\">").count(), 3, "{steps}");
    for name in ["goods", "detail", "order"] {
        assert!(steps.contains(&format!("<td>{name}</td>")), "{steps}");
    }
    assert!(dom.contains("id=\"verdict\">PASSED"));
}

fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    &tag[at..at + tag[at..].find('"').unwrap()]
}

#[test]
fn mismatched_corrupt_and_foreign_files_exit_2_naming_the_file() {
    let (_tb, base) = testbed();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let o = finish(
        shard(&base, &a, &["--vus", "1", "--duration", "1s"]),
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let variant = |name: &str, edit: &dyn Fn(&mut Value)| -> PathBuf {
        let mut v = original.clone();
        edit(&mut v);
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        p
    };
    let other = variant("other.json", &|v| v["scenario"] = "checkout".into());
    let steps = variant("steps.json", &|v| {
        v["steps"].as_array_mut().unwrap().pop();
    });
    let v2 = variant("v2.json", &|v| v["loadtape"] = "result/v2".into());
    let strict = variant("strict.json", &|v| {
        for t in v["thresholds"].as_array_mut().unwrap() {
            t["threshold"] = "p99 < 1us".into();
        }
    });
    let corrupt = dir.path().join("corrupt.json");
    let text = std::fs::read_to_string(&a).unwrap();
    std::fs::write(&corrupt, &text[..text.len() / 2]).unwrap();
    let scenario = fixture("shop.scenario.yaml");
    let foreign = dir.path().join("package.json");
    std::fs::write(&foreign, r#"{"name": "mini-program", "version": "1.0.0"}"#).unwrap();

    for (files, want) in [
        (vec![&a, &other], "other.json: its scenario is `checkout`; the first result's is `testbed-shop`"),
        (vec![&a, &steps], "steps.json: its step list is goods, detail; the first result's is goods, detail, order"),
        (vec![&a, &v2], "v2.json: is a `result/v2` file"),
        (vec![&a, &corrupt], "corrupt.json: not valid JSON"),
        (vec![&scenario], "shop.scenario.yaml: not valid JSON"),
        (vec![&a, &foreign], "package.json: is not a loadtape result"),
    ] {
        let mut args: Vec<&Path> = vec![Path::new("merge")];
        args.extend(files.iter().map(|p| p.as_path()));
        let o = report(&args);
        assert_eq!(o.status.code(), Some(2), "{want}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "want {want:?} in:\n{err}");
    }

    // Thresholds are evaluated again on the merge: a stricter one fails it (exit 99)...
    let o = report(&[Path::new("merge"), &strict, &strict]);
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("p99 < 1us"));
    // ...while one file alone reports its recorded verdict.
    let o = report(&[&a]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    // Segments that cannot be: exit 2 before anything is sent.
    for (args, want) in [
        (&["--segment", "4/3"][..], "1 <= K <= N"),
        (
            &["--vus", "2", "--segment", "1/3"],
            "has no VU; use at most 2 segments",
        ),
        (&["--start-at", "tomorrow"], "not an RFC 3339 time"),
    ] {
        let out = dir.path().join("never.json");
        let o = finish(shard(&base, &out, args), Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{}",
            show(&o)
        );
        assert!(!out.exists());
    }
}
