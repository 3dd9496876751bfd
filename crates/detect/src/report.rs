//! The table `loadtape tokens` prints.

use std::fmt::Write as _;

use crate::finding::{Analysis, Finding};

/// One row per finding (variable, class, where used, origin, confidence), applied findings
/// first, then suggestions, then the warnings and what was dropped.
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
        "CONFIDENCE".into(),
    ];
    let applied: Vec<[String; 5]> = a.applied().map(|f| row(a, f)).collect();
    let suggested: Vec<[String; 5]> = a.suggestions().map(|f| row(a, f)).collect();
    if applied.is_empty() {
        out.push_str("\nno tokens found\n");
    } else {
        out.push('\n');
        table(&mut out, &header, &applied);
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
    if !a.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &a.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}

fn row(a: &Analysis, f: &Finding) -> [String; 5] {
    let uses: Vec<String> = f
        .uses
        .iter()
        .map(|u| {
            let enc = match u.encoding {
                crate::Encoding::Base64 => " (base64)",
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
        f.variable.clone(),
        f.class.to_string(),
        uses.join("; "),
        if origins.is_empty() {
            "-".into()
        } else {
            origins.join("; ")
        },
        format!("{}%", f.confidence),
    ]
}

fn table(out: &mut String, header: &[String; 5], rows: &[[String; 5]]) {
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
