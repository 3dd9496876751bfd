//! The token-like values of an opened exchange, found by the detect crate's own analysis of
//! the recording so far (the one `loadtape tokens` prints and `convert` applies), so that what
//! the page highlights, and the origin it names, is what conversion will find. The analysis
//! is made on demand and kept until the recording grows.

use std::sync::{Arc, Mutex};

use loadtape_detect::{analyze, Analysis, Finding, Options, Place};
use serde_json::{json, Value};

use crate::snapshot::Snapshot;

/// The latest analysis and the file length it was made at.
#[derive(Default)]
pub(crate) struct Analyses {
    last: Mutex<Option<(u64, Arc<Analysis>)>>,
}

impl Analyses {
    /// The analysis of `snapshot`, made now or kept from before.
    pub(crate) async fn of(&self, snapshot: Arc<Snapshot>) -> Result<Arc<Analysis>, String> {
        if let Some((len, a)) = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            if len == snapshot.len {
                return Ok(a);
            }
        }
        let len = snapshot.len;
        let analysis =
            tokio::task::spawn_blocking(move || analyze(&snapshot.recording, &Options::default()))
                .await
                .map_err(|e| format!("the analysis failed: {e}"))??;
        let analysis = Arc::new(analysis);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((len, analysis.clone()));
        Ok(analysis)
    }
}

/// Every place exchange `id` sends a finding's value (`side: request`) or is its origin
/// (`side: response`), with the class, the variable and where the value came from.
pub(crate) fn highlights(a: &Analysis, id: u64) -> Vec<Value> {
    let Some(step) = a.steps.iter().position(|s| s.id == id) else {
        return Vec::new();
    };
    let exchange = |i: usize| a.steps[i].id;
    let mut out = Vec::new();
    for f in &a.findings {
        for u in f.uses.iter().filter(|u| u.step == step) {
            let origin = origin_before(f, step).map(|o| {
                format!(
                    "issued by the response of exchange #{} at {}",
                    exchange(o.step),
                    o.place
                )
            });
            let mut v = common(f, &u.place);
            v["side"] = json!("request");
            v["origin"] = json!(origin.unwrap_or_else(|| f.reason.clone()));
            out.push(v);
        }
        for o in f.origins.iter().filter(|o| o.step == step) {
            let users: Vec<String> = f
                .uses
                .iter()
                .filter(|u| u.step > step)
                .map(|u| format!("#{}", exchange(u.step)))
                .collect();
            let mut v = common(f, &o.place);
            v["side"] = json!("response");
            v["origin"] = json!(format!(
                "issued here, at {}; sent back by exchange {}",
                o.place,
                users.join(", ")
            ));
            out.push(v);
        }
    }
    out
}

/// The origin a use at `step` takes its value from: the latest one before it.
fn origin_before(f: &Finding, step: usize) -> Option<&loadtape_detect::Origin> {
    f.origins
        .iter()
        .filter(|o| o.step < step)
        .max_by_key(|o| o.step)
}

fn common(f: &Finding, place: &Place) -> Value {
    json!({
        "variable": f.variable,
        "class": f.class.to_string(),
        "value": f.value,
        "applied": f.applied(),
        "confidence": f.confidence,
        "place": place.to_string(),
        "where": locate(place),
    })
}

/// Where the page finds the value: the body's JSON path, a header, a cookie, a query or form
/// field, a path segment. A value inside another (a JWT claim, JSON in a string) is shown at
/// the outer one.
fn locate(place: &Place) -> Value {
    match place {
        Place::Json(p) | Place::JsonInString(p, _) => json!({"kind": "json", "path": p}),
        Place::Header(n) | Place::Bearer(n) => json!({"kind": "header", "name": n}),
        Place::Cookie(n) => json!({"kind": "cookie", "name": n}),
        Place::SetCookie(n) => json!({"kind": "set-cookie", "name": n}),
        Place::Query(n) => json!({"kind": "query", "name": n}),
        Place::Form(n) => json!({"kind": "form", "name": n}),
        Place::PathSegment(i) => json!({"kind": "path", "index": i}),
        Place::JwtClaim(outer, _) | Place::JsonIn(outer, _) => locate(outer),
        Place::Text | Place::TextField(_) => json!({"kind": "text"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use loadtape_recording::{
        Body, Exchange, Headers, Recording, RecordingHeader, Request, Response,
    };

    fn exchange(
        id: u64,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: serde_json::Value,
    ) -> Exchange {
        let mut headers = Headers::new();
        if let Some(token) = auth {
            headers.push("authorization", format!("Bearer {token}"));
        }
        let mut json_type = Headers::new();
        json_type.push("content-type", "application/json");
        Exchange {
            id,
            started: Utc::now(),
            duration_ms: 1.0,
            client: None,
            tester: None,
            group: None,
            request: Request {
                method: method.into(),
                url: format!("https://api.example.com{path}"),
                version: "HTTP/1.1".into(),
                headers,
                body: None,
            },
            response: Some(Response {
                status: 200,
                version: "HTTP/1.1".into(),
                headers: json_type,
                body: Some(Body::json(body)),
            }),
            error: None,
        }
    }

    #[test]
    fn a_token_is_shown_where_it_is_sent_and_where_it_was_issued() {
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.k3J9aZqL2xW8";
        let rec = Recording {
            header: RecordingHeader::new("t"),
            exchanges: vec![
                exchange(
                    7,
                    "POST",
                    "/api/login",
                    None,
                    json!({"data": {"token": token}}),
                ),
                exchange(9, "GET", "/api/goods", Some(token), json!({"data": []})),
            ],
            truncated_tail: None,
        };
        let a = analyze(&rec, &Options::default()).unwrap();
        let sent = highlights(&a, 9);
        let at = sent
            .iter()
            .find(|h| h["side"] == "request")
            .unwrap_or_else(|| panic!("{sent:?}"));
        assert_eq!(
            at["where"],
            json!({"kind": "header", "name": "authorization"})
        );
        assert_eq!(
            at["origin"],
            "issued by the response of exchange #7 at json $.data.token"
        );
        let issued = highlights(&a, 7);
        let here = issued.iter().find(|h| h["side"] == "response").unwrap();
        assert_eq!(
            here["where"],
            json!({"kind": "json", "path": "$.data.token"})
        );
        assert!(here["origin"]
            .as_str()
            .unwrap()
            .ends_with("sent back by exchange #9"));
        assert!(highlights(&a, 12345).is_empty());
    }
}
