//! Login material that ties a session to the user who was recorded: WeChat's
//! `wx.getUserInfo` (`rawData`, `signature` = sha1(rawData + session_key), `encryptedData`,
//! `iv`, `cloudID`) and `wx.getPhoneNumber` (`encryptedData`, `iv`), Alipay's
//! `my.getOpenUserInfo`/`my.getPhoneNumber` (`response`, `sign`). loadtape cannot mint them:
//! replayed as recorded, every VU logs in as that one user. The way out is one row of them per
//! test user (`convert --login-csv FILE`).

use loadtape_recording::{BodyContent, Request};
use serde_json::Value;

use crate::walk;

/// The field names, as sent.
const FIELDS: [&str; 7] = [
    "rawData",
    "signature",
    "encryptedData",
    "iv",
    "cloudID",
    "response",
    "sign",
];

/// Names that mark a request as carrying user-bound material (the others may also be a
/// signing rule or a plain field elsewhere).
const MARKERS: [&str; 2] = ["rawData", "encryptedData"];

/// The user-bound fields a request's JSON or form body sends, `(name, value)` in order, when
/// it sends a marker among them.
pub(crate) fn fields(req: &Request) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    match req.body.as_ref().map(|b| &b.content) {
        Some(BodyContent::Json(v)) => json_fields(v, 0, &mut out),
        Some(BodyContent::Text(t)) => {
            for (k, v) in walk::pairs(t) {
                if FIELDS.contains(&k.as_str()) && !out.iter().any(|(n, _)| *n == k) {
                    out.push((k, v));
                }
            }
        }
        _ => {}
    }
    let marked = out.iter().any(|(n, _)| MARKERS.contains(&n.as_str()));
    if marked {
        out
    } else {
        Vec::new()
    }
}

/// String fields by name, in the body or an object inside it (`{"detail": {...}}`).
fn json_fields(v: &Value, depth: usize, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = v else { return };
    for (k, x) in map {
        match x {
            Value::String(s)
                if FIELDS.contains(&k.as_str()) && !out.iter().any(|(n, _)| n == k) =>
            {
                out.push((k.clone(), s.clone()));
            }
            Value::Object(_) if depth < 2 => json_fields(x, depth + 1, out),
            _ => {}
        }
    }
}

/// Whether `name` at a request that sends user-bound material is part of it (so a
/// `signature` there is not a signing rule to infer).
pub(crate) fn is_material(req: &Request, name: &str) -> bool {
    FIELDS.contains(&name) && !fields(req).is_empty()
}
