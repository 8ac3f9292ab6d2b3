//! JUnit XML, so CI systems show an audit natively: one test suite per analysis, one test
//! case per check, error-level findings as failures (warnings and infos are reported in the
//! test case's output and do not fail it), and checks the data could not decide as skipped,
//! with the reason and the effect the sample could have detected.
//!
//! The document is built as a [`quick_junit::Report`] and serialised by quick-junit, a
//! maintained JUnit writer (cargo-nextest's): it escapes every name, message and output, and
//! drops the characters XML 1.0 cannot carry, so labels and ids from user files cannot break
//! the file, and nothing here writes XML by hand.
//!
//! The layout is the one Jenkins (xunit's `junit-10.xsd`) and GitLab read: `<testsuites>`
//! carries only name, tests, failures and errors; each `<testsuite>` has the required
//! `errors` and its own `skipped` and `timestamp` (the report's `generated_at`, as written
//! there, so a report's files agree and the output is reproducible). quick-junit also writes a
//! `skipped` count on `<testsuites>`, which that XSD does not allow, so [`render`] takes it off
//! again. `tests/report_formats.rs` validates every JUnit file the tests write against that
//! XSD (`fixtures/schemas/junit-10.xsd`).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{ReportMeta, checks, num, severity_name};
use crate::analysis::present::Check;
use crate::analysis::{Finding, Summary};
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
    let mut report = Report::new(format!("clip-audit {}", s.audit));
    for analysis in analyses {
        let mut suite = TestSuite::new(analysis);
        suite.extra.insert("timestamp".into(), meta.generated_at.as_str().into());
        suite.add_test_cases(all.iter().filter(|c| c.analysis == analysis).map(|c| test_case(s, meta, c)));
        report.add_test_suite(suite);
    }
    let xml = report.to_string().expect("serialising XML into memory cannot fail");
    without_total_skipped(xml)
}

/// One check as a test case: skipped when inconclusive, failed by an error-level finding,
/// passed otherwise (with a lower-severity finding in its output).
fn test_case(s: &Summary, meta: &ReportMeta, c: &Check) -> TestCase {
    let classname = format!("{}.{}", s.audit, c.analysis);
    if let Some(f) = s.inconclusive.iter().find(|f| f.id == c.id) {
        let mut status = TestCaseStatus::skipped();
        status.set_message(format!("inconclusive: {}", f.decision.reason));
        let mut case = TestCase::new(c.id.as_str(), status);
        case.set_classname(classname).set_system_out(format!("{}\n{}", f.statement, f.decision.line()));
        return case;
    }
    let Some(f) = s.findings.iter().find(|f| f.id == c.id) else {
        let mut case = TestCase::new(c.id.as_str(), TestCaseStatus::success());
        case.set_classname(classname);
        return case;
    };
    let detail = detail(f, meta);
    let mut case = if f.severity == Severity::Error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(f.statement.as_str()).set_type(severity_name(f.severity)).set_description(detail);
        TestCase::new(c.id.as_str(), status)
    } else {
        let mut case = TestCase::new(c.id.as_str(), TestCaseStatus::success());
        case.set_system_out(format!("{}: {detail}", severity_name(f.severity)));
        case
    };
    case.set_classname(classname);
    case
}

/// A finding in words: its statement, the decision, and the statistic against the threshold
/// (with the spec's line that set it).
fn detail(f: &Finding, meta: &ReportMeta) -> String {
    format!(
        "{}\n{}\n{} = {}{}; threshold {} = {}{}",
        f.statement,
        f.decision.line(),
        f.statistic.name,
        num(f.statistic.value),
        f.statistic.ci.map(|c| format!(" (95% CI {} to {})", num(c[0]), num(c[1]))).unwrap_or_default(),
        f.threshold.name,
        num(f.threshold.value),
        f.threshold.position.map(|p| format!(" at {}:{}:{}", meta.spec, p.line, p.column)).unwrap_or_default()
    )
}

/// Takes the `skipped` attribute off `<testsuites>`: quick-junit always writes it, and
/// xunit's `junit-10.xsd` allows only name, time, tests, failures and errors there. The
/// per-suite counts keep the number. quick-junit escapes `"` in attribute values, so the
/// first ` skipped="` of the document is that attribute.
fn without_total_skipped(mut xml: String) -> String {
    let Some(tag) = xml.find("<testsuites") else { return xml };
    let Some(start) = xml[tag..].find(" skipped=\"").map(|i| tag + i) else { return xml };
    let tag_end = xml[tag..].find('>').map_or(xml.len(), |i| tag + i);
    if start < tag_end
        && let Some(len) = xml[start + " skipped=\"".len()..].find('"').map(|i| " skipped=\"".len() + i + 1)
    {
        xml.replace_range(start..start + len, "");
    }
    xml
}

#[cfg(test)]
mod tests {
    use super::{render, without_total_skipped};

    /// Untrusted text (a label from a user's manifest ends up in statements and ids) yields
    /// well-formed XML: markup and quotes escaped, characters XML 1.0 cannot carry dropped.
    #[test]
    fn markup_quotes_and_control_characters_give_well_formed_xml() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/format-2/report.json");
        let mut report = crate::report::read::load(&fixture).expect("the format-2 fixture reads");
        let evil = "<script>a & \"b\" 'c'\u{1}\u{1b}[31m</script>";
        report.summary.audit = format!("audit{evil}");
        let failed = report.summary.findings.iter_mut().find(|f| f.severity == crate::spec::analyses::Severity::Error);
        failed.expect("the fixture has an error finding").statement = format!("statement {evil}");
        report.summary.inconclusive[0].decision.reason = format!("reason {evil}");
        let xml = render(&report.summary, &report.meta);
        assert!(!xml.contains("<script>") && xml.contains("&lt;script&gt;a &amp; &quot;b&quot;"), "{xml}");
        assert!(!xml.chars().any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')), "a control character got through");
        let read = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed JUnit XML");
        let clean = "<script>a & \"b\" 'c'</script>";
        assert_eq!(read.name.as_deref(), Some(format!("clip-audit audit{clean}").as_str()));
        let cases = || read.test_suites.iter().flat_map(|s| &s.test_cases);
        let message = |case: &quick_junit::TestCase| match &case.status {
            quick_junit::TestCaseStatus::NonSuccess { message, .. }
            | quick_junit::TestCaseStatus::Skipped { message, .. } => message.as_deref().map(str::to_owned),
            quick_junit::TestCaseStatus::Success { .. } => None,
        };
        assert!(cases().any(|c| message(c).as_deref() == Some(format!("statement {clean}").as_str())));
        assert!(cases().any(|c| message(c).as_deref() == Some(format!("inconclusive: reason {clean}").as_str())));
        let root = &xml[xml.find("<testsuites").expect("a root")..];
        let root = &root[..root.find('>').expect("a closed root tag")];
        assert!(!root.contains(" skipped="), "junit-10.xsd allows no `skipped` on <testsuites>: {root}");
    }

    #[test]
    fn only_the_report_level_skipped_count_is_taken_off() {
        let xml = "<?xml version=\"1.0\"?>\n<testsuites name=\"a &quot;skipped=&quot;\" tests=\"2\" skipped=\"1\" failures=\"0\" errors=\"0\">\n    <testsuite name=\"x\" tests=\"2\" skipped=\"1\" errors=\"0\" failures=\"0\"/>\n</testsuites>\n";
        let out = without_total_skipped(xml.to_owned());
        assert_eq!(out, xml.replacen(" skipped=\"1\"", "", 1));
        assert!(out.contains("<testsuite name=\"x\" tests=\"2\" skipped=\"1\""));
    }
}
