//! `GET /api/queue/join` and `GET /api/queue/status?no=N`: a queue that hands each session a
//! five-digit ticket (`data.ticket`) which the status call sends back as `no`. A short
//! number under another name: static detection has no rule that ties the two, so a converted
//! scenario sends the recorded ticket, which the live session never got — what `convert
//! --verify` must find from the live answers and fix with an extractor.

use http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::business::SessionFrom;
use super::reply::{json, to_json, Resp};
use super::App;
use crate::query;

const STALE: &[u8] = br#"{"errcode":40170,"errmsg":"no such ticket in this session"}"#;
const MISSING: &[u8] = br#"{"errcode":41001,"errmsg":"no missing"}"#;

#[derive(Serialize)]
struct Joined {
    errcode: u32,
    data: Ticket,
}

#[derive(Serialize)]
struct Ticket {
    ticket: u32,
    ahead: u32,
}

#[derive(Serialize)]
struct Status {
    errcode: u32,
    data: Ready,
}

#[derive(Serialize)]
struct Ready {
    ready: bool,
    ahead: u32,
}

impl App {
    /// `GET /api/queue/join`: the session's ticket.
    pub(super) fn queue_join(&self, headers: &HeaderMap) -> Resp {
        match self.session(headers, SessionFrom::BearerOnly) {
            Err(refusal) => refusal.into_response(),
            Ok(serial) => to_json(&Joined {
                errcode: 0,
                data: Ticket {
                    ticket: self.tokens.ticket(serial),
                    ahead: 3,
                },
            }),
        }
    }

    /// `GET /api/queue/status?no=N`: refused in an HTTP 200 unless N is this session's
    /// ticket; a refusal counts as an unknown id in `/stats`.
    pub(super) fn queue_status(&self, headers: &HeaderMap, q: Option<&str>) -> Resp {
        let serial = match self.session(headers, SessionFrom::BearerOnly) {
            Err(refusal) => return refusal.into_response(),
            Ok(s) => s,
        };
        let Some(no) = query::param(q, "no").filter(|n| !n.is_empty()) else {
            return json(StatusCode::OK, MISSING);
        };
        if no.parse::<u32>().ok() != Some(self.tokens.ticket(serial)) {
            self.counters.unknown_id();
            return json(StatusCode::OK, STALE);
        }
        to_json(&Status {
            errcode: 0,
            data: Ready {
                ready: true,
                ahead: 0,
            },
        })
    }
}
