//! A [`Snapshot`] in the Prometheus text exposition format 0.0.4, or in OpenMetrics 1.0 when
//! the scraper asks for it (Prometheus itself does): the same families and samples, differing
//! only where the formats do (an OpenMetrics counter's family name has no `_total`, and the
//! text ends with `# EOF`).
//!
//! Families (all prefixed `loadtape_`; counters end in `_total`; times in seconds):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `requests_total` | counter | `step` |
//! | `errors_total` | counter | `step`, `kind` (every kind, zeros included) |
//! | `request_duration_seconds` | histogram | `step` |
//! | `sent_bytes_total`, `received_bytes_total` | counter | `step` or `token` |
//! | `token_requests_total`, `token_refreshes_total` | counter | `token` |
//! | `token_errors_total` | counter | `token`, `kind` |
//! | `iterations_total`, `dropped_iterations_total` | counter | |
//! | `vus`, `vus_max`, `run_elapsed_seconds`, `run_finished` | gauge | |
//!
//! The histogram's buckets and `_sum` come from the run's HdrHistograms (3 significant
//! digits): a bucket may hold a value up to 0.1 % above its `le`, and `_sum` is the sum of
//! the recorded buckets' midpoints. `_count` is exact: every request with a latency.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use loadtape_engine::{LiveRow, Snapshot};

/// The `le` bounds of the latency histogram, in seconds: 1 ms to a minute, for HTTP APIs.
pub(crate) const BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Which text format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (without `q=0`), else the text format.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        let wants = accept.unwrap_or_default().split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            media.eq_ignore_ascii_case("application/openmetrics-text") && q > 0.0
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Writes families one at a time: metadata, then samples.
struct Out {
    text: String,
    format: Format,
}

impl Out {
    /// Starts a family `name` (a counter's with its `_total`) of `kind`, with its help.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.text, "# HELP {family} {help}");
        let _ = writeln!(self.text, "# TYPE {family} {kind}");
    }

    /// One sample: `name{labels} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A counter family with one sample per row, labelled `label`.
    fn per_row(&mut self, name: &str, help: &str, label: &str, rows: &[(&str, u64)]) {
        self.family(name, "counter", help);
        for (row, n) in rows {
            self.sample(name, &[(label, row)], n);
        }
    }

    /// A counter family of each row's errors, one sample per row and error kind.
    fn errors_by_kind(&mut self, name: &str, help: &str, label: &str, rows: &[LiveRow]) {
        self.family(name, "counter", help);
        for r in rows {
            for (kind, n) in r.errors.kinds() {
                self.sample(name, &[(label, &r.name), ("kind", kind)], n);
            }
        }
    }
}

/// A label value escaped as both formats want it: backslash, double quote, newline.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as both formats accept it (always with a decimal point or an exponent).
fn float(v: f64) -> String {
    format!("{v:?}")
}

/// The whole exposition of `s`.
pub(crate) fn render(s: &Snapshot, format: Format) -> String {
    let mut o = Out {
        text: String::new(),
        format,
    };
    steps(&mut o, s);
    tokens(&mut o, s);
    run(&mut o, s);
    if format == Format::OpenMetrics {
        o.text.push_str("# EOF\n");
    }
    o.text
}

fn names(rows: &[LiveRow], f: impl Fn(&LiveRow) -> u64) -> Vec<(&str, u64)> {
    rows.iter().map(|r| (r.name.as_str(), f(r))).collect()
}

fn steps(o: &mut Out, s: &Snapshot) {
    o.per_row(
        "loadtape_requests_total",
        "Step requests sent, failed or not (token steps' are loadtape_token_requests_total).",
        "step",
        &names(&s.steps, |r| r.requests),
    );
    o.errors_by_kind(
        "loadtape_errors_total",
        "Failed step requests by error kind (failures that sent no request included).",
        "step",
        &s.steps,
    );
    let name = "loadtape_request_duration_seconds";
    o.family(
        name,
        "histogram",
        "Step latency, from the send (or a rate executor's scheduled start) to the whole answer.",
    );
    for r in &s.steps {
        histogram(o, name, &r.name, &r.latency);
    }
    for (name, help, f) in [
        (
            "loadtape_sent_bytes_total",
            "Bytes sent (estimated as HTTP/1.1), by step and token step.",
            (|r: &LiveRow| r.bytes_sent) as fn(&LiveRow) -> u64,
        ),
        (
            "loadtape_received_bytes_total",
            "Bytes received (estimated as HTTP/1.1), by step and token step.",
            |r: &LiveRow| r.bytes_received,
        ),
    ] {
        o.family(name, "counter", help);
        for r in &s.steps {
            o.sample(name, &[("step", &r.name)], f(r));
        }
        for r in &s.tokens {
            o.sample(name, &[("token", &r.name)], f(r));
        }
    }
}

/// One step's histogram samples: cumulative buckets, `+Inf`, `_sum`, `_count`.
fn histogram(o: &mut Out, name: &str, step: &str, h: &Histogram<u64>) {
    let mut counts = [0u64; BUCKETS.len()];
    for v in h.iter_recorded() {
        let seconds = v.value_iterated_to() as f64 / 1e6;
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            counts[i] += v.count_at_value();
        }
    }
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    for (le, n) in BUCKETS.iter().zip(counts) {
        cumulative += n;
        o.sample(&bucket, &[("step", step), ("le", &float(*le))], cumulative);
    }
    o.sample(&bucket, &[("step", step), ("le", "+Inf")], h.len());
    let sum = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    };
    o.sample(&format!("{name}_sum"), &[("step", step)], float(sum));
    o.sample(&format!("{name}_count"), &[("step", step)], h.len());
}

fn tokens(o: &mut Out, s: &Snapshot) {
    o.per_row(
        "loadtape_token_requests_total",
        "Token steps' requests: logins and refreshes, failed or not.",
        "token",
        &names(&s.tokens, |r| r.requests),
    );
    o.per_row(
        "loadtape_token_refreshes_total",
        "Token fetches that replaced a value already held (a VU's, or the run's when shared).",
        "token",
        &names(&s.tokens, |r| r.refreshes),
    );
    o.errors_by_kind(
        "loadtape_token_errors_total",
        "Failed token requests by error kind.",
        "token",
        &s.tokens,
    );
}

fn run(o: &mut Out, s: &Snapshot) {
    let counters = [
        (
            "loadtape_iterations_total",
            "Iterations that got through their steps.",
            s.iterations,
        ),
        (
            "loadtape_dropped_iterations_total",
            "Rate-executor iterations dropped because no VU was free in time.",
            s.dropped,
        ),
    ];
    for (name, help, n) in counters {
        o.family(name, "counter", help);
        o.sample(name, &[], n);
    }
    let gauges = [
        (
            "loadtape_vus",
            "VUs in an iteration at the latest report.",
            s.active_vus as f64,
        ),
        (
            "loadtape_vus_max",
            "The most VUs the executor may use.",
            f64::from(s.max_vus),
        ),
        (
            "loadtape_run_elapsed_seconds",
            "Time since the run started.",
            s.elapsed.as_secs_f64(),
        ),
        (
            "loadtape_run_finished",
            "1 once the run is over: every number is final, as in the run's result.",
            if s.finished { 1.0 } else { 0.0 },
        ),
    ];
    for (name, help, v) in gauges {
        o.family(name, "gauge", help);
        o.sample(name, &[], float(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_is_chosen_only_when_asked_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0")),
            Format::Text
        );
    }

    fn snapshot() -> Snapshot {
        let mut latency = loadtape_report::histogram::histogram();
        for us in [800, 3_000, 3_000, 70_000, 90_000_000] {
            latency.record(us).unwrap();
        }
        let row = |name: &str, latency: Histogram<u64>| LiveRow {
            name: name.into(),
            requests: latency.len() + 1,
            errors: Default::default(),
            latency,
            bytes_sent: 10,
            bytes_received: 20,
            refreshes: 2,
        };
        let empty = loadtape_report::histogram::histogram();
        Snapshot {
            scenario: "s".into(),
            elapsed: std::time::Duration::from_millis(1500),
            planned: std::time::Duration::from_secs(10),
            finished: false,
            active_vus: 3,
            max_vus: 5,
            iterations: 4,
            dropped: 0,
            tokens: vec![row("login", empty.clone())],
            steps: vec![row("say \"hi\"\n", latency)],
            recent: loadtape_engine::live::Recent {
                seconds: 1.0,
                requests: 0,
                errors: 0,
                latency: empty,
            },
        }
    }

    #[test]
    fn buckets_are_cumulative_and_end_on_the_count() {
        let text = render(&snapshot(), Format::Text);
        let step = "step=\"say \\\"hi\\\"\\n\"";
        let bucket = |le: &str| {
            let series = format!("loadtape_request_duration_seconds_bucket{{{step},le=\"{le}\"}} ");
            let line = text.lines().find(|l| l.starts_with(&series));
            line.unwrap_or_else(|| panic!("no {series} in\n{text}"))[series.len()..].to_string()
        };
        assert_eq!(bucket("0.001"), "1");
        assert_eq!(bucket("0.005"), "3");
        assert_eq!(bucket("0.1"), "4");
        assert_eq!(bucket("60.0"), "4");
        assert_eq!(bucket("+Inf"), "5");
        assert!(text.contains(&format!(
            "loadtape_request_duration_seconds_count{{{step}}} 5\n"
        )));
        assert!(text.contains(&format!("loadtape_requests_total{{{step}}} 6\n")));
        assert!(text.contains("loadtape_token_refreshes_total{token=\"login\"} 2\n"));
        assert!(text.contains("# TYPE loadtape_requests_total counter\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let text = render(&snapshot(), Format::OpenMetrics);
        assert!(text.contains("# TYPE loadtape_requests counter\n"));
        assert!(text.contains("# TYPE loadtape_vus gauge\n"));
        assert!(text.contains("loadtape_iterations_total 4\n"));
        assert!(
            text.ends_with("loadtape_run_finished 0.0\n# EOF\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped_and_floats_keep_a_point() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(0.0025), "0.0025");
    }
}
