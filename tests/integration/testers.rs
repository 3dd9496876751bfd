//! Several testers recording at once through one proxy (issue 17): each device's proxy user
//! name is its tester ID, every exchange carries it, `--split` writes one recording per
//! tester, and `convert` of the whole recording makes what differs per tester (the WeChat
//! login material) a data CSV with one row per tester, replayed with one tester per VU. And
//! group marks (`http://loadtape.ca/mark/NAME`) make one flow per group.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::pipeline::{count, delta, entry, in_dir, tls_testbed};
use crate::shop::{run_shop, FLOW, STEPS};
use crate::shop_users::WECHAT;
use crate::util::{finish, Running};

/// As `shop::VIA`, through the proxy as tester `$TESTER`.
const VIA: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --proxy-user "$TESTER:any" \
  --cacert certs/loadtape-ca.pem \
  -H 'referer: https://servicewechat.com/wx3a7b5c9d1e2f4a6b/3/page-frame.html' "$@"; }
post() { via -H 'content-type: application/json' "$@"; }
"#;

/// Logs in as `$OPENID` / `$TESTER` with the login code `$CODE` (as `convert_also.rs`).
const LOGIN_AS: &str = r#"
mapfile -t m < <(material "$OPENID" "$TESTER" "$(session_key $CODE)")
raw=$(printf '%s' "${m[0]}" | sed 's/"/\\"/g')
login=$(post -d "{\"code\":\"$CODE\",\"rawData\":\"$raw\",\"signature\":\"${m[1]}\",\"encryptedData\":\"${m[2]}\",\"iv\":\"${m[3]}\"}" \
  "$BASE/wx/auth/login_by_weixin")
printf '%s' "$login" | grep -q '"errno":0'
"#;

fn proxy(dir: &Path, out: &str, extra: &[&str]) -> (Running, String) {
    let mut args = vec![
        "record",
        "--listen",
        "127.0.0.1:0",
        "--out",
        out,
        "--ca-dir",
        "certs",
        "--upstream-ca",
        "certs/testbed-ca.pem",
    ];
    args.extend_from_slice(extra);
    let mut p = Running::start(in_dir(dir, &args));
    let addr = p.proxy_ready();
    (p, addr)
}

/// A bash client as tester `tester`, in its own directory (the login writes files) that sees
/// the CAs.
fn client(dir: &Path, env: &[(&str, &str)], script: &str) -> std::process::Child {
    Command::new("bash")
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(["-e", "-o", "pipefail", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn said(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn three_testers_recording_at_once_convert_into_a_three_row_data_source() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    let testers = [
        (
            "alice",
            "oAliceTester0000000000000001",
            "0b3Ng8Ga1Rk8gB0Ztk1a1nQ3Ga1Ng8Gz",
        ),
        (
            "bob",
            "oBobTester000000000000000002",
            "071Qw9Ga1Rk8gB0Ztk1a1nQ3Ga1Qw9Gm",
        ),
        (
            "carol",
            "oCarolTester00000000000000003",
            "021Zx7Ga1Rk8gB0Ztk1a1nQ3Ga1Zx7Gk",
        ),
    ];
    let (mut p, addr) = proxy(
        dir,
        "testers.yaml",
        &[
            "--tester", "alice", "--tester", "bob", "--tester", "carol", "--split",
        ],
    );
    // Someone not on the list is refused, and nothing of theirs is recorded.
    let (code, refused) = crate::util::curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--proxy",
        &format!("http://{addr}"),
        "--proxy-user",
        "mallory:x",
        &format!("{}/stats", base.replace("https", "http")),
    ]);
    assert_eq!((code, refused.as_str()), (0, "407"));
    let script = format!("{VIA}{WECHAT}{LOGIN_AS}{FLOW}");
    let children: Vec<_> = testers
        .iter()
        .map(|(tester, openid, code)| {
            let home = dir.join(tester);
            std::fs::create_dir(&home).unwrap();
            std::os::unix::fs::symlink(dir.join("certs"), home.join("certs")).unwrap();
            let env = [
                ("BASE", base.as_str()),
                ("PROXY", addr.as_str()),
                ("TESTER", tester),
                ("OPENID", openid),
                ("CODE", code),
            ];
            client(&home, &env, &script)
        })
        .collect();
    for c in children {
        let o = finish(c, Duration::from_secs(60));
        assert!(o.status.success(), "{}", said(&o));
    }
    // Six exchanges each, all on disk before their lines are printed.
    p.lines(18);
    let (code, rest) = p.terminate();
    assert_eq!(code, 0, "{rest}");
    for (tester, _, _) in &testers {
        assert!(
            rest.contains(&format!("wrote testers.{tester}.yaml")),
            "{rest}"
        );
        let one =
            loadtape_recording::read_recording(dir.join(format!("testers.{tester}.yaml"))).unwrap();
        assert_eq!(one.exchanges.len(), 6);
        assert!(one
            .exchanges
            .iter()
            .all(|e| e.tester.as_deref() == Some(*tester)));
    }
    let whole = loadtape_recording::read_recording(dir.join("testers.yaml")).unwrap();
    assert_eq!(
        whole.exchanges.len(),
        18,
        "mallory's refused request is not recorded"
    );

    let o = in_dir(
        dir,
        &["convert", "testers.yaml", "-o", "shop.scenario.yaml"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", said(&o));
    // In the order they first reached the proxy.
    assert!(said(&o).contains("3 testers recorded ("), "{}", said(&o));
    let s = std::fs::read_to_string(dir.join("shop.scenario.yaml")).unwrap();
    assert!(
        s.contains("users: {csv: shop.users.csv, pick: per-vu}"),
        "{s}"
    );
    let mut r = csv::Reader::from_path(dir.join("shop.users.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 3, "one row per tester: {rows:?}");
    let raw = header.iter().position(|c| c == "rawData").unwrap();
    for (tester, _, _) in &testers {
        let mine = format!(r#""nickName":"{tester}""#);
        let n = rows.iter().filter(|row| row[raw].contains(&mine)).count();
        assert_eq!(n, 1, "{tester} has one row: {rows:?}");
    }

    // Three VUs are the three testers: no VU takes another's cart or address.
    let args = ["--vus", "3", "--duration", "4s"];
    let (code, result, after, before) = run_shop(dir, &base, "shop.scenario.yaml", &args);
    let d = |p: &[&str]| delta(&after, &before, p);
    assert_eq!(d(&["shop", "bad_logins"]), 0, "every row logs in: {after}");
    assert_eq!(
        d(&["shop", "users"]),
        0,
        "the three recorded users, no other: {after}"
    );
    assert_eq!(
        d(&["shop", "empty_carts"]),
        0,
        "a cart taken by another VU: {after}"
    );
    assert_eq!(d(&["shop", "stale_addresses"]), 0, "{after}");
    for step in STEPS {
        assert_eq!(count(&entry(&result, "steps", step)["errors"]), 0, "{step}");
    }
    assert_eq!(code, 0, "{result}");
}

#[test]
fn group_marks_through_the_proxy_become_one_flow_each() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    let (mut p, addr) = proxy(dir, "marked.yaml", &[]);
    let script = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem "$@"; }
login=$(via -H 'content-type: application/json' -d '{"code":"0a1b2c3d4e"}' "$BASE/api/login")
token=$(printf '%s' "$login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token")
via http://loadtape.ca/mark/browse | grep -q 'group `browse` started'
via "${auth[@]}" "$BASE/api/goods?page=1" | grep -q '"data"'
via http://loadtape.ca/mark/me
via "${auth[@]}" "$BASE/api/profile" | grep -q '"errcode":0'
if via http://loadtape.ca/mark/no%20spaces; then exit 1; fi
"#;
    let c = client(dir, &[("BASE", &base), ("PROXY", &addr)], script);
    let o = finish(c, Duration::from_secs(60));
    assert!(o.status.success(), "{}", said(&o));
    p.lines(3);
    let (code, rest) = p.terminate();
    assert_eq!(code, 0, "{rest}");
    let rec = loadtape_recording::read_recording(dir.join("marked.yaml")).unwrap();
    let groups: Vec<Option<&str>> = rec.exchanges.iter().map(|e| e.group.as_deref()).collect();
    assert_eq!(groups, [None, Some("browse"), Some("me")]);

    let o = in_dir(dir, &["convert", "marked.yaml", "--weights", "3,1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", said(&o));
    let s = loadtape_scenario::load_scenario(dir.join("marked.scenario.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let flows: Vec<(&str, Option<u32>, usize)> = s
        .flows
        .iter()
        .map(|f| (f.name.as_str(), f.weight, f.steps.len()))
        .collect();
    assert_eq!(flows, [("browse", Some(3), 1), ("me", Some(1), 1)]);
    assert_eq!(s.tokens.len(), 1, "the login before the first mark, shared");
    assert_eq!(s.recording.as_deref(), Some("marked.yaml"));
    // One verify iteration runs every flow's steps, compared with the one recording.
    let o = in_dir(
        dir,
        &[
            "verify",
            "marked.scenario.yaml",
            "--ca",
            "certs/testbed-ca.pem",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", said(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sent: Vec<(&str, bool)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["name"].as_str().unwrap(), st["live_status"].is_u64()))
        .collect();
    assert_eq!(sent.len(), 3, "{report:#}");
    assert!(
        sent.iter().all(|(_, live)| *live),
        "every step sent: {report:#}"
    );
    let (code, result) = crate::pipeline::replay(
        dir,
        "marked.scenario.yaml",
        &["--vus", "2", "--iterations", "8"],
    );
    assert_eq!(code, 0, "{result}");
    let iterations: Vec<u64> = result["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| count(&f["iterations"]))
        .collect();
    assert_eq!(iterations, [12, 4]);
}

#[test]
fn a_group_name_typed_in_the_proxys_terminal_marks_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = crate::util::testbed(&[]);
    let mut cmd = in_dir(
        dir,
        &[
            "record",
            "--listen",
            "127.0.0.1:0",
            "--out",
            "typed.yaml",
            "--ca-dir",
            "certs",
        ],
    );
    cmd.stdin(Stdio::piped());
    let mut p = Running::start(cmd);
    let addr = p.proxy_ready();
    let mut stdin = p.child.stdin.take().unwrap();
    let via = |path: &str| {
        let (code, _) = crate::util::curl(&["-s", "--proxy", &addr, &format!("{base}{path}")]);
        assert_eq!(code, 0);
    };
    via("/api/goods");
    p.lines(1);
    std::io::Write::write_all(&mut stdin, b"not a name!\ncheckout\n").unwrap();
    p.line_containing("is not a group name");
    p.line_containing("group `checkout` started");
    via("/api/profile");
    let line = p.lines(1).remove(0);
    assert!(line.contains("[checkout]"), "{line}");
    drop(stdin);
    let (code, rest) = p.terminate();
    assert_eq!(code, 0, "{rest}");
    let rec = loadtape_recording::read_recording(dir.join("typed.yaml")).unwrap();
    let groups: Vec<Option<&str>> = rec.exchanges.iter().map(|e| e.group.as_deref()).collect();
    assert_eq!(groups, [None, Some("checkout")]);
}

#[test]
fn tester_lists_past_the_platforms_limits_are_refused_before_recording() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let big: String = (0..20_000).map(|i| format!("tester{i}\n")).collect();
    std::fs::write(dir.join("big.txt"), &big).unwrap();
    let many: String = (0..1001).map(|i| format!("t{i}\n")).collect();
    std::fs::write(dir.join("many.csv"), many).unwrap();
    std::fs::write(dir.join("bad.txt"), "alice\nbob smith\n").unwrap();
    let typed: Vec<String> = (0..151).map(|i| format!("--tester=t{i}")).collect();
    let cases: [(Vec<&str>, &str); 4] = [
        (vec!["--testers", "big.txt"], "at most 100 KB"),
        (vec!["--testers", "many.csv"], "at most 1000"),
        (vec!["--testers", "bad.txt"], "bad.txt:2"),
        (typed.iter().map(String::as_str).collect(), "150"),
    ];
    for (extra, said_what) in cases {
        let mut args = vec!["record", "--listen", "127.0.0.1:0", "--out", "r.yaml"];
        args.extend(&extra);
        let child = in_dir(dir, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = finish(child, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", said(&o));
        assert!(said(&o).contains(said_what), "{extra:?}: {}", said(&o));
        assert!(!dir.join("r.yaml").exists(), "nothing recorded");
    }
}
