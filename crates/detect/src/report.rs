//! The table `loadtape tokens` prints.

use std::fmt::Write as _;

use crate::finding::{Analysis, Finding};

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
        "CONFIDENCE".into(),
    ];
    let applied: Vec<Row> = a.applied().map(|f| row(a, f)).collect();
    let suggested: Vec<Row> = a.suggestions().map(|f| row(a, f)).collect();
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
            wrap(&mut out, w, "  - ", "    ");
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

fn table(out: &mut String, header: &[String; 5], rows: &[Row]) {
    let header: Row = header.clone().map(|h| vec![h]);
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
