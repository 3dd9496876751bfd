//! Property tests: whatever JSON or string goes through the emitter, serde_yaml reads it back
//! unchanged. This is what allows the recording writer to emit YAML by hand.

use loadtape_recording::{emit, Body, Exchange, Headers, Request};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z0-9:/ ._#,\\[\\]{}'\"-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn exchange_with(s: String, body: Value) -> Exchange {
    let mut headers = Headers::new();
    headers.push(s.clone(), s.clone());
    Exchange {
        id: 7,
        started: chrono::DateTime::from_timestamp_millis(1_795_255_201_123).unwrap(),
        duration_ms: 3.25,
        client: Some(s.clone()),
        request: Request {
            method: "POST".into(),
            url: s.clone(),
            version: "HTTP/1.1".into(),
            headers,
            body: Some(Body::json(body)),
        },
        response: None,
        error: Some(s),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_exchange_round_trips(s in any::<String>(), body in json_value()) {
        let e = exchange_with(s, body);
        let doc = emit::exchange(&e);
        let back: Exchange = serde_yaml::from_str(&doc).map_err(|err| TestCaseError::fail(format!("{err}\n{doc}")))?;
        prop_assert_eq!(back, e);
    }
}
