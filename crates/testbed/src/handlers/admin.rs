//! Test hooks: revoke every token, stall the business routes, read the counters.

use http::StatusCode;
use serde::Serialize;

use super::reply::{json, to_json, Resp};
use super::App;
use crate::query;
use crate::stall::MAX_STALL;

const INVALID_DURATION: &[u8] = br#"{"errcode":400,"errmsg":"invalid duration"}"#;

#[derive(Serialize)]
struct RevokeResp {
    revoked_before: u32,
}

#[derive(Serialize)]
struct StallResp {
    stalled_until_ms: u64,
}

impl App {
    /// `POST /admin/revoke`: every token issued so far is refused from now on.
    pub(super) fn revoke(&self) -> Resp {
        to_json(&RevokeResp {
            revoked_before: self.tokens.revoke(),
        })
    }

    /// `POST /admin/stall?for=D`: `D` in the scenario's duration grammar (`1500ms`, `2s`, `1s 500ms`), at most
    /// [`MAX_STALL`]. Answers at once with the stall's end in ms since the testbed started.
    pub(super) fn start_stall(&self, query: Option<&str>) -> Resp {
        let length = query::param(query, "for")
            .and_then(|d| loadtape_scenario::parse_duration(&d).ok())
            .filter(|d| *d <= MAX_STALL);
        match length {
            Some(length) => to_json(&StallResp {
                stalled_until_ms: self.stall.start(length),
            }),
            None => json(StatusCode::BAD_REQUEST, INVALID_DURATION),
        }
    }

    /// `GET /stats`.
    pub(super) fn stats(&self) -> Resp {
        to_json(&self.counters.snapshot())
    }
}
