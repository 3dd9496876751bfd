//! scenario/v1: the SPEC §5 example loads with every field typed, and the writer's output
//! (comments and awkward strings included) loads back equal.

#[path = "support/spec.rs"]
mod spec;

use std::time::Duration;

use loadtape_scenario::template::{Expr, Func, Part};
use loadtape_scenario::{write_scenario, write_scenario_with_comments, Template};
use loadtape_scenario::{
    BodyTemplate, Comments, Executor, Expiry, Extractor, JsonTemplate, JsonTest, Metric, Op, Pick,
    Rate, RateUnit, Scope, Stat,
};
use serde_json::json;
use spec::{Dir, SPEC};

#[test]
fn spec_example_loads_with_typed_values() {
    let d = Dir::new();
    let s = d.load(SPEC).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.loadtape, "scenario/v1");
    assert_eq!(s.name, "shop-checkout");
    assert_eq!(s.recording.as_deref(), Some("shop-checkout.yaml"));
    assert_eq!(
        s.target.get("https://api.example.com").map(String::as_str),
        Some("https://staging.example.com")
    );
    assert_eq!(
        s.variables["appid"].as_literal(),
        Some("wx1234567890abcdef")
    );
    assert_eq!(
        s.variables["secret"].parts(),
        &[Part::Expr(Expr::Call(
            Func::Env,
            vec![Expr::Str("WX_SECRET".into())]
        ))]
    );
    assert_eq!(s.data["users"].csv, "users.csv");
    assert_eq!(s.data["users"].pick, Pick::PerVu);
    assert_eq!(
        s.data["users"].resolve(&d.path()),
        d.dir.path().join("users.csv")
    );

    let session = &s.tokens[0];
    assert_eq!(
        (session.name.as_str(), session.scope),
        ("session", Scope::PerVu)
    );
    assert_eq!(session.request.method, http::Method::POST);
    assert_eq!(
        session.request.url.as_literal(),
        Some("https://api.example.com/v1/login")
    );
    let Some(BodyTemplate::Json(JsonTemplate::Object(fields))) = &session.request.body else {
        panic!("{:?}", session.request.body)
    };
    assert_eq!(fields[0].0, "code");
    assert_eq!(
        fields[0].1,
        JsonTemplate::String(Template::var("users.code"))
    );
    assert!(
        matches!(&session.extract["session"], Extractor::Json(p) if p.as_str() == "$.data.token")
    );
    assert_eq!(
        session.extract.keys().collect::<Vec<_>>(),
        ["session", "expires_in"]
    );
    let Some(Expiry::Template(exp)) = &session.expires_in else {
        panic!()
    };
    assert_eq!(exp.to_string(), "{{ expires_in }}s");
    assert_eq!(
        session
            .expires_in
            .as_ref()
            .unwrap()
            .resolve(&[("expires_in", "7200")])
            .unwrap(),
        Duration::from_secs(7200)
    );
    assert_eq!(session.refresh_before, Some(Duration::from_secs(60)));
    let refresh = session.refresh_on.as_ref().unwrap();
    assert_eq!(refresh.status, vec![401]);
    assert_eq!(refresh.json[0].path.as_str(), "$.errcode");
    assert_eq!(
        refresh.json[0].test,
        JsonTest::In(vec![json!(40001), json!(40014), json!(42001)])
    );
    assert!(refresh.matches(200, Some(&json!({"errcode": 42001}))));
    assert!(refresh.matches(401, None));
    assert!(!refresh.matches(200, Some(&json!({"errcode": 0}))));

    let access = &s.tokens[1];
    assert_eq!(access.scope, Scope::Shared);
    assert_eq!(access.request.method, http::Method::GET);
    assert_eq!(access.request.url.variables(), vec!["appid", "secret"]);
    assert_eq!(access.refresh_before, None);

    let goods = &s.steps[0];
    assert_eq!(goods.name, "goods");
    assert_eq!(goods.request.headers[0].0, "authorization");
    assert_eq!(
        goods.request.headers[0].1.to_string(),
        "Bearer {{ session }}"
    );
    assert_eq!(goods.check.as_ref().unwrap().status, vec![200]);
    let ex = &goods.extract["goods_id"];
    assert_eq!(
        ex.select_json(&json!({"data": [{"id": 17}]})).as_deref(),
        Some("17")
    );
    assert_eq!(goods.think, Some(Duration::from_millis(800)));
    let order = &s.steps[1];
    assert!(order.request.url.is_volatile());
    assert_eq!(order.check, None);
    let mut body = Vec::new();
    order
        .request
        .body
        .as_ref()
        .unwrap()
        .render(&[("goods_id", "g\"1")], &mut body)
        .unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), r#"{"goods":"g\"1"}"#);

    assert_eq!(
        s.load.executor,
        Executor::ConstantVus {
            vus: 50,
            duration: Duration::from_secs(60)
        }
    );
    assert_eq!(s.load.iterations, None);
    let t = s.thresholds.as_deref().unwrap_or_default();
    assert_eq!(
        (t[0].source(), t[0].metric(), t[0].op(), t[0].value()),
        ("p99 < 300ms", Metric::Latency(Stat::P99), Op::Lt, 300.0)
    );
    assert_eq!((t[1].metric(), t[1].step()), (Metric::ErrorRate, None));
    assert!(t[1].evaluate(0.009) && !t[1].evaluate(0.01));
}

#[test]
fn written_scenario_loads_back_equal() {
    let d = Dir::new();
    let s = d.load(SPEC).unwrap();
    let text = write_scenario(&s);
    let back = d.load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, s, "{text}");
    // The writer's style: flow pairs and short bodies on one line, templates single-quoted.
    for line in [
        "  secret: '{{ env(\"WX_SECRET\") }}'",
        "  users: {csv: users.csv, pick: per-vu}",
        "    body: {json: {code: '{{ users.code }}'}}",
        "    - [authorization, 'Bearer {{ session }}']",
        "  check: {status: 200}",
        "    json: {path: '$.errcode', in: [40001, 40014, 42001]}",
        "  think: 800ms",
        "  refresh_before: 1m",
        "- p99 < 300ms",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn every_executor_and_odd_values_round_trip() {
    let d = Dir::new();
    let loads = [
        "executor: ramping-vus\n  start_vus: 5\n  stages: [{to: 200, over: 30s}, {to: 0, over: 1m30s}]\n  iterations: 3",
        "executor: constant-rate\n  rate: 30/m\n  duration: 2h\n  max_vus: 2000\n  pre_allocated_vus: 100",
        "executor: ramping-rate\n  start_rate: 10/s\n  stages: [{to: 2000/s, over: 1m}]\n  max_vus: 5000",
    ];
    for load in loads {
        let text = SPEC.replace(
            "executor: constant-vus                 # constant-vus | ramping-vus | constant-rate | ramping-rate\n  vus: 50\n  duration: 1m",
            load,
        );
        let s = d.load(&text).unwrap_or_else(|e| panic!("{e}\n{load}"));
        let written = write_scenario(&s);
        assert_eq!(
            d.load(&written)
                .unwrap_or_else(|e| panic!("{e}\n{written}")),
            s
        );
    }
    let s = d.load(&SPEC.replace("executor: constant-vus                 # constant-vus | ramping-vus | constant-rate | ramping-rate\n  vus: 50\n  duration: 1m", loads[2])).unwrap();
    let Executor::RampingRate {
        start_rate,
        stages,
        max_vus,
        pre_allocated_vus,
    } = &s.load.executor
    else {
        panic!()
    };
    assert_eq!(
        *start_rate,
        Rate {
            count: 10,
            per: RateUnit::Second
        }
    );
    assert_eq!(stages[0].to.as_per_second(), 2000.0);
    assert_eq!((*max_vus, *pre_allocated_vus), (5000, None));
    assert_eq!(s.load.executor.duration(), Duration::from_secs(60));

    // Awkward strings everywhere a string goes.
    let mut s = d.load(SPEC).unwrap();
    let awkward = [
        "",
        " lead",
        "trail ",
        "it's",
        "quote\"d",
        "back\\slash",
        "# hash",
        "a: b",
        "- dash",
        "{{ literal braces",
        "{",
        "multi\nline\ttab",
        "yes",
        "null",
        "0x1F",
        "1e3",
        "ünïcödé 中文",
        "@at",
        "`tick`",
        "%pct",
        "&anchor",
        "*alias",
        "!tag",
        "|pipe",
        ">gt",
        "[x]",
        "{y}",
        "a,b",
    ];
    for (i, text) in awkward.iter().enumerate() {
        s.variables
            .insert(format!("v{i}"), Template::literal(*text));
        s.steps[0]
            .request
            .headers
            .push((format!("x-h{i}"), Template::literal(*text)));
    }
    let tricky = Template::parse("{{ md5('it\\'s' + appid) }}{ {{ '{{' }}").unwrap();
    s.variables.insert("tricky".into(), tricky);
    s.steps[1].request.body = Some(BodyTemplate::Json(JsonTemplate::from_value(&json!({
        "list": awkward, "n": [1, -2, 3.5, 18446744073709551615u64], "nested": {"yes": null, "": true}
    }))));
    s.steps[0].check.as_mut().unwrap().body_contains =
        awkward.iter().map(|s| s.to_string()).collect();
    let text = write_scenario(&s);
    let back = d.load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, s, "{text}");
}

#[test]
fn comments_are_written_above_their_fields() {
    let d = Dir::new();
    let s = d.load(SPEC).unwrap();
    let mut c = Comments::new();
    c.add("variables", "values the flow needs");
    c.add("variables.appid", "from the Referer of the recording");
    c.add(
        "steps[1]",
        "recorded as exchange #7\nsigned requests need the signing rule",
    );
    c.add(
        "steps[0].request.headers[0]",
        "session token (detected: Bearer)",
    );
    c.add("load.executor", "start small");
    let text = write_scenario_with_comments(&s, &c);
    for (comment, next) in [
        ("# values the flow needs", "variables:"),
        (
            "  # from the Referer of the recording",
            "  appid: wx1234567890abcdef",
        ),
        ("# signed requests need the signing rule", "- name: order"),
        (
            "    # session token (detected: Bearer)",
            "    - [authorization, 'Bearer {{ session }}']",
        ),
        ("  # start small", "  executor: constant-vus"),
    ] {
        let at = text
            .lines()
            .position(|l| l == comment)
            .unwrap_or_else(|| panic!("{comment:?}\n{text}"));
        assert_eq!(text.lines().nth(at + 1), Some(next), "{text}");
    }
    assert!(text.contains("# recorded as exchange #7\n# signed"));
    assert_eq!(d.load(&text).unwrap(), s);
}

/// `recorded:` ties a step to its recorded exchange for `loadtape verify`; it is optional (a
/// scenario without it stays valid), written as a bare number, and a non-number is refused
/// with its line.
#[test]
fn recorded_exchange_ids_round_trip_and_are_optional() {
    let d = Dir::new();
    let mut s = d.load(SPEC).unwrap();
    assert!(s.steps.iter().all(|st| st.recorded.is_none()));
    assert!(s.tokens.iter().all(|t| t.recorded.is_none()));
    s.steps[0].recorded = Some(12);
    s.tokens[0].recorded = Some(3);
    let text = write_scenario(&s);
    assert!(text.lines().any(|l| l == "  recorded: 12"), "{text}");
    assert!(text.lines().any(|l| l == "  recorded: 3"), "{text}");
    assert_eq!(d.load(&text).unwrap_or_else(|e| panic!("{e}")), s);
    let bad = text.replace("  recorded: 12", "  recorded: twelve");
    let e = d.load(&bad).unwrap_err().to_string();
    assert!(e.contains("recorded"), "{e}");
}
