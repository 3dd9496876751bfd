//! A run's verdict as JUnit XML, the test-report format CI systems display (GitLab's test
//! reports, GitHub's test summary actions, Jenkins): one test case per threshold, failed
//! when the threshold failed (with what was observed), and one for the run itself when it
//! failed whatever its thresholds (a token step that never succeeded). A failed case carries
//! the run's first failing exchange as its `<system-out>`, so the CI page says why.

use std::fmt::Write as _;

use crate::diagnostics;
use crate::escape::esc;
use crate::result::RunResult;
use crate::table::observed;

/// The JUnit XML document for `r`.
pub fn junit(r: &RunResult) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for t in &r.thresholds {
        let name = if t.default {
            format!("{} (default)", t.threshold)
        } else {
            t.threshold.clone()
        };
        let _ = write!(
            cases,
            "    <testcase classname=\"loadtape.thresholds\" name=\"{}\" time=\"0\">",
            xml(&name)
        );
        if !t.passed {
            failures += 1;
            let _ = write!(
                cases,
                "\n      <failure type=\"threshold\" message=\"{}\"/>\n    ",
                xml(&observed(t))
            );
            if let Some(d) = diagnostics::first(&r.diagnostics) {
                let _ = write!(
                    cases,
                    "  <system-out>{}</system-out>\n    ",
                    xml(&diagnostics::shown(d))
                );
            }
        }
        cases.push_str("</testcase>\n");
    }
    let mut tests = r.thresholds.len();
    if let Some(f) = &r.failure {
        tests += 1;
        failures += 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"loadtape.run\" name=\"the run\" time=\"{:.3}\">\n      \
             <failure type=\"run\" message=\"{}\"/>\n    </testcase>",
            r.duration_s,
            xml(f)
        );
    }
    let suite = xml(&r.scenario);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"loadtape\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">\n  \
         <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         time=\"{:.3}\" timestamp=\"{}\">\n{cases}  </testsuite>\n</testsuites>\n",
        r.duration_s,
        r.duration_s,
        xml(&r.started)
    )
}

/// Escaped for XML, with the control characters XML 1.0 cannot hold replaced.
fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '?'
            } else {
                c
            }
        })
        .collect();
    esc(&clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::result;

    #[test]
    fn thresholds_are_test_cases_and_failures_say_what_was_observed() {
        let mut r = result("2026-11-21T10:00:00Z", &[1000, 2000]);
        r.thresholds[0].passed = false;
        r.failure = Some("token step `login` never <succeeded>".into());
        let x = junit(&r);
        assert!(x.contains("tests=\"2\" failures=\"2\""), "{x}");
        assert!(x.contains("name=\"p99 &lt; 5ms\""), "{x}");
        assert!(x.contains("message=\"observed 0ms\""), "{x}");
        assert!(x.contains("never &lt;succeeded&gt;"), "{x}");
    }
}
