//! The shop with WeChat's `wx.getUserInfo` login (issue 22's "done when"): the client plays the
//! WeChat client, asking the testbed's `jscode2session` for the session key and computing the
//! login material with the tools a shell has (sha1sum, openssl's AES-128-CBC, base64), then
//! logs in through the recording proxy and orders. `loadtape convert --login-csv` makes the
//! material a per-VU data source, and two 10-VU replays show what it is for:
//!
//! * with the starter file (one row: the recorded user), every VU is that one user: the VUs'
//!   orders take each other's carts, the server answers errno 402, the default threshold fails
//!   the run, and loadtape's check errors are exactly the server's refusals;
//! * with ten rows of material made the same way for ten test users, the testbed sees ten
//!   users, every order goes to the address its own iteration saved, and no errno but the
//!   token expiries the engine absorbed.

use std::path::Path;

use crate::pipeline::{count, delta, entry, in_dir, record_script, script_in, stats, tls_testbed};
use crate::shop::{expiries_absorbed, run_shop, FLOW, STEPS, VIA};

/// The WeChat client's side, as shell: `session_key CODE` asks the platform (straight, not
/// through the proxy: a mini program never sees this call), and `material OPENID NAME KEY`
/// prints the four login fields, one per line, as WeChat hands them to the mini program.
pub const WECHAT: &str = r#"
session_key() { curl -sf --max-time 10 --cacert certs/testbed-ca.pem \
  "$BASE/sns/jscode2session?appid=wxtestbed&secret=testbed-secret&js_code=$1&grant_type=authorization_code" \
  | sed -E 's/.*"session_key":"([^"]+)".*/\1/'; }
material() {
  raw="{\"nickName\":\"$2\",\"gender\":1,\"language\":\"zh_CN\",\"city\":\"Hangzhou\",\"province\":\"Zhejiang\",\"country\":\"China\",\"avatarUrl\":\"\"}"
  signature=$(printf '%s%s' "$raw" "$3" | sha1sum | cut -d' ' -f1)
  key=$(printf '%s' "$3" | base64 -d | od -An -tx1 | tr -d ' \n')
  head -c 16 /dev/urandom > iv.bin
  plain="{\"openId\":\"$1\",\"nickName\":\"$2\",\"gender\":1,\"watermark\":{\"appid\":\"wxtestbed\",\"timestamp\":$(date +%s)}}"
  sealed=$(printf '%s' "$plain" \
    | openssl enc -aes-128-cbc -K "$key" -iv "$(od -An -tx1 iv.bin | tr -d ' \n')" | base64 -w0)
  printf '%s\n%s\n%s\n%s\n' "$raw" "$signature" "$sealed" "$(base64 -w0 < iv.bin)"
}
"#;

/// The recorded user's login: a fresh code, its session key, the material, the login call.
const LOGIN: &str = r#"
code=0b3Ng8Ga1Rk8gB0Ztk1a1nQ3Ga1Ng8Gz
mapfile -t m < <(material oRecordedTester00000000000001 tester "$(session_key $code)")
raw=$(printf '%s' "${m[0]}" | sed 's/"/\\"/g')
login=$(post -d "{\"code\":\"$code\",\"rawData\":\"$raw\",\"signature\":\"${m[1]}\",\"encryptedData\":\"${m[2]}\",\"iv\":\"${m[3]}\"}" \
  "$BASE/wx/auth/login_by_weixin")
printf '%s' "$login" | grep -q '"errno":0'
"#;

/// Ten test users' material, four lines each.
const TEST_USERS: &str = r#"
for i in $(seq 1 10); do
  material "$(printf 'oLoadtapeTestUser%011d' "$i")" "user$i" "$(session_key test$i)"
done
"#;

const COLUMNS: [&str; 4] = ["rawData", "signature", "encryptedData", "iv"];

#[test]
fn wechat_user_info_login_one_user_collides_ten_users_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "4s");

    let script = format!("{VIA}{WECHAT}{LOGIN}{FLOW}");
    let (lines, _) = record_script(dir, &base, "users.yaml", &script, 6);
    assert!(lines[0].contains("/wx/auth/login_by_weixin"), "{lines:?}");
    let recorded = stats(dir, &base);
    assert_eq!(recorded["shop"]["users"], 1, "{recorded}");
    assert_eq!(recorded["shop"]["bad_logins"], 0, "{recorded}");
    convert(dir);

    one_user(dir, &base);
    ten_users(dir, &base);

    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}

/// `convert --login-csv`: the material becomes `{{ logins.* }}`, the code a fresh one per
/// login, and the starter file holds the recorded row, which the testbed accepts.
fn convert(dir: &Path) {
    let out = in_dir(dir, &["convert", "users.yaml", "--login-csv", "logins.csv"])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("every VU will be that one user"), "{said}");
    let s = std::fs::read_to_string(dir.join("users.scenario.yaml")).unwrap();
    for column in COLUMNS {
        let wanted = format!("{column}: '{{{{ logins.{column} }}}}'");
        assert!(s.contains(&wanted), "no {wanted}:\n{s}");
    }
    assert!(s.contains("code: '{{ uuid() }}'"), "{s}");
    assert!(s.contains("logins: {csv: logins.csv, pick: per-vu}"), "{s}");
    let rows = read_csv(&dir.join("logins.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0][0].contains(r#""nickName":"tester""#), "{rows:?}");
}

/// The starter file's one row: ten VUs, one user. Their orders take each other's carts.
fn one_user(dir: &Path, base: &str) {
    let args = ["--vus", "10", "--duration", "6s"];
    let (code, result, after, before) = run_shop(dir, base, "users.scenario.yaml", &args);
    let d = |p: &[&str]| delta(&after, &before, p);
    assert_eq!(d(&["shop", "users"]), 0, "one user, already known: {after}");
    assert!(d(&["shop", "logins"]) >= 10, "{after}");
    assert_eq!(d(&["shop", "bad_logins"]), 0, "{after}");
    let expired = expiries_absorbed(&result, &after, &before);
    let refused = d(&["shop", "errno_nonzero"]) - expired;
    assert!(d(&["shop", "empty_carts"]) > 0, "no collision: {after}");
    assert!(
        d(&["shop", "stale_addresses"]) > 0,
        "no order to another VU's address: {after}"
    );
    assert_eq!(refused, d(&["shop", "errno", "402"]), "{after}");
    let check_errors: u64 = STEPS
        .iter()
        .map(|s| count(&entry(&result, "steps", s)["errors_by_kind"]["check"]))
        .sum();
    assert_eq!(
        check_errors, refused,
        "loadtape's check errors vs the server's nonzero errnos"
    );
    let submit = &entry(&result, "steps", "submit")["check_failures"];
    assert_eq!(
        submit,
        &serde_json::json!([{"check": "$.errno == 0", "got": "402", "count": refused}]),
        "the diagnostics name the field and the value the server said"
    );
    assert_eq!(code, 99, "the default error-rate threshold fails: {result}");
}

/// Ten rows of material for ten test users, made as the recorded one was: ten users, no
/// collision, every order to its own iteration's address.
fn ten_users(dir: &Path, base: &str) {
    let users = script_in(dir, &[("BASE", base)], &format!("{WECHAT}{TEST_USERS}"));
    let lines: Vec<&str> = users.lines().collect();
    assert_eq!(lines.len(), 40, "{users}");
    let mut csv = csv::Writer::from_path(dir.join("logins.csv")).unwrap();
    csv.write_record(COLUMNS).unwrap();
    for row in lines.chunks(4) {
        csv.write_record(row).unwrap();
    }
    csv.flush().unwrap();
    drop(csv);

    let args = ["--vus", "10", "--duration", "6s"];
    let (code, result, after, before) = run_shop(dir, base, "users.scenario.yaml", &args);
    let d = |p: &[&str]| delta(&after, &before, p);
    assert_eq!(d(&["shop", "users"]), 10, "ten new users: {after}");
    assert_eq!(d(&["shop", "bad_logins"]), 0, "{after}");
    let expired = expiries_absorbed(&result, &after, &before);
    assert_eq!(d(&["shop", "errno_nonzero"]), expired, "{after}");
    assert_eq!(d(&["shop", "empty_carts"]), 0, "{after}");
    assert_eq!(d(&["shop", "stale_addresses"]), 0, "{after}");
    for step in STEPS {
        assert_eq!(count(&entry(&result, "steps", step)["errors"]), 0, "{step}");
    }
    let iterations = count(&result["iterations"]);
    assert!(iterations >= 20, "{result}");
    assert!(d(&["shop", "orders"]) >= iterations, "{after}");
    assert_eq!(code, 0, "{result}");
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, COLUMNS, "{}", path.display());
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect::<Vec<Vec<String>>>()
}
