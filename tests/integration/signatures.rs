//! Signature rules inferred from the recording (issue 18): a client signs three testbed
//! endpoints the way mini programs do — WeChat Pay's upper-case MD5 with `&key=`, its
//! HMAC-SHA256 variant, and a home-made `md5(appid + ts + nonce + secret)` — while recorded
//! through the real proxy. `convert --secret-env` finds each rule from the recording and the
//! secrets, writes it as a template, and the replay signs what it sends: over several token
//! lifetimes the testbed counts no wrong, stale or replayed signature. A signature outside
//! the family stays flagged and no rule is written for it.

use std::path::Path;

use crate::pipeline::{delta, in_dir, record_script, stats, tls_testbed};

const PAY_KEY: &str = loadtape_testbed::PAY_KEY;
const APP_SECRET: &str = loadtape_testbed::APP_SECRET;

/// Logs in, then signs each endpoint twice (two instances per rule), with fresh nonces,
/// order numbers and timestamps, as a mini program does.
const CLIENT: &str = r#"
auth=(-H "Authorization: Bearer $token")
upper() { tr 'a-f' 'A-F'; }
for i in 1 2; do
  nonce=$(openssl rand -hex 16)
  trade="20261204$(printf '%06d' $((RANDOM * 7 + i)))"
  msg="appid=wx3a7b5c9d1e2f4a6b&body=goods&mch_id=1230000109&nonce_str=$nonce&out_trade_no=$trade&total_fee=$i&key=$PAY_KEY"
  sign=$(printf '%s' "$msg" | md5sum | cut -d' ' -f1 | upper)
  via "${auth[@]}" --data "appid=wx3a7b5c9d1e2f4a6b&mch_id=1230000109&nonce_str=$nonce&body=goods&out_trade_no=$trade&total_fee=$i&sign=$sign" \
    "$BASE/pay/unifiedorder" | grep -q '"errcode":0'

  nonce=$(openssl rand -hex 16)
  msg="appid=wx3a7b5c9d1e2f4a6b&mch_id=1230000109&nonce_str=$nonce&out_trade_no=$trade&sign_type=HMAC-SHA256&key=$PAY_KEY"
  sign=$(printf '%s' "$msg" | openssl dgst -sha256 -hmac "$PAY_KEY" | awk '{print $NF}' | upper)
  via "${auth[@]}" "$BASE/pay/orderquery?appid=wx3a7b5c9d1e2f4a6b&mch_id=1230000109&nonce_str=$nonce&out_trade_no=$trade&sign_type=HMAC-SHA256&sign=$sign" \
    | grep -q '"errcode":0'

  ts=$(date +%s)
  nonce=$(openssl rand -hex 8)
  sign=$(printf '%s' "wx3a7b5c9d1e2f4a6b$ts$nonce$APP_SECRET" | md5sum | cut -d' ' -f1)
  via "${auth[@]}" -H 'content-type: application/json' \
    -d "{\"appid\":\"wx3a7b5c9d1e2f4a6b\",\"ts\":$ts,\"nonce\":\"$nonce\",\"goods_id\":\"g$i\",\"sign\":\"$sign\"}" \
    "$BASE/api/signed/order" | grep -q '"errcode":0'
done
"#;

/// What every client script starts with: `via` (curl through the proxy), a login, `$token`.
const LOGIN: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem "$@"; }
login=$(via -H 'content-type: application/json' -d '{"code":"0a1b2c3d4e"}' "$BASE/api/login")
token=$(printf '%s' "$login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
"#;

/// Records `script` (after [`LOGIN`], with the secrets in its environment) through the proxy.
fn record(dir: &Path, base: &str, out: &str, script: &str, exchanges: usize) {
    let script = format!("PAY_KEY={PAY_KEY}\nAPP_SECRET={APP_SECRET}\n{LOGIN}{script}");
    let (lines, _) = record_script(dir, base, out, &script, exchanges);
    assert!(lines[0].contains("/api/login"), "{lines:?}");
}

/// `loadtape run` of `scenario` (the testbed's CA trusted, quiet) with the secrets set: whether
/// it passed, what it printed, and the testbed's counts after and before.
fn replay_counted(
    dir: &Path,
    base: &str,
    scenario: &str,
    extra: &[&str],
) -> (bool, String, serde_json::Value, serde_json::Value) {
    let before = stats(dir, base);
    let mut args = vec!["run", scenario, "--ca", "certs/testbed-ca.pem", "--quiet"];
    args.extend_from_slice(extra);
    let (ok, said) = convert(dir, &args);
    (ok, said, stats(dir, base), before)
}

fn convert(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = in_dir(dir, args)
        .env("PAY_KEY", PAY_KEY)
        .env("APP_SECRET", APP_SECRET)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), said)
}

#[test]
fn three_signing_rules_are_inferred_written_and_replayed_over_token_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "2s");
    record(dir, &base, "signed.yaml", CLIENT, 7);

    let (ok, said) = convert(
        dir,
        &[
            "convert",
            "signed.yaml",
            "--secret-env",
            "PAY_KEY",
            "--secret-env",
            "APP_SECRET",
        ],
    );
    assert!(ok, "{said}");
    // The hint says what it needs besides, and works as printed with that set.
    assert!(
        said.contains("(with PAY_KEY, APP_SECRET set in the environment"),
        "{said}"
    );
    let hint = said
        .lines()
        .find_map(|l| l.strip_prefix("next: loadtape "))
        .unwrap_or_else(|| panic!("no next: hint\n{said}"));
    let (ok, ran) = convert(dir, &hint.split(' ').collect::<Vec<_>>());
    assert!(ok, "next: loadtape {hint}\n{ran}");
    let text = std::fs::read_to_string(dir.join("signed.scenario.yaml")).unwrap();
    assert!(
        !text.contains(PAY_KEY) && !text.contains(APP_SECRET),
        "no secret written: {text}"
    );
    let s = loadtape_scenario::load_scenario(dir.join("signed.scenario.yaml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let rules: Vec<String> = s
        .steps
        .iter()
        .filter_map(|st| st.vars.get("sign").map(|t| t.to_string()))
        .collect();
    assert_eq!(rules.len(), 6, "every signed step signs: {text}");
    assert!(
        rules[0].starts_with(
            r#"{{ upper(md5("appid=wx3a7b5c9d1e2f4a6b&body=goods&mch_id=1230000109&nonce_str=" + nonce_str"#
        ),
        "{}",
        rules[0]
    );
    assert!(
        rules[0].ends_with(r#"&key=" + env("PAY_KEY"))) }}"#),
        "{}",
        rules[0]
    );
    assert!(
        rules[1].starts_with(r#"{{ upper(hmac_sha256(env("PAY_KEY"), "appid="#),
        "{}",
        rules[1]
    );
    assert!(
        rules[2].contains(r#"md5("wx3a7b5c9d1e2f4a6b" + ts + nonce + env("APP_SECRET"))"#),
        "{}",
        rules[2]
    );
    assert!(
        text.contains("reproduces all 2 recorded instance(s)"),
        "{text}"
    );

    // `tokens` names each rule.
    let (ok, table) = convert(
        dir,
        &[
            "tokens",
            "signed.yaml",
            "--secret-env",
            "PAY_KEY",
            "--secret-env",
            "APP_SECRET",
        ],
    );
    assert!(ok, "{table}");
    for want in [
        "`sign` of POST /pay/unifiedorder: upper-case hex MD5 of the non-empty parameters beside it, sorted by key, as k=v&k=v, &key=$PAY_KEY appended",
        "`sign` of GET /pay/orderquery: upper-case hex HMAC-SHA256",
        // As the README quotes it.
        "`sign` of POST /api/signed/order: lower-case hex MD5 of the parameters appid, ts, nonce, in the order sent, values only, joined, $APP_SECRET appended; reproduces all 2 recorded instance(s)",
    ] {
        assert!(table.replace("\n    ", " ").contains(want), "{want}\n{table}");
    }

    // Several session lifetimes (2 s each): every signature right, every nonce new.
    let (ok, said, after, before) = replay_counted(
        dir,
        &base,
        "signed.scenario.yaml",
        &["--out", "result.json", "--vus", "2", "--duration", "7s"],
    );
    let result = std::fs::read_to_string(dir.join("result.json")).unwrap_or(said);
    let d = |p: &[&str]| delta(&after, &before, p);
    assert!(ok, "{result}");
    assert!(d(&["signed", "calls"]) >= 60, "{after}");
    assert_eq!(
        d(&["signed", "accepted"]),
        d(&["signed", "calls"]),
        "{after}"
    );
    for refused in ["bad_signs", "stale", "replayed"] {
        assert_eq!(d(&["signed", refused]), 0, "{refused}: {after}");
    }
    assert!(
        d(&["tokens_issued", "session"]) >= 4,
        "several lifetimes: {after}"
    );
}

#[test]
fn without_the_secret_or_outside_the_family_the_signature_stays_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    // sha256 of the values joined by `|`: no scheme of the family joins so.
    let odd = r#"
for i in 1 2; do
  ts=$(date +%s); nonce=$(openssl rand -hex 8)
  sign=$(printf '%s' "wx3a7b5c9d1e2f4a6b|$ts|$nonce|$APP_SECRET" | sha256sum | cut -d' ' -f1)
  via -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"appid\":\"wx3a7b5c9d1e2f4a6b\",\"ts\":$ts,\"nonce\":\"$nonce\",\"goods_id\":\"g$i\",\"sign\":\"$sign\"}" \
    "$BASE/api/signed/order" | grep -q '"errcode":40090'
done
"#;
    record(dir, &base, "odd.yaml", odd, 3);
    let (ok, said) = convert(dir, &["convert", "odd.yaml", "--secret-env", "APP_SECRET"]);
    assert!(ok, "{said}");
    assert!(
        said.contains("`sign` of POST /api/signed/order: no rule of 3612 schemes tried"),
        "{said}"
    );
    let s = loadtape_scenario::load_scenario(dir.join("odd.scenario.yaml")).unwrap();
    assert!(
        s.steps.iter().all(|st| st.vars.is_empty()),
        "no rule written"
    );

    // The WeChat Pay flow without --secret-env: flagged, not guessed.
    record(dir, &base, "pay.yaml", CLIENT, 7);
    let (ok, said) = convert(dir, &["convert", "pay.yaml"]);
    assert!(ok, "{said}");
    assert!(
        said.contains("`sign` of POST /pay/unifiedorder: no rule of"),
        "{said}"
    );
    // A named variable that is not set is bad input.
    let o = in_dir(
        dir,
        &[
            "convert",
            "pay.yaml",
            "--force",
            "--secret-env",
            "LOADTAPE_UNSET_KEY",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`LOADTAPE_UNSET_KEY` is not set"));
}

/// A token step's `vars` are rendered before each fetch and seen by its request: a login
/// signed the home-made way (`md5(appid + ts + nonce + secret)` in the body, as a signed login
/// would be) logs in, and the signed order after it is accepted.
#[test]
fn a_token_steps_vars_feed_its_request() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    let scenario = format!(
        r#"loadtape: scenario/v1
name: token-vars
tokens:
  - name: login
    vars:
      code: '{{{{ uuid() }}}}'
      ts: '{{{{ now_s() }}}}'
    request:
      method: POST
      url: {base}/api/login
      body: {{json: {{code: '{{{{ code }}}}', ts: '{{{{ ts }}}}', sign: '{{{{ md5(code + ts) }}}}'}}}}
    extract: {{token: {{json: $.token}}}}
steps:
  - name: order
    vars:
      ts: '{{{{ now_s() }}}}'
      nonce: '{{{{ uuid() }}}}'
    request:
      method: POST
      url: {base}/api/signed/order
      headers: [[authorization, 'Bearer {{{{ token }}}}']]
      body: {{json: {{appid: wx1, ts: '{{{{ ts }}}}', nonce: '{{{{ nonce }}}}', sign: '{{{{ md5("wx1" + ts + nonce + env("APP_SECRET")) }}}}'}}}}
    check: {{json: {{path: $.errcode, equals: 0}}}}
load: {{executor: constant-vus, vus: 2, duration: 1s}}
"#
    );
    std::fs::write(dir.join("t.scenario.yaml"), scenario).unwrap();
    let (ok, said, after, before) =
        replay_counted(dir, &base, "t.scenario.yaml", &["--iterations", "3"]);
    assert!(ok, "{said}");
    let d = |p: &[&str]| delta(&after, &before, p);
    assert_eq!(
        d(&["tokens_issued", "session"]),
        2,
        "one login per VU: {after}"
    );
    assert_eq!(d(&["signed", "accepted"]), 6, "{after}");
    assert_eq!(d(&["signed", "bad_signs"]), 0, "{after}");
}

/// WeChat Pay's own body is XML: its parameters are the root's elements (CDATA undone), and
/// the rule is found and replayed the same way.
#[test]
fn a_wechat_pay_xml_body_is_signed_by_its_inferred_rule() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    let xml = r#"
for i in 1 2; do
  nonce=$(openssl rand -hex 16)
  msg="appid=wx3a7b5c9d1e2f4a6b&body=goods $i&mch_id=1230000109&nonce_str=$nonce&total_fee=$i&key=$PAY_KEY"
  sign=$(printf '%s' "$msg" | md5sum | cut -d' ' -f1 | tr 'a-f' 'A-F')
  via -H "Authorization: Bearer $token" -H 'content-type: text/xml' \
    --data "<xml><appid>wx3a7b5c9d1e2f4a6b</appid><mch_id>1230000109</mch_id><nonce_str>$nonce</nonce_str><body><![CDATA[goods $i]]></body><total_fee>$i</total_fee><sign>$sign</sign></xml>" \
    "$BASE/pay/unifiedorder" | grep -q '"errcode":0'
done
"#;
    record(dir, &base, "xml.yaml", xml, 3);
    let (ok, said) = convert(dir, &["convert", "xml.yaml", "--secret-env", "PAY_KEY"]);
    assert!(ok, "{said}");
    let text = std::fs::read_to_string(dir.join("xml.scenario.yaml")).unwrap();
    assert!(
        text.contains("reproduces all 2 recorded instance(s)"),
        "{text}"
    );
    let (ok, said, after, before) =
        replay_counted(dir, &base, "xml.scenario.yaml", &["--iterations", "3"]);
    assert!(ok, "{said}\n{text}");
    let d = |p: &[&str]| delta(&after, &before, p);
    assert!(d(&["signed", "accepted"]) >= 6, "{after}\n{text}");
    assert_eq!(
        d(&["signed", "accepted"]),
        d(&["signed", "calls"]),
        "{after}\n{text}"
    );
}
