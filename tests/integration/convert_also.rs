//! `convert --also` (issue 15): the shop with WeChat's `wx.getUserInfo` login, recorded twice
//! through the real proxy by two users. Compared place by place, the login material (rawData,
//! signature, encryptedData, iv) differs between the recordings and no answer issued it: it is
//! each user's own, so it becomes the `users` data source with one row per recording, and a
//! 2-VU replay is two users whose carts and addresses never collide, by the testbed's count.
//! From one recording the same material is sent as recorded (every VU one user: see
//! `shop_users.rs`, where that collides).

use std::path::Path;

use crate::pipeline::{count, delta, entry, in_dir, record_script, tls_testbed};
use crate::shop::{expiries_absorbed, run_shop, FLOW, STEPS, VIA};
use crate::shop_users::WECHAT;

/// Logs in as `$OPENID` / `$NAME` with the login code `$CODE`.
const LOGIN_AS: &str = r#"
mapfile -t m < <(material "$OPENID" "$NAME" "$(session_key $CODE)")
raw=$(printf '%s' "${m[0]}" | sed 's/"/\\"/g')
login=$(post -d "{\"code\":\"$CODE\",\"rawData\":\"$raw\",\"signature\":\"${m[1]}\",\"encryptedData\":\"${m[2]}\",\"iv\":\"${m[3]}\"}" \
  "$BASE/wx/auth/login_by_weixin")
printf '%s' "$login" | grep -q '"errno":0'
"#;

/// Records the flow as one user into `out`.
fn record_as(dir: &Path, base: &str, out: &str, openid: &str, name: &str, code: &str) {
    let script =
        format!("OPENID={openid}\nNAME={name}\nCODE={code}\n{VIA}{WECHAT}{LOGIN_AS}{FLOW}");
    let (lines, _) = record_script(dir, base, out, &script, 6);
    assert!(lines[0].contains("/wx/auth/login_by_weixin"), "{lines:?}");
}

#[test]
fn two_recordings_by_two_users_make_the_login_material_a_data_source() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "1h");
    let code_a = "0b3Ng8Ga1Rk8gB0Ztk1a1nQ3Ga1Ng8Gz";
    let code_b = "071Qw9Ga1Rk8gB0Ztk1a1nQ3Ga1Qw9Gm";
    record_as(
        dir,
        &base,
        "alice.yaml",
        "oAliceTester0000000000000001",
        "alice",
        code_a,
    );
    record_as(
        dir,
        &base,
        "bob.yaml",
        "oBobTester000000000000000002",
        "bob",
        code_b,
    );

    let out = in_dir(
        dir,
        &[
            "convert",
            "alice.yaml",
            "--also",
            "bob.yaml",
            "-o",
            "shop.scenario.yaml",
        ],
    )
    .output()
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("compared with --also:"), "{said}");
    let s = std::fs::read_to_string(dir.join("shop.scenario.yaml")).unwrap();
    for column in ["rawData", "signature", "encryptedData", "iv"] {
        let wanted = format!("{column}: '{{{{ users.{column} }}}}'");
        assert!(s.contains(&wanted), "no {wanted}:\n{s}");
        assert!(
            said.contains(&format!("`{column}` (per-user data)")),
            "{column} not said: {said}"
        );
    }
    assert!(
        s.contains("users: {csv: shop.users.csv, pick: per-vu}"),
        "{s}"
    );
    assert!(
        s.contains("by evidence:"),
        "the why is not in the scenario:\n{s}"
    );
    // The ids the flow creates are still extracted, backed by the second recording.
    assert!(s.contains("addressId: {json: '$.data'}"), "{s}");

    let mut r = csv::Reader::from_path(dir.join("shop.users.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 2, "one row per recording: {rows:?}");
    let raw = header.iter().position(|c| c == "rawData").unwrap();
    assert!(rows[0][raw].contains(r#""nickName":"alice""#), "{rows:?}");
    assert!(rows[1][raw].contains(r#""nickName":"bob""#), "{rows:?}");

    let args = ["--vus", "2", "--duration", "4s"];
    let (code, result, after, before) = run_shop(dir, &base, "shop.scenario.yaml", &args);
    let d = |p: &[&str]| delta(&after, &before, p);
    assert_eq!(d(&["shop", "bad_logins"]), 0, "both rows log in: {after}");
    let expired = expiries_absorbed(&result, &after, &before);
    assert_eq!(d(&["shop", "errno_nonzero"]), expired, "{after}");
    assert_eq!(
        d(&["shop", "empty_carts"]),
        0,
        "a cart taken by the other VU: {after}"
    );
    assert_eq!(d(&["shop", "stale_addresses"]), 0, "{after}");
    for step in STEPS {
        assert_eq!(count(&entry(&result, "steps", step)["errors"]), 0, "{step}");
    }
    assert!(count(&result["iterations"]) >= 4, "{result}");
    assert_eq!(code, 0, "{result}");
    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}
