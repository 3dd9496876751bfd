//! Malformed scenarios fail before anything runs, naming the file, the line (and column), the
//! field path, what is wrong and what to do.

#[path = "support/spec.rs"]
mod spec;

use std::path::Path;

use loadtape_scenario::{load_scenario, load_scenario_str};
use spec::{fails, Dir, SPEC};

#[test]
fn malformed_scenarios_name_file_line_field_and_fix() {
    // YAML syntax: serde_yaml's own message and position.
    let e = fails(
        "    think: 800ms",
        "    think: 800ms\n   bad: indent",
        "bad: indent",
        "steps",
        "did not find expected '-' indicator, while parsing a block collection",
    );
    assert_eq!(e.column, Some(4));
    let d = Dir::new();
    let text = SPEC.replace("  appid: wx1234567890abcdef", "  appid: 'unterminated");
    let e = d.load(&text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("variables"), "{e}");
    assert_eq!(e.line, Some(8), "{e}");
    fails(
        "  vus: 50\n",
        "  vus: fifty\n",
        "vus: fifty",
        "load.vus",
        "invalid type: string \"fifty\", expected u32",
    );

    fails(
        "loadtape: scenario/v1",
        "loadtape: scenario/v2",
        "loadtape:",
        "loadtape",
        "unsupported format `scenario/v2`",
    );
    fails(
        "loadtape: scenario/v1",
        "loadtape: recording/v1",
        "loadtape:",
        "loadtape",
        "loadtape convert",
    );
    let e = fails(
        "    think: 800ms",
        "    thnk: 800ms",
        "thnk:",
        "steps[0].thnk",
        "unknown field `thnk`",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `think`?"),
        "{e}"
    );
    let e = fails(
        "    think: 800ms",
        "    think: 8 sec",
        "think: 8 sec",
        "steps[0].think",
        "`8 sec` is not a duration",
    );
    assert!(e.to_string().contains("800ms"), "{e}");
    fails(
        "  duration: 1m",
        "  duration: 60",
        "duration: 60",
        "load.duration",
        "`60` has no unit",
    );
    fails(
        "  vus: 50\n  duration: 1m",
        "  rate: 500/sec\n  duration: 1m\n  max_vus: 10",
        "rate: 500/sec",
        "load.rate",
        "`500/sec` is not a rate",
    );
    fails(
        "  - error_rate < 1%",
        "  - error_rate << 1%",
        "error_rate <<",
        "thresholds[1]",
        "is not a number",
    );
    // A bare `1` is a fraction, 100%: refused, with the percentage it surely meant.
    let e = fails(
        "  - error_rate < 1%",
        "  - error_rate < 1",
        "error_rate < 1",
        "thresholds[1]",
        "a bare number is a fraction",
    );
    assert!(
        e.to_string().contains("did you mean `error_rate < 1%`?"),
        "{e}"
    );
    fails(
        "  - p99 < 300ms ",
        "  - p98 < 300ms ",
        "p98",
        "thresholds[0]",
        "unknown metric `p98`",
    );
    fails(
        "goods_id: {json: '$.data[0].id'}",
        "goods_id: {json: '$.data[0'}",
        "goods_id:",
        "steps[0].extract.goods_id.json",
        "invalid JSONPath `$.data[0`",
    );
    fails(
        "goods_id: {json: '$.data[0].id'}",
        "goods_id: {regex: 'id=(\\d+'}",
        "goods_id:",
        "steps[0].extract.goods_id.regex",
        "invalid regex",
    );
    let e = fails(
        "secret: '{{ env(\"WX_SECRET\") }}'",
        "secret: '{{ md5( }}'",
        "secret:",
        "variables.secret",
        "template error at byte 8",
    );
    assert!(e.message.contains("expected argument `s` of md5(s)"), "{e}");
    let e = fails(
        "secret: '{{ env(\"WX_SECRET\") }}'",
        "secret: '{{ md6(appid) }}'",
        "secret:",
        "variables.secret",
        "unknown function `md6`",
    );
    assert!(e.message.contains("did you mean `md5`"), "{e}");
    let e = fails(
        "[authorization, 'Bearer {{ session }}']",
        "[authorization, 'Bearer {{ session }}', '{{ goods_id }}']",
        "[authorization",
        "steps[0].request.headers[0]",
        "more than a name and a value",
    );
    let _ = e;
    let e = fails(
        "body: {json: {goods: '{{ goods_id }}'}}",
        "body: {json: {goods: '{{ goods_idd }}'}}",
        "goods_idd",
        "steps[1].request.body.json.goods",
        "`goods_idd` is not defined",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `goods_id`?"),
        "{e}"
    );
    let e = fails(
        "      - [authorization, 'Bearer {{ session }}']",
        "      - [authorization, 'Bearer {{ session }} {{ goods_id }}']",
        "[authorization",
        "steps[0].request.headers[0][1]",
        "`goods_id` is not defined",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("`goods` extracts it from its own response"),
        "{e}"
    );
    let e = fails(
        "      body: {json: {code: '{{ users.code }}'}}",
        "      body: {json: {code: '{{ users.code }}', g: '{{ goods_id }}'}}",
        "g: '{{ goods_id",
        "tokens[0].request.body.json.g",
        "`goods_id` is not defined",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("extracted by step `goods`, which has not run"),
        "{e}"
    );
    let e = fails(
        "  vus: 50\n",
        "  vus: 50\n  stages: [{to: 200, over: 30s}]\n",
        "stages:",
        "load.stages",
        "`stages` does not apply to executor `constant-vus`",
    );
    assert!(
        e.hint.as_deref().unwrap_or("").contains("ramping-vus"),
        "{e}"
    );
    let e = fails(
        "executor: constant-vus ",
        "executor: constant-vu ",
        "executor:",
        "load.executor",
        "unknown executor `constant-vu`",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `constant-vus`?"),
        "{e}"
    );
    fails(
        "{csv: users.csv,",
        "{csv: people.csv,",
        "people.csv",
        "data.users.csv",
        "CSV file `people.csv` not found",
    );
    fails(
        "  - name: order",
        "  - name: goods  # dup",
        "# dup",
        "steps[1].name",
        "step name `goods` is used twice",
    );
    fails(
        "body: {json: {goods: '{{ goods_id }}'}}",
        "body: {json: {goods: '{{ goods_id }}'}, text: hello}",
        "text: hello",
        "steps[1].request.body.text",
        "a body has exactly one kind, this one has `json` and `text`",
    );
}

#[test]
fn more_semantic_errors() {
    fails(
        "  https://api.example.com: https://staging.example.com",
        "  api.example.com: https://staging.example.com",
        "api.example.com:",
        "target.api.example.com",
        "not an http:// or https:// origin",
    );
    fails(
        "body: {json: {code: '{{ users.code }}'}}",
        "body: {json: {code: '{{ users.cod }}'}}",
        "users.cod",
        "tokens[0].request.body.json.code",
        "data source `users` has no column `cod`",
    );
    fails(
        "      url: https://api.example.com/cgi-bin/token?grant_type=client_credential&appid={{ appid }}&secret={{ secret }}",
        "      url: https://api.example.com/cgi-bin/token?c={{ users.code }}",
        "c={{ users.code }}",
        "tokens[1].request.url",
        "shared token `access_token` uses `users.code`",
    );
    fails(
        "    scope: per-vu ",
        "    scope: per_vu ",
        "scope: per_vu",
        "tokens[0].scope",
        "unknown value `per_vu`",
    );
    fails(
        "      method: POST",
        "      method: post",
        "method: post",
        "tokens[0].request.method",
        "not upper-case",
    );
    fails(
        "check: {status: 200}",
        "check: {status: 700}",
        "status: 700",
        "steps[0].check.status",
        "`700` is not an HTTP status",
    );
    fails(
        "      session: {json: $.data.token}",
        "      session: {json: $.data.token, header: x-token}",
        "session: {json",
        "tokens[0].extract.session.header",
        "an extractor takes one source",
    );
    fails(
        "  vus: 50\n",
        "",
        "load:",
        "load.vus",
        "executor `constant-vus` needs `vus`",
    );
    fails(
        "  - p99 < 300ms ",
        "  - gods.p95 < 300ms ",
        "gods.p95",
        "thresholds[0]",
        "names step `gods`, which does not exist",
    );
    fails(
        "recording: shop-checkout.yaml",
        "recording: a\nname: again",
        "name: again",
        "name",
        "`name` appears twice",
    );
    fails(
        "      url: https://api.example.com/v1/goods?page=1",
        "      url: /v1/goods?page=1",
        "url: /v1/goods",
        "steps[0].request.url",
        "not an absolute http(s) URL",
    );
}

#[test]
fn load_errors_without_a_file() {
    let e = load_scenario(Path::new("/definitely/not/here.yaml")).unwrap_err();
    assert!(e.to_string().contains("cannot read the scenario"), "{e}");
    let e = load_scenario_str("# nothing\n", "x.yaml").unwrap_err();
    assert!(e.message.contains("empty"), "{e}");
    let e = load_scenario_str("name: x\n", "x.yaml").unwrap_err();
    assert!(e.message.contains("no `loadtape` key"), "{e}");
    // Garbage never panics.
    for text in [
        "{",
        "]",
        "- a\n- b",
        "loadtape: scenario/v1\n",
        "loadtape: [",
        "\t\u{0}",
        "loadtape: scenario/v1\nsteps: 5\nload: 3\nname: x",
    ] {
        let _ = load_scenario_str(text, "x.yaml");
    }
}
