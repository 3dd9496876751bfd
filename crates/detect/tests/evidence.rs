//! Evidence from other recordings of the same flow (`convert --also`): exchanges aligned by
//! request shape, values compared place by place, and what that overrules in the findings.

use loadtape_detect::{
    analyze, compare_recordings, convert, Class, ConvertOptions, Fact, Options, TokenCsv,
};
use loadtape_recording::{read_recording_str, Recording};

/// A recording of `exchanges` (method, URL, JSON request body or "", JSON answer).
fn recording(exchanges: &[(&str, &str, &str, &str)]) -> Recording {
    let mut y = String::from(
        "loadtape: recording/v1\nname: flow\ncreated: '2026-11-21T10:00:00.000Z'\n...\n",
    );
    for (i, (method, url, body, answer)) in exchanges.iter().enumerate() {
        y.push_str(&format!(
            "---\nid: {}\nstarted: '2026-11-21T10:00:{:02}.000Z'\nduration_ms: 3.0\nrequest:\n  method: {method}\n  url: '{url}'\n  version: HTTP/1.1\n",
            i + 1,
            i + 5
        ));
        if !body.is_empty() {
            y.push_str(&format!(
                "  headers:\n  - [content-type, application/json]\n  body: {{json: {body}}}\n"
            ));
        }
        y.push_str(&format!(
            "response:\n  status: 200\n  version: HTTP/1.1\n  headers:\n  - [content-type, application/json]\n  body: {{json: {answer}}}\n...\n"
        ));
    }
    read_recording_str(&y, "flow.yaml").unwrap_or_else(|e| panic!("{e}\n{y}"))
}

const OK: &str = "{errcode: 0}";

fn alice() -> Recording {
    recording(&[
        (
            "GET",
            "https://api.example.com/list",
            "",
            "{errcode: 0, data: {n: 7731}}",
        ),
        (
            "GET",
            "https://api.example.com/detail?n=7731&req_nonce=5f2b9c0e7a1d4e3f8b6c2a9d0e1f3a7b",
            "",
            OK,
        ),
        (
            "POST",
            "https://api.example.com/profile",
            "{phone: '13800000001', city: Hangzhou}",
            OK,
        ),
    ])
}

/// Bob's session sees a banner Alice's did not, gets another `n`, types another phone, and
/// sends the same `req_nonce` (a constant of the client, whatever its name says).
fn bob() -> Recording {
    recording(&[
        ("GET", "https://api.example.com/banner", "", OK),
        (
            "GET",
            "https://api.example.com/list",
            "",
            "{errcode: 0, data: {n: 8842}}",
        ),
        (
            "GET",
            "https://api.example.com/detail?n=8842&req_nonce=5f2b9c0e7a1d4e3f8b6c2a9d0e1f3a7b",
            "",
            OK,
        ),
        (
            "POST",
            "https://api.example.com/profile",
            "{phone: '13900000002', city: Hangzhou}",
            OK,
        ),
    ])
}

#[test]
fn aligned_values_are_issued_per_user_or_the_same() {
    let (a, b) = (alice(), bob());
    let an = analyze(&a, &Options::default()).unwrap();
    let ev = compare_recordings(&a, &an, &[b]);
    let facts: Vec<String> = ev
        .facts()
        .iter()
        .map(|f| match f {
            Fact::Issued {
                value,
                issuer,
                json_path,
                ..
            } => format!("issued {value} by {issuer} at {json_path}"),
            Fact::Generated { value, .. } => format!("generated {value}"),
            Fact::PerUser { value, others, .. } => format!("per-user {value} {others:?}"),
            Fact::Same { value, .. } => format!("same {value}"),
        })
        .collect();
    assert!(
        facts.contains(&"issued 7731 by 1 at $.data.n".to_string()),
        "{facts:?}"
    );
    assert!(
        facts.contains(&r#"per-user 13800000001 ["13900000002"]"#.to_string()),
        "{facts:?}"
    );
    assert!(
        facts.contains(&"same 5f2b9c0e7a1d4e3f8b6c2a9d0e1f3a7b".to_string()),
        "{facts:?}"
    );
    // Equal in both and no finding: nothing to say about `Hangzhou`.
    assert!(!facts.iter().any(|f| f.contains("Hangzhou")), "{facts:?}");
}

#[test]
fn the_evidence_overrules_the_rules_in_the_scenario() {
    let (a, b) = (alice(), bob());
    let mut an = analyze(&a, &Options::default()).unwrap();
    let nonce = an
        .findings
        .iter()
        .find(|f| f.value.starts_with("5f2b"))
        .map(|f| f.class);
    assert!(
        matches!(nonce, Some(Class::Generated(_))),
        "the rules' guess: {nonce:?}"
    );
    let ev = compare_recordings(&a, &an, &[b]);
    let changes = ev.apply(&a, &mut an);
    assert_eq!(changes.len(), 3, "{changes:?}");
    let opts = ConvertOptions {
        users_csv: Some(TokenCsv {
            path: "flow.users.csv".into(),
        }),
        ..Default::default()
    };
    let c = convert(&a, &an, &opts);
    let y = c.yaml();
    assert!(y.contains("'n': {json: '$.data.n'}"), "{y}");
    assert!(
        y.contains("detail?n={{ n }}&req_nonce=5f2b9c0e7a1d4e3f8b6c2a9d0e1f3a7b"),
        "{y}"
    );
    assert!(y.contains("phone: '{{ users.phone }}'"), "{y}");
    assert!(
        y.contains("users: {csv: flow.users.csv, pick: per-vu}"),
        "{y}"
    );
    assert_eq!(c.users_columns, ["phone"]);
    assert_eq!(c.users_rows, [["13800000001"], ["13900000002"]]);
    assert_eq!(y.matches("by evidence:").count(), 3, "{y}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.scenario.yaml");
    std::fs::write(&file, &y).unwrap();
    std::fs::write(dir.path().join("flow.users.csv"), "phone\n1\n").unwrap();
    loadtape_scenario::load_scenario(&file).unwrap_or_else(|e| panic!("{e}\n{y}"));
}

#[test]
fn nothing_aligns_nothing_is_said() {
    let a = alice();
    let other = recording(&[("GET", "https://api.example.com/elsewhere", "", OK)]);
    let an = analyze(&a, &Options::default()).unwrap();
    let ev = compare_recordings(&a, &an, &[other]);
    assert!(ev.is_empty(), "{:?}", ev.facts());
}
