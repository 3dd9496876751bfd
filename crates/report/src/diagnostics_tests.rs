use super::*;

fn d(step: &str, kind: &str, t: f64) -> Diagnostic {
    Diagnostic {
        step: step.into(),
        token: false,
        kind: kind.into(),
        t,
        vu: Some(3),
        iteration: Some(2),
        message: format!("{kind} at {t}"),
        rule: None,
        request: Some(Request {
            method: "POST".into(),
            url: "http://127.0.0.1:1/api/order?access_token=***".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::of(br#"{"goods_id":"g1"}"#, BODY_KEPT),
        }),
        response: Some(Response {
            status: 404,
            reason: "Not Found".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("content-length".into(), "30".into())],
            body: Body::of(br#"{"errcode":404,"errmsg":"no <such> goods"}"#, BODY_KEPT),
        }),
    }
}

#[test]
fn bodies_keep_their_start_as_text_and_say_what_they_cut() {
    let long = "é".repeat(1500); // 3,000 bytes: the cut at 2,048 falls inside a character
    let b = Body::of(long.as_bytes(), BODY_KEPT).unwrap();
    assert!(b.truncated && !b.binary);
    assert_eq!(b.text.len(), 2048);
    assert_eq!(b.bytes, 3000);
    assert!(b.shown().ends_with("… (3000 bytes in all)"));
    let png = [0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0xff, 0xfe];
    let b = Body::of(&png, BODY_KEPT).unwrap();
    assert!(b.binary && !b.truncated);
    assert_eq!(b.text, "<10 bytes binary>");
    assert!(Body::of(b"", BODY_KEPT).is_none());
    let latin1 = b"caf\xe9 cr\xe8me, br\xfbl\xe9e: a long enough text in Latin-1";
    assert!(
        !Body::of(latin1, BODY_KEPT).unwrap().binary,
        "one odd byte in text still reads"
    );
}

#[test]
fn the_earliest_five_of_each_step_and_kind_are_kept_across_inputs() {
    let a: Vec<Diagnostic> = (0..7)
        .map(|i| d("order", "status", 10.0 + i as f64))
        .collect();
    let b = [
        d("order", "status", 0.5),
        d("order", "connect", 3.0),
        d("goods", "check", 1.0),
    ];
    // `b` started 2 s after `a`: its 0.5 s is the merge's 2.5 s, the earliest `status`.
    let m = merge([(&a[..], 0.0), (&b[..], 2.0)]);
    let status: Vec<f64> = m
        .iter()
        .filter(|x| x.kind == "status")
        .map(|x| x.t)
        .collect();
    assert_eq!(status, [2.5, 10.0, 11.0, 12.0, 13.0]);
    assert_eq!(m.iter().filter(|x| x.kind == "connect").count(), 1);
    assert_eq!(m.iter().find(|x| x.step == "goods").unwrap().t, 3.0);
    // Grouped: each step and kind together, so the summary shows them as one block.
    let kinds: Vec<&str> = m.iter().map(|x| x.kind.as_str()).collect();
    let mut runs = kinds.clone();
    runs.dedup();
    assert_eq!(runs.len(), 3, "{kinds:?}");
    let token = Diagnostic {
        token: true,
        ..d("order", "status", 0.1)
    };
    assert_eq!(keep_earliest(vec![token; 9], 5).len(), 5);
}

#[test]
fn the_summary_shows_the_first_in_full_and_the_others_in_one_line() {
    let list = keep_earliest((0..3).map(|i| d("order", "status", i as f64)).collect(), 5);
    let t = text(&list);
    assert!(t.contains("order (status):"), "{t}");
    assert!(
        t.contains(">>> [order] POST http://127.0.0.1:1/api/order?access_token=***"),
        "{t}"
    );
    assert!(t.contains("<<< 404 Not Found HTTP/1.1"), "{t}");
    assert!(
        t.contains(r#"{"errcode":404,"errmsg":"no <such> goods"}"#),
        "{t}"
    );
    assert!(t.contains("at 1.000s, VU 3, iteration 2: POST http://127.0.0.1:1/api/order?access_token=*** → 404: status at 1"), "{t}");
    assert_eq!(t.matches(">>>").count(), 1, "only the first in full: {t}");
    assert_eq!(text(&[]), "");
}

#[test]
fn the_html_section_escapes_what_the_server_said() {
    let list = vec![
        d("order", "status", 0.0),
        Diagnostic {
            request: None,
            response: None,
            message: "connect: connection refused".into(),
            ..d("order", "connect", 1.0)
        },
    ];
    let h = html(&list);
    assert!(h.starts_with("<section id=\"diagnostics\">"), "{h}");
    assert!(h.contains("no &lt;such&gt; goods"), "{h}");
    assert!(!h.contains("<such>"), "{h}");
    assert!(h.contains("connect: connection refused"), "{h}");
    assert_eq!(h.matches("<details").count(), 2);
    assert_eq!(html(&[]), "");
}

#[test]
fn old_results_without_diagnostics_still_load_and_new_ones_round_trip() {
    let one = d("order", "status", 1.25);
    let json = serde_json::to_string(&one).unwrap();
    let back: Diagnostic = serde_json::from_str(&json).unwrap();
    assert_eq!(back, one);
    let bare: Diagnostic =
        serde_json::from_str(r#"{"step":"s","kind":"timeout","t":1,"message":"timed out"}"#)
            .unwrap();
    assert!(bare.request.is_none() && !bare.token);
    assert!(shown(&bare).starts_with("s (timeout)\nat 1.000s: timed out"));
    assert_eq!(
        first(&[d("a", "x", 2.0), d("b", "y", 1.0)]).unwrap().step,
        "b"
    );
}
