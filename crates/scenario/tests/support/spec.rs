//! Shared by the scenario tests: the SPEC §5 example, a temporary directory with its
//! users.csv, and the helper that checks an error's file, line, field and message.

#![allow(dead_code)]

use std::path::PathBuf;

use loadtape_scenario::{load_scenario, Error, Scenario};

/// SPEC §5, verbatim.
pub(crate) const SPEC: &str = r#"loadtape: scenario/v1
name: shop-checkout
recording: shop-checkout.yaml
target:                                  # recorded origin -> where to send; default unchanged
  https://api.example.com: https://staging.example.com
variables:
  appid: wx1234567890abcdef
  secret: '{{ env("WX_SECRET") }}'
data:
  users: {csv: users.csv, pick: per-vu}  # per-vu | sequential | random; header row names columns
tokens:                                  # refreshable tokens, fetched ahead of the flow
  - name: session
    scope: per-vu                        # shared (one for all VUs) | per-vu
    request:
      method: POST
      url: https://api.example.com/v1/login
      body: {json: {code: '{{ users.code }}'}}
    extract:
      session: {json: $.data.token}
      expires_in: {json: $.data.expires_in}
    expires_in: '{{ expires_in }}s'      # or a fixed duration; a JWT's exp also works
    refresh_before: 60s
    refresh_on:
      status: [401]
      json: {path: $.errcode, in: [40001, 40014, 42001]}
  - name: access_token                   # a platform token shared by every VU
    scope: shared
    request:
      method: GET
      url: https://api.example.com/cgi-bin/token?grant_type=client_credential&appid={{ appid }}&secret={{ secret }}
    extract:
      access_token: {json: $.access_token}
      expires_in: {json: $.expires_in}
    expires_in: '{{ expires_in }}s'
steps:
  - name: goods
    request:
      method: GET
      url: https://api.example.com/v1/goods?page=1
      headers:
      - [authorization, 'Bearer {{ session }}']
    check: {status: 200}
    extract:
      goods_id: {json: '$.data[0].id'}
    think: 800ms
  - name: order
    request:
      method: POST
      url: https://api.example.com/v1/order?ts={{ now_ms() }}&nonce={{ uuid() }}
      body: {json: {goods: '{{ goods_id }}'}}
load:
  executor: constant-vus                 # constant-vus | ramping-vus | constant-rate | ramping-rate
  vus: 50
  duration: 1m
  # ramping-vus:  stages: [{to: 200, over: 30s}, {to: 200, over: 5m}]
  # constant-rate: rate: 500/s, max_vus: 2000   (rate = flow iterations started per second)
  # ramping-rate:  stages: [{to: 2000/s, over: 1m}], max_vus: 5000
  # iterations: 1 on any executor stops each VU after that many flows
thresholds:
  - p99 < 300ms                          # global; `goods.p95 < 200ms` names a step
  - error_rate < 1%
"#;

pub(crate) struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("users.csv"),
            "code,name\nc1,alice\nc2,bob\n",
        )
        .unwrap();
        Dir { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("shop.scenario.yaml")
    }

    #[allow(clippy::result_large_err)] // the crate's own error type, as load_scenario returns
    pub(crate) fn load(&self, text: &str) -> Result<Scenario, Error> {
        std::fs::write(self.path(), text).unwrap();
        load_scenario(self.path())
    }
}

/// The 1-based line of the first line containing `needle`.
pub(crate) fn line_of(text: &str, needle: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
}

/// Loads `SPEC` with `from` replaced by `to` and checks the error: the line is the one holding
/// `at` in the new text, and the field and message are as given.
pub(crate) fn fails(from: &str, to: &str, at: &str, field: &str, message: &str) -> Error {
    let d = Dir::new();
    assert!(SPEC.contains(from), "{from:?} not in SPEC");
    let text = SPEC.replacen(from, to, 1);
    let err = match d.load(&text) {
        Ok(_) => panic!("loaded despite {to:?}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert_eq!(err.file, d.path(), "{shown}");
    assert_eq!(err.line, Some(line_of(&text, at)), "{shown}");
    assert!(err.column.is_some(), "{shown}");
    assert_eq!(err.field.as_deref(), Some(field), "{shown}");
    assert!(shown.contains(message), "{shown:?} lacks {message:?}");
    let prefix = format!("{}:{}:", d.path().display(), err.line.unwrap());
    assert!(shown.starts_with(&prefix), "{shown}");
    assert!(shown.contains(&format!("field `{field}`")), "{shown}");
    err
}
