//! The table `loadtape tokens` prints.

use std::fmt::Write as _;

use crate::finding::{Analysis, Class, Finding, Place};

/// A correlated cookie a response set and only cookies send: the VU's cookie jar carries it,
/// so the table names it on one line instead of a row each (a WordPress login sets ten).
pub fn rides_cookie_jar(f: &Finding) -> bool {
    f.class == Class::Correlated
        && f.origins
            .iter()
            .all(|o| matches!(o.place, Place::SetCookie(_)))
        && f.uses.iter().all(|u| matches!(u.place, Place::Cookie(_)))
}

/// One row per finding (variable, class, where used, origin, confidence), applied findings
/// first, then suggestions, then the warnings and what was dropped. A finding used in many
/// places takes a line per use rather than one line wider than any terminal.
pub fn render_table(a: &Analysis) -> String {
    let mut out = String::new();
    let kept = a.steps.iter().filter(|s| s.dropped.is_none()).count();
    let _ = writeln!(
        out,
        "{}: {} exchange(s), {} kept for the scenario",
        a.name,
        a.steps.len(),
        kept
    );
    if let Some(m) = &a.mini_program {
        let _ = writeln!(out, "mini program: {} appid {}", m.platform, m.appid);
    }
    let header = [
        "VARIABLE".to_string(),
        "CLASS".into(),
        "USED IN".into(),
        "ORIGIN".into(),
        "CONF".into(),
    ];
    let jar: Vec<&Finding> = a.applied().filter(|f| rides_cookie_jar(f)).collect();
    let applied: Vec<Row> = a
        .applied()
        .filter(|f| !rides_cookie_jar(f))
        .map(|f| row(a, f))
        .collect();
    let suggested: Vec<Row> = a.suggestions().map(|f| row(a, f)).collect();
    if applied.is_empty() {
        out.push_str("\nno tokens found\n");
    } else {
        out.push('\n');
        table(&mut out, &header, &applied);
    }
    if !jar.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for f in &jar {
            for u in &f.uses {
                if let Some(k) = u.place.key().filter(|k| !names.contains(k)) {
                    names.push(k);
                }
            }
        }
        out.push('\n');
        wrap(
            &mut out,
            &format!(
                "left to the cookie jar (set by a response, sent back as cookies): {}",
                names.join(", ")
            ),
            "",
            "  ",
        );
    }
    if !suggested.is_empty() {
        out.push_str("\nsuggestions (not applied by convert):\n");
        table(&mut out, &header, &suggested);
    }
    let dropped: Vec<String> = a
        .steps
        .iter()
        .filter_map(|s| s.dropped.map(|d| format!("{} (#{}, {d})", s.name, s.id)))
        .collect();
    if !dropped.is_empty() {
        let _ = writeln!(out, "\ndropped: {}", dropped.join(", "));
    }
    if !a.signings.is_empty() {
        out.push_str("\nsignatures:\n");
        for s in &a.signings {
            wrap(&mut out, &s.describe(), "  - ", "    ");
        }
    }
    if !a.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &a.warnings {
            wrap(&mut out, w, "  - ", "    ");
        }
    }
    out
}

/// The analysis as JSON, for tools (`loadtape tokens --json`): every finding with its
/// class, value, confidence, whether `convert` applies it, its uses and origins (step names
/// and recorded exchange ids), the dropped steps and the warnings.
pub fn findings_json(a: &Analysis) -> serde_json::Value {
    use serde_json::json;
    let step = |i: usize| json!({"step": a.steps[i].name, "exchange": a.steps[i].id});
    let findings: Vec<serde_json::Value> = a
        .findings
        .iter()
        .map(|f| {
            let uses: Vec<_> = f
                .uses
                .iter()
                .map(|u| {
                    let mut v = step(u.step);
                    v["place"] = json!(u.place.to_string());
                    v["encoding"] = json!(format!("{:?}", u.encoding).to_lowercase());
                    v
                })
                .collect();
            let origins: Vec<_> = f
                .origins
                .iter()
                .map(|o| {
                    let mut v = step(o.step);
                    v["place"] = json!(o.place.to_string());
                    v
                })
                .collect();
            json!({
                "variable": f.variable,
                "class": f.class.to_string(),
                "value": f.value,
                "confidence": f.confidence,
                "applied": f.applied(),
                "cookie_jar": rides_cookie_jar(f),
                "reason": f.reason,
                "uses": uses,
                "origins": origins,
            })
        })
        .collect();
    let dropped: Vec<_> = a
        .steps
        .iter()
        .filter_map(|s| {
            s.dropped
                .map(|d| json!({"step": s.name, "exchange": s.id, "why": d.to_string()}))
        })
        .collect();
    json!({
        "name": a.name,
        "mini_program": a.mini_program.as_ref().map(|m| json!({"platform": m.platform.to_string(), "appid": m.appid})),
        "findings": findings,
        "dropped": dropped,
        "signatures": a.signings.iter().map(|s| json!({
            "field": s.field,
            "steps": s.uses.iter().map(|(i, _)| step(*i)).collect::<Vec<_>>(),
            "rule": s.rule.as_ref().map(|r| r.to_string()),
            "secret_env": s.rule.as_ref().and_then(|r| r.secret_env.clone()),
            "low_confidence": s.low_confidence(),
            "tried": s.tried,
        })).collect::<Vec<_>>(),
        "warnings": a.warnings,
    })
}

/// Column widths that fit [`TABLE_WIDTH`]: the natural ones, the widest narrowed first.
fn caps(header: &Row, rows: &[Row]) -> [usize; 5] {
    let mut w = [0usize; 5];
    for r in std::iter::once(header).chain(rows) {
        for (w, cell) in w.iter_mut().zip(r) {
            for l in cell {
                *w = (*w).max(l.chars().count());
            }
        }
    }
    while w.iter().sum::<usize>() + 2 * (w.len() - 1) > TABLE_WIDTH {
        let Some((i, _)) = w
            .iter()
            .enumerate()
            .filter(|(_, &x)| x > 16)
            .max_by_key(|(_, &x)| x)
        else {
            break;
        };
        w[i] -= 1;
    }
    w
}

/// A row with each cell's lines cut to its column's width, at a space or punctuation when
/// one is near.
fn capped(r: &Row, caps: &[usize; 5]) -> Row {
    let mut out: Row = Default::default();
    for (i, cell) in r.iter().enumerate() {
        for line in cell {
            let mut rest: Vec<char> = line.chars().collect();
            while rest.len() > caps[i] {
                let cut = (caps[i] / 2..caps[i])
                    .rev()
                    .find(|&k| matches!(rest[k], ' ' | '.' | '[' | '_' | '-' | '/' | ','))
                    .map_or(caps[i], |k| k + usize::from(rest[k] == ' '));
                out[i].push(
                    rest[..cut]
                        .iter()
                        .collect::<String>()
                        .trim_end()
                        .to_string(),
                );
                rest.drain(..cut);
            }
            out[i].push(rest.into_iter().collect());
        }
    }
    out
}

/// Lines of text no wider than this (a warning is a paragraph).
const WIDTH: usize = 100;

/// Writes `text` word-wrapped at [`WIDTH`], the first line after `first`, the rest after
/// `rest`.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            let _ = writeln!(out, "{line}");
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    let _ = writeln!(out, "{line}");
}

/// A row's cells, each a list of lines.
type Row = [Vec<String>; 5];

fn row(a: &Analysis, f: &Finding) -> Row {
    let uses: Vec<String> = f
        .uses
        .iter()
        .map(|u| {
            let enc = match u.encoding {
                crate::Encoding::Base64 => " (base64)",
                crate::Encoding::UrlDecoded => " (url-decoded)",
                crate::Encoding::UrlEncoded => " (url-encoded)",
                crate::Encoding::FormEncoded => " (form-encoded)",
                crate::Encoding::Plain => "",
            };
            format!("{}: {}{enc}", a.steps[u.step].name, u.place)
        })
        .collect();
    let origins: Vec<String> = f
        .origins
        .iter()
        .map(|o| format!("{}: {}", a.steps[o.step].name, o.place))
        .collect();
    [
        vec![f.variable.clone()],
        vec![f.class.to_string()],
        uses,
        if origins.is_empty() {
            vec!["-".into()]
        } else {
            origins
        },
        vec![format!("{}%", f.confidence)],
    ]
}

/// A table is at most this wide: the widest columns are narrowed until it fits, and a
/// longer line of a cell continues on the next line.
const TABLE_WIDTH: usize = 120;

fn table(out: &mut String, header: &[String; 5], rows: &[Row]) {
    let header: Row = header.clone().map(|h| vec![h]);
    let caps = caps(&header, rows);
    let rows: Vec<Row> = rows.iter().map(|r| capped(r, &caps)).collect();
    let rows = rows.as_slice();
    let mut widths = [0usize; 5];
    for r in std::iter::once(&header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            for l in cell {
                *w = (*w).max(l.chars().count());
            }
        }
    }
    for r in std::iter::once(&header).chain(rows) {
        let height = r.iter().map(Vec::len).max().unwrap_or(1);
        for n in 0..height {
            let mut line = String::new();
            for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
                let c = cell.get(n).map(String::as_str).unwrap_or("");
                line.push_str(c);
                if i + 1 < r.len() {
                    line.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}
