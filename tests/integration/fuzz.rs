//! Structured fuzzing of every loader: arbitrary bytes, and mutations of valid files (bytes
//! cut, YAML and JSON punctuation spliced in, lines doubled and swapped, numbers pushed to
//! their limits), fed to the scenario loader, the template parser, the recording reader, the
//! HAR importer and the result loader (and what reads a result: the summary, the HTML report,
//! `merge`). Each must answer with a value or a located error — never a panic, an abort, or
//! unbounded time or memory. Seeded, with bounded case counts, so CI runs the same cases every
//! time; then the binary itself on a sample of the same mutations, whose exit code must be a
//! verdict (0, 1, 2, 99), never a crash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

use crate::util::{finish, loadtape};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What is spliced into a file: the characters YAML, JSON and templates give meaning to, and
/// values at the edges of their types.
const SPLICES: &[&str] = &[
    "{{",
    "}}",
    "{{ md5(",
    ")",
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "\n",
    "  ",
    "\t",
    "&a ",
    "*a",
    "!!binary ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "\u{feff}",
    "#",
    "?",
    "\\",
    "\\u0000",
    "\u{0}",
    "é",
    "99999999999999999999999",
    "-1",
    "1e999",
    "-0",
    "null",
    "~",
    "true",
    "NaN",
    ",",
    "\r\n",
    "https://",
    "ftp://x/",
    "<<: *a",
    "|",
    ">",
];

/// One edit of a text.
#[derive(Debug, Clone)]
enum Edit {
    Cut { at: usize, len: usize },
    Splice { at: usize, what: usize },
    DoubleLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Cut { at, len }),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(at, what)| Edit::Splice { at, what }),
        any::<usize>().prop_map(|line| Edit::DoubleLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
    ]
}

/// `text` after `edits`, each at a char boundary.
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        let boundary = |s: &str, at: usize| {
            let mut i = at % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match *e {
            Edit::Cut { at, len } => {
                let start = boundary(&s, at);
                let end = boundary(&s, (start + len).min(s.len()));
                s.replace_range(start..end.max(start), "");
            }
            Edit::Splice { at, what } => {
                let at = boundary(&s, at);
                s.insert_str(at, SPLICES[what]);
            }
            Edit::DoubleLine { line } => {
                let mut lines: Vec<&str> = s.lines().collect();
                if let Some(l) = lines.get(line % lines.len().max(1)).copied() {
                    lines.insert(line % lines.len(), l);
                }
                s = lines.join("\n");
            }
            Edit::SwapLines { a, b } => {
                let mut lines: Vec<&str> = s.lines().collect();
                let n = lines.len();
                if n > 0 {
                    lines.swap(a % n, b % n);
                }
                s = lines.join("\n");
            }
        }
    }
    s
}

/// Inputs: a mutation of `valid` most of the time, arbitrary text now and then.
fn inputs(valid: String) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(edit(), 1..6).prop_map(move |e| mutate(&valid, &e)),
        1 => prop::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// The same cases on every run, and no regression files written into the tree.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(0x10ad_7a9e),
        failure_persistence: None,
        ..Config::default()
    })
}

/// A scenario against port 9 (nothing listens there), so that running one is quick.
const SCENARIO: &str = "loadtape: scenario/v1
name: fuzz
variables:
  ts: '{{ now_ms() }}'
data:
  users: {csv: users.csv, pick: sequential}
tokens:
  - name: platform
    scope: shared
    request:
      method: GET
      url: http://127.0.0.1:9/token?appid={{ users.appid }}
    extract:
      access_token: {json: $.access_token}
    refresh_on: {json: {path: $.errcode, in: [40001, 42001]}}
steps:
  - name: goods
    request:
      method: POST
      url: 'http://127.0.0.1:9/goods?t={{ access_token }}&s={{ md5(ts + users.appid) }}'
      headers: [[content-type, application/json]]
      body: {json: {id: 1, name: '{{ users.appid }}'}}
    check: {status: 200, json: {path: $.errno, equals: 0}}
    extract:
      goods_id: {json: '$.data[0].id'}
    think: 10ms
load: {executor: constant-vus, vus: 1, duration: 1s, iterations: 1}
thresholds: [error_rate < 1%, goods.p95 < 200ms]
";

#[test]
fn the_scenario_loader_and_the_template_parser_answer_every_input() {
    runner(400)
        .run(&inputs(SCENARIO.to_string()), |text| {
            if let Err(e) = loadtape_scenario::load_scenario_str(&text, "fuzz.yaml") {
                prop_assert_eq!(e.file.to_str(), Some("fuzz.yaml"));
                prop_assert!(!e.message.is_empty());
                prop_assert!(e.line.is_none_or(|l| l <= text.lines().count() + 1), "{e}");
            }
            Ok(())
        })
        .unwrap();
    let template = "a{{ md5(users.appid + '}}') }}b{{ hmac_sha256(env(\"K\"), now_ms()) }}";
    runner(400)
        .run(&inputs(template.to_string()), |text| {
            if let Err(e) = loadtape_scenario::Template::parse(&text) {
                prop_assert!(e.offset <= text.len(), "{e:?}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_recording_reader_and_the_har_importer_answer_every_input() {
    let recording = fixture("tests/fixtures/detect/signed.yaml");
    runner(300)
        .run(&inputs(recording), |text| {
            if let Err(e) = loadtape_recording::read_recording_str(&text, "fuzz.yaml") {
                prop_assert!(!e.message.is_empty());
                prop_assert!(e.line.is_none_or(|l| l <= text.lines().count() + 1), "{e}");
            }
            Ok(())
        })
        .unwrap();
    let har = fixture("tests/fixtures/har/chrome.har");
    runner(200)
        .run(&inputs(har), |text| {
            if let Err(e) = loadtape_recording::har::import_har_str(&text, "fuzz.har", "fuzz") {
                prop_assert!(!e.message.is_empty());
            }
            Ok(())
        })
        .unwrap();
}

/// A value at the edge of what a JSON number or string can be.
fn extreme() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(-1e308)),
        Just(serde_json::json!(4_000_000_000u64)),
        Just(serde_json::json!(0.5)),
        Just(serde_json::json!("")),
        Just(serde_json::json!("SGVsbG8=")),
        Just(serde_json::json!(null)),
        Just(serde_json::json!([])),
    ]
}

/// Every path to a scalar in `v`, for the mutations to pick from.
fn scalar_paths(v: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m {
                at.push(k.clone());
                scalar_paths(c, at, out);
                at.pop();
            }
        }
        serde_json::Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(i.to_string());
                scalar_paths(c, at, out);
                at.pop();
            }
        }
        _ => out.push(format!("/{}", at.join("/"))),
    }
}

#[test]
fn the_result_loader_and_what_reads_a_result_answer_every_input() {
    let text = fixture("tests/fixtures/fuzz/result.json");
    let valid: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut paths = Vec::new();
    scalar_paths(&valid, &mut Vec::new(), &mut paths);
    let values = prop::collection::vec((0..paths.len(), extreme()), 1..5);
    runner(300)
        .run(&values, |changes| {
            let mut r = valid.clone();
            for (i, v) in changes {
                if let Some(slot) = r.pointer_mut(&paths[i]) {
                    *slot = v;
                }
            }
            if let Ok(result) = loadtape_report::parse(&r.to_string()) {
                let _ = loadtape_report::summary(&result);
                let _ = loadtape_report::html::render(&result);
                let _ = loadtape_report::merge(&[result.clone(), result]);
            }
            Ok(())
        })
        .unwrap();
    runner(200)
        .run(&inputs(text), |text| {
            if let Ok(result) = loadtape_report::parse(&text) {
                let _ = loadtape_report::summary(&result);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_yaml_alias_bomb_is_refused_quickly() {
    let mut bomb = String::from("loadtape: scenario/v1\nname: &a [x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("a{}", i - 1)
        };
        let star = format!("*{prev}, ").repeat(9);
        bomb.push_str(&format!("b{i}: &a{i} [{star}]\n"));
    }
    let start = std::time::Instant::now();
    assert!(loadtape_scenario::load_scenario_str(&bomb, "bomb.yaml").is_err());
    assert!(loadtape_recording::read_recording_str(&bomb, "bomb.yaml").is_err());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// The first `n` mutations of `valid` the seeded runner makes, written as files.
fn mutated_files(dir: &Path, valid: &str, ext: &str, n: usize) -> Vec<PathBuf> {
    use proptest::strategy::ValueTree as _;
    let mut runner = runner(1);
    let strategy = prop::collection::vec(edit(), 1..4);
    (0..n)
        .map(|i| {
            let edits = strategy.new_tree(&mut runner).unwrap().current();
            let path = dir.join(format!("m{i}.{ext}"));
            std::fs::write(&path, mutate(valid, &edits)).unwrap();
            path
        })
        .collect()
}

#[test]
fn the_binary_gives_a_verdict_on_mutated_files_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("users.csv"), "appid\nwx1\nwx2\n").unwrap();
    let cases = [
        (
            SCENARIO.to_string(),
            "yaml",
            vec!["run", "--iterations", "1", "--quiet"],
        ),
        (
            fixture("tests/fixtures/detect/signed.yaml"),
            "yaml",
            vec!["tokens"],
        ),
        (
            fixture("tests/fixtures/har/chrome.har"),
            "har",
            vec!["tokens"],
        ),
        (
            fixture("tests/fixtures/fuzz/result.json"),
            "json",
            vec!["report"],
        ),
    ];
    for (k, (valid, ext, args)) in cases.iter().enumerate() {
        let sub = dir.join(format!("case{k}"));
        std::fs::create_dir(&sub).unwrap();
        std::fs::copy(dir.join("users.csv"), sub.join("users.csv")).unwrap();
        for file in mutated_files(&sub, valid, ext, 12) {
            let child = loadtape()
                .arg(args[0])
                .arg(&file)
                .args(&args[1..])
                .current_dir(&sub)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let o = finish(child, Duration::from_secs(60));
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                matches!(o.status.code(), Some(0 | 1 | 2 | 99)),
                "{}: {:?}\n{stderr}",
                file.display(),
                o.status
            );
            assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
        }
    }
}
