use super::*;

fn render(src: &str, vars: &[(&str, &str)]) -> Result<String, RenderError> {
    let t = Template::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut out = String::new();
    t.render(vars, &mut out)?;
    Ok(out)
}

fn parse_err(src: &str) -> TemplateError {
    match Template::parse(src) {
        Ok(t) => panic!("{src:?} parsed as {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn text_without_braces_is_one_literal() {
    let t = Template::parse("https://a.example/x?y=1&z={}").unwrap();
    assert!(t.is_literal());
    assert_eq!(t.as_literal(), Some("https://a.example/x?y=1&z={}"));
    assert_eq!(t.parts().len(), 1);
    assert!(Template::parse("").unwrap().parts().is_empty());
    // `}}` alone is text (JSON bodies are full of it).
    assert!(Template::parse(r#"{"a":{"b":1}}"#).unwrap().is_literal());
}

#[test]
fn parses_variables_calls_and_concatenation() {
    let t = Template::parse("Bearer {{ session }} / {{users.code}}").unwrap();
    assert_eq!(
        t.parts(),
        &[
            Part::Literal("Bearer ".into()),
            Part::Expr(Expr::Var("session".into())),
            Part::Literal(" / ".into()),
            Part::Expr(Expr::Var("users.code".into())),
        ]
    );
    assert_eq!(t.variables(), vec!["session", "users.code"]);
    let t = Template::parse("{{ md5(appid + ts + 'k') }}").unwrap();
    assert_eq!(
        t.parts(),
        &[Part::Expr(Expr::Call(
            Func::Md5,
            vec![Expr::Concat(vec![
                Expr::Var("appid".into()),
                Expr::Var("ts".into()),
                Expr::Str("k".into())
            ])]
        ))]
    );
    assert_eq!(t.variables(), vec!["appid", "ts"]);
    let t = Template::parse(r#"{{ hmac_sha256(env("K"), a + b + a) }}"#).unwrap();
    assert_eq!(t.variables(), vec!["a", "b"]);
}

#[test]
fn constants_fold_into_literals() {
    let t = Template::parse("a{{ '{{' }}b{{ 1 + 2 }}c").unwrap();
    assert_eq!(t.as_literal(), Some("a{{b12c"));
    assert_eq!(t.to_string(), "a{{ \"{\" }}{b12c");
    let t = Template::parse("{{ 'x' + 'y' + v + 'z' }}").unwrap();
    assert_eq!(
        t.parts(),
        &[Part::Expr(Expr::Concat(vec![
            Expr::Str("xy".into()),
            Expr::Var("v".into()),
            Expr::Str("z".into())
        ]))]
    );
}

#[test]
fn display_is_canonical_and_parses_back() {
    for src in [
        "plain",
        "Bearer {{session}}",
        "{{ md5(appid+ts+secret) }}",
        r#"{{ env("WX_SECRET") }}"#,
        "{{ random_int(-5, 10) }}-{{ uuid() }}",
        "{{ sha256('it\\'s' + \"\\\\\" + '\\n') }}",
        "{{ '{' }}{{ x }}{{ '}' }}",
        "{{ '{' }}{",
        "a{{ '{{{' }}",
        "{ {{x}}",
        "{{x}}}}",
    ] {
        let t = Template::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let shown = t.to_string();
        assert_eq!(Template::parse(&shown), Ok(t.clone()), "{src} -> {shown}");
    }
    assert_eq!(
        Template::parse("{{md5(a+ 'b')}}").unwrap().to_string(),
        "{{ md5(a + \"b\") }}"
    );
    for text in ["{{", "{", "{{{", "a{b{{c", "}}{{", "{{ x }}"] {
        let t = Template::literal(text);
        assert_eq!(Template::parse(&t.to_string()), Ok(t.clone()), "{text}");
        assert_eq!(t.as_literal(), Some(text));
    }
    let t = Template::from_parts([Part::Literal("{".into()), Part::Expr(Expr::Var("x".into()))]);
    assert_eq!(Template::parse(&t.to_string()), Ok(t));
}

#[test]
fn errors_carry_offsets_and_say_what_to_do() {
    let e = parse_err("ab{{ md5( }}");
    assert_eq!(e.offset, 10);
    assert!(e.message.contains("expected argument `s` of md5(s)"), "{e}");

    let e = parse_err("x {{ md6(a) }}");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("unknown function `md6`"), "{e}");
    assert!(e.message.contains("did you mean `md5`"), "{e}");
    assert!(e.message.contains("hmac_sha256(key, s)"), "{e}");

    let e = parse_err("{{ md5(a, b) }}");
    assert_eq!(e.offset, 3);
    assert!(e.message.contains("md5(s) takes 1 argument, got 2"), "{e}");
    let e = parse_err("{{ hmac_sha256(a) }}");
    assert!(e.message.contains("takes 2 arguments, got 1"), "{e}");
    let e = parse_err("{{ now_ms(1) }}");
    assert!(e.message.contains("takes 0 arguments"), "{e}");

    let e = parse_err("abc {{ session ");
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("unclosed `{{`"), "{e}");
    let e = parse_err("{{ session");
    assert_eq!(e.offset, 0);

    let e = parse_err("{{ }}");
    assert_eq!(e.offset, 3);
    assert!(e.message.contains("empty expression"), "{e}");

    let e = parse_err("{{ a b }}");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("expected `+` or `}}`"), "{e}");

    let e = parse_err("{{ 'abc }}");
    assert_eq!(e.offset, 3);
    assert!(e.message.contains("unclosed string"), "{e}");

    let e = parse_err(r"{{ 'a\qb' }}");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("unknown escape"), "{e}");

    let e = parse_err("{{ random_int(9, 1) }}");
    assert!(e.message.contains("is empty"), "{e}");
    let e = parse_err("{{ 99999999999999999999 }}");
    assert!(e.message.contains("fits in 64 bits"), "{e}");
    let e = parse_err("{{ a + }}");
    assert_eq!(e.offset, 7);
    let e = parse_err("{{ 3rd_session }}");
    assert!(e.message.contains("cannot start with a digit"), "{e}");
}

#[test]
fn renders_literals_and_variables_into_a_reused_buffer() {
    let t = Template::parse("Bearer {{ session }}!").unwrap();
    let vars = [("session", "abc")];
    let mut out = String::with_capacity(64);
    t.render(&vars, &mut out).unwrap();
    out.push('|');
    t.render(&vars, &mut out).unwrap();
    assert_eq!(out, "Bearer abc!|Bearer abc!");
    assert_eq!(
        render("{{users.code}}", &[("users.code", "c1")]).unwrap(),
        "c1"
    );
    assert_eq!(
        render("{{ a + '-' + b + 7 }}", &[("a", "x"), ("b", "y")]).unwrap(),
        "x-y7"
    );
    assert_eq!(
        render("{{ nope }}", &[]),
        Err(RenderError::MissingVariable("nope".into()))
    );
    let lit = Template::parse("static").unwrap();
    assert!(matches!(
        lit.render_to_string(&()),
        Ok(Cow::Borrowed("static"))
    ));
}

#[test]
fn hash_functions_match_known_vectors() {
    assert_eq!(
        render("{{ md5('') }}", &[]).unwrap(),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(
        render("{{ md5(a + b) }}", &[("a", "ab"), ("b", "c")]).unwrap(),
        "900150983cd24fb0d6963f7d28e17f72"
    );
    assert_eq!(
        render("{{ sha256(s) }}", &[("s", "abc")]).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // RFC 4231, test case 2.
    assert_eq!(
        render(
            "{{ hmac_sha256(k, 'what do ya want ' + 'for nothing?') }}",
            &[("k", "Jefe")]
        )
        .unwrap(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        render("{{ sha1(s) }}", &[("s", "abc")]).unwrap(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        render("{{ upper(md5('')) }}", &[]).unwrap(),
        "D41D8CD98F00B204E9800998ECF8427E"
    );
    // The digest's bytes in base64, as `openssl dgst -binary | base64` prints them.
    assert_eq!(
        render("{{ hex_to_base64(md5('')) }}", &[]).unwrap(),
        "1B2M2Y8AsgTpgAmY7PhCfg=="
    );
    assert_eq!(render("{{ hex_to_base64('00FF') }}", &[]).unwrap(), "AP8=");
    let e = render("{{ hex_to_base64(s) }}", &[("s", "xyz")]).unwrap_err();
    assert!(e.to_string().contains("hex digits"), "{e}");
}

#[test]
fn encoding_functions() {
    assert_eq!(render("{{ base64('hello') }}", &[]).unwrap(), "aGVsbG8=");
    assert_eq!(
        render("{{ url_encode(v) }}", &[("v", "a b&c=d/é~_.-")]).unwrap(),
        "a%20b%26c%3Dd%2F%C3%A9~_.-"
    );
}

#[test]
fn clock_random_and_env_functions() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let ms: u128 = render("{{ now_ms() }}", &[]).unwrap().parse().unwrap();
    let s: u64 = render("{{ now_s() }}", &[]).unwrap().parse().unwrap();
    assert!(ms >= before.as_millis() && ms < before.as_millis() + 60_000);
    assert!(s >= before.as_secs() && s < before.as_secs() + 60);

    let a = render("{{ uuid() }}", &[]).unwrap();
    let b = render("{{ uuid() }}", &[]).unwrap();
    assert_ne!(a, b);
    let parsed = uuid::Uuid::parse_str(&a).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(a, a.to_lowercase());

    for _ in 0..200 {
        let n: i64 = render("{{ random_int(lo, 3) }}", &[("lo", "-2")])
            .unwrap()
            .parse()
            .unwrap();
        assert!((-2..=3).contains(&n));
    }
    assert_eq!(render("{{ random_int(4, 4) }}", &[]).unwrap(), "4");
    assert!(matches!(
        render("{{ random_int(x, 3) }}", &[("x", "abc")]),
        Err(RenderError::NotAnInteger { .. })
    ));
    assert!(matches!(
        render("{{ random_int(x, 3) }}", &[("x", "9")]),
        Err(RenderError::EmptyRange { low: 9, high: 3 })
    ));

    assert_eq!(
        render("{{ env('LOADTAPE_SURELY_UNSET_VAR') }}", &[]),
        Err(RenderError::MissingEnv("LOADTAPE_SURELY_UNSET_VAR".into()))
    );
    let path = std::env::var("PATH").unwrap_or_default();
    if !path.is_empty() {
        assert_eq!(render("{{ env(\"PA\" + 'TH') }}", &[]).unwrap(), path);
    }
    assert!(Template::parse("{{ uuid() }}").unwrap().is_volatile());
    assert!(!Template::parse("{{ md5(a) }}").unwrap().is_volatile());
}

#[test]
fn names() {
    assert!(is_valid_name("goods_id"));
    assert!(is_valid_name("_x1"));
    assert!(!is_valid_name("1x"));
    assert!(!is_valid_name("a.b"));
    assert!(!is_valid_name(""));
    assert!(!is_valid_name("a-b"));
}

#[test]
fn calls_nested_past_the_bound_are_refused_not_a_stack_overflow() {
    let deep = |n: usize| format!("{{{{ {}'x'{} }}}}", "md5(".repeat(n), ")".repeat(n));
    assert!(Template::parse(&deep(super::parse::MAX_NESTING)).is_ok());
    let e = parse_err(&deep(2000));
    assert!(
        e.message.contains("nested more than 32 deep"),
        "{}",
        e.message
    );
}
