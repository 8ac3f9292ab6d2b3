//! JUnit XML, so CI systems show an audit natively: one test suite per analysis, one test
//! case per check, error-level findings as failures (warnings and infos are reported in the
//! test case's output and do not fail it), and checks the data could not decide as skipped,
//! with the reason and the effect the sample could have detected.
//!
//! The layout is the one Jenkins (xunit's `junit-10.xsd`) and GitLab read: `<testsuites>`
//! carries only name, tests, failures and errors; each `<testsuite>` has the required
//! `errors` and its own `skipped` and `timestamp`. `tests/report_formats.rs` validates every
//! JUnit file the tests write against that XSD (`fixtures/schemas/junit-10.xsd`).

use std::fmt::Write as _;

use super::{ReportMeta, checks, escape_xml as x, num, severity_name};
use crate::analysis::Summary;
use crate::spec::analyses::Severity;

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let all = checks(s);
    let mut analyses: Vec<&'static str> = Vec::new();
    for c in &all {
        if !analyses.contains(&c.analysis) {
            analyses.push(c.analysis);
        }
    }
    let failures = |analysis: Option<&str>| {
        s.findings.iter().filter(|f| f.severity == Severity::Error && analysis.is_none_or(|a| f.analysis == a)).count()
    };
    let skipped = |analysis: Option<&str>| {
        all.iter()
            .filter(|c| analysis.is_none_or(|a| c.analysis == a))
            .filter(|c| s.inconclusive.iter().any(|f| f.id == c.id))
            .count()
    };
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"clip-audit {}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
        x(&s.audit),
        all.len(),
        failures(None),
    );
    for a in analyses {
        let cases: Vec<_> = all.iter().filter(|c| c.analysis == a).collect();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" timestamp=\"{}\">",
            x(a),
            cases.len(),
            failures(Some(a)),
            skipped(Some(a)),
            x(&meta.generated_at)
        );
        for c in cases {
            let _ = write!(o, "    <testcase classname=\"{}.{}\" name=\"{}\"", x(&s.audit), x(a), x(&c.id));
            if let Some(f) = s.inconclusive.iter().find(|f| f.id == c.id) {
                let _ = writeln!(
                    o,
                    ">\n      <skipped message=\"inconclusive: {}\"/>\n      <system-out>{}\n{}</system-out>\n    </testcase>",
                    x(&f.decision.reason),
                    x(&f.statement),
                    x(&f.decision.line())
                );
                continue;
            }
            match s.findings.iter().find(|f| f.id == c.id) {
                None => o.push_str("/>\n"),
                Some(f) => {
                    o.push_str(">\n");
                    let detail = format!(
                        "{}\n{}\n{} = {}{}; threshold {} = {}{}",
                        f.statement,
                        f.decision.line(),
                        f.statistic.name,
                        num(f.statistic.value),
                        f.statistic.ci.map(|c| format!(" (95% CI {} to {})", num(c[0]), num(c[1]))).unwrap_or_default(),
                        f.threshold.name,
                        num(f.threshold.value),
                        f.threshold
                            .position
                            .map(|p| format!(" at {}:{}:{}", meta.spec, p.line, p.column))
                            .unwrap_or_default()
                    );
                    if f.severity == Severity::Error {
                        let _ = writeln!(
                            o,
                            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                            severity_name(f.severity),
                            x(&f.statement),
                            x(&detail)
                        );
                    } else {
                        let _ =
                            writeln!(o, "      <system-out>{}: {}</system-out>", severity_name(f.severity), x(&detail));
                    }
                    o.push_str("    </testcase>\n");
                }
            }
        }
        o.push_str("  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}
