//! The real-world corpus (tests/fixtures/realworld) written back out as YAML, both as a
//! recording (the writer `har import` uses) and as the scenario `convert` makes, and read by
//! three YAML readers: serde_yaml, saphyr and PyYAML. Each must read exactly what was written:
//! the recording's exchanges, the scenario's values. Recordings and scenarios are for people's
//! own tools too, and most of those are PyYAML (YAML 1.1) or libyaml underneath.

#[path = "../../recording/tests/support/yaml_readers.rs"]
mod yaml_readers;

use std::path::PathBuf;

use loadtape_detect::{analyze, convert, ConvertOptions, Options};
use loadtape_recording::{read_any, read_recording, write_recording, Exchange, RecordingHeader};
use serde_json::Value;
use yaml_readers::{first_difference, pyyaml, saphyr, serde_yaml};

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/realworld");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus is there: {files:?}");
    files
}

/// One written document: what it is, its text, and how to judge a reader's JSON of it.
struct Written {
    what: String,
    text: String,
    judge: Judge,
}

enum Judge {
    /// A recording: the reader's documents must deserialize to this header and these exchanges.
    Recording(RecordingHeader, Vec<Exchange>),
    /// A scenario: the reader's JSON must be serde_yaml's, which the scenario loader reads back
    /// to the converted scenario (`convert_checked` in the corpus tests holds that part).
    SameAsSerdeYaml(Vec<Value>),
}

fn written(tmp: &std::path::Path, har: &std::path::Path) -> Vec<Written> {
    let name = har.file_name().unwrap().to_string_lossy().to_string();
    let rec = read_any(har).unwrap_or_else(|e| panic!("{e}"));
    let path = tmp.join(format!("{name}.yaml"));
    write_recording(&path, &rec).expect("written");
    let back = read_recording(&path).unwrap_or_else(|e| panic!("{e}"));
    // The writer keeps durations to the microsecond; everything else is as imported.
    let mut rounded = rec.exchanges.clone();
    for e in &mut rounded {
        e.duration_ms = (e.duration_ms * 1000.0).round() / 1000.0;
    }
    assert!(
        back.exchanges == rounded,
        "{name}: the project's reader reads the recording back"
    );
    let mut out = vec![Written {
        what: format!("{name} as a recording"),
        text: std::fs::read_to_string(&path).expect("readable"),
        judge: Judge::Recording(back.header, back.exchanges),
    }];
    for keep_static in [false, true] {
        let a = analyze(
            &rec,
            &Options {
                keep_static,
                ..Options::default()
            },
        )
        .expect("analyzed");
        let yaml = convert(&rec, &a, &ConvertOptions::default()).yaml();
        let loaded = loadtape_scenario::load_scenario_str(&yaml, "corpus.scenario.yaml");
        assert!(loaded.is_ok(), "{name}: the scenario loads: {loaded:?}");
        let by_serde = serde_yaml(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push(Written {
            what: format!("{name} converted (keep_static: {keep_static})"),
            text: yaml,
            judge: Judge::SameAsSerdeYaml(by_serde),
        });
    }
    out
}

/// What is wrong with a reader's reading of `w`, if anything.
fn verdict(w: &Written, read: Result<Vec<Value>, String>) -> Option<String> {
    let docs = match read {
        Ok(docs) => docs,
        Err(e) => return Some(e),
    };
    match &w.judge {
        Judge::SameAsSerdeYaml(want) => {
            first_difference(&Value::Array(want.clone()), &Value::Array(docs))
        }
        Judge::Recording(header, exchanges) => {
            if docs.len() != exchanges.len() + 1 {
                return Some(format!(
                    "{} documents, want {}",
                    docs.len(),
                    exchanges.len() + 1
                ));
            }
            let got: Result<RecordingHeader, _> = serde_json::from_value(docs[0].clone());
            match got {
                Ok(h) if &h == header => {}
                other => return Some(format!("header: {other:?}")),
            }
            exchanges.iter().zip(&docs[1..]).find_map(|(e, doc)| {
                let got: Exchange = match serde_json::from_value(doc.clone()) {
                    Ok(got) => got,
                    Err(err) => return Some(format!("exchange {}: {err}", e.id)),
                };
                let want = serde_json::to_value(e).expect("serializes");
                let got = serde_json::to_value(&got).expect("serializes");
                first_difference(&want, &got).map(|d| format!("exchange {}: {d}", e.id))
            })
        }
    }
}

#[test]
fn realworld_recordings_and_scenarios_read_the_same_in_serde_yaml_saphyr_and_pyyaml() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let all: Vec<Written> = corpus()
        .iter()
        .flat_map(|har| written(tmp.path(), har))
        .collect();
    let texts: Vec<String> = all.iter().map(|w| w.text.clone()).collect();
    let by_python = pyyaml(&texts);
    let mut wrong = Vec::new();
    for (w, py) in all.iter().zip(by_python) {
        let readers = [
            ("serde_yaml", serde_yaml(&w.text)),
            ("saphyr", saphyr(&w.text)),
            ("PyYAML", py),
        ];
        for (reader, read) in readers {
            if let Some(why) = verdict(w, read) {
                wrong.push(format!("{}, read by {reader}: {why}", w.what));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} readings differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
