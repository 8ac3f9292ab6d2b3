//! SARIF 2.1.0, so code-scanning tools show findings where they are decided: each result is
//! located at the spec line and column that set the violated threshold (or the spec's first
//! line when the threshold is a default), with the finding id as its fingerprint.
//!
//! Consumers are strict about locations: GitHub code scanning rejects an upload whose
//! `artifactLocation.uri` is not an RFC 3986 URI reference (a path with a space) or is an
//! absolute filesystem path. So the spec's location is a percent-encoded reference relative
//! to the repository root when the spec is inside a git work tree (`my%20audits/x.yaml`, what
//! GitHub resolves against the checkout), and otherwise the file name relative to the
//! `SPECDIR` base, whose absolute `file:` URI is given in `originalUriBaseIds` (SARIF 2.1.0
//! §3.4.4, §3.14.14). `tests/report_formats.rs` validates every SARIF file the tests write
//! against the OASIS schema and GitHub's upload rules.

use std::path::{Component, Path};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::{ReportMeta, num};
use crate::analysis::Summary;
use crate::spec::analyses::Severity;

const RULES: [(&str, &str); 5] = [
    ("resolution", "Units resolve the members of some groups far less than others"),
    ("associations", "Images of a group sit closer to a sensitive attribute than to the controls"),
    ("denigration", "Images of a group get harmful zero-shot labels too often"),
    ("typographic", "Written words change what the model sees"),
    ("multimodality", "Units read written words without seeing the concept"),
];

/// Bytes kept as they are in a path segment: RFC 3986 unreserved characters; everything else
/// (spaces, `%`, `#`, `?`, non-ASCII as UTF-8) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A file's place as SARIF wants it (`artifactLocation`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactLocation {
    /// A relative URI reference, percent-encoded, `/`-separated.
    pub uri: String,
    /// The base it is relative to, when it is not the repository root: `(id, absolute file URI)`.
    pub base: Option<(String, String)>,
}

/// Where `path` (a spec file) is, for SARIF: relative to the root of the git work tree that
/// holds it, or else to its own folder, given as the `SPECDIR` base.
pub fn artifact_location(path: &Path) -> ArtifactLocation {
    let encode = |rel: &Path| -> String {
        rel.components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(utf8_percent_encode(&s.to_string_lossy(), SEGMENT).to_string()),
                Component::ParentDir => Some("..".to_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let Ok(absolute) = std::fs::canonicalize(path) else {
        return ArtifactLocation { uri: encode(path), base: None };
    };
    let repo = absolute.ancestors().skip(1).find(|d| d.join(".git").exists());
    if let Some(root) = repo
        && let Ok(rel) = absolute.strip_prefix(root)
    {
        return ArtifactLocation { uri: encode(rel), base: None };
    }
    let dir = absolute.parent().unwrap_or(Path::new("/"));
    let file = absolute.file_name().map(Path::new).unwrap_or(Path::new(""));
    match url::Url::from_directory_path(dir) {
        Ok(base) => ArtifactLocation { uri: encode(file), base: Some(("SPECDIR".to_owned(), base.to_string())) },
        Err(()) => ArtifactLocation { uri: encode(file), base: None },
    }
}

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let results: Vec<serde_json::Value> = s
        .findings
        .iter()
        .map(|f| {
            let spec = &meta.spec_location;
            let mut artifact = json!({"uri": spec.uri});
            if let Some((id, _)) = &spec.base {
                artifact["uriBaseId"] = json!(id);
            }
            // A default threshold has no line of its own: the result goes to the spec's first
            // line, since GitHub needs a region to place it.
            let (line, column) = f.threshold.position.map_or((1, 1), |p| (p.line, p.column));
            let location = json!({"physicalLocation": {
                "artifactLocation": artifact,
                "region": {"startLine": line, "startColumn": column},
            }});
            json!({
                "ruleId": f.analysis,
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning", Severity::Info => "note" },
                "message": {"text": f.statement},
                "locations": [location],
                "partialFingerprints": {"clipAuditFindingId/v1": f.id},
                "properties": {
                    "statistic": f.statistic.name,
                    "value": num(f.statistic.value),
                    "ci": f.statistic.ci.map(|c| [num(c[0]), num(c[1])]),
                    "threshold": {"name": f.threshold.name, "value": f.threshold.value},
                    "structural": f.structural,
                    "decision": f.decision.line(),
                    "n": f.decision.n,
                    "family": {"name": f.decision.family.name, "size": f.decision.family.size, "corrected_p": f.decision.p_adjusted},
                    "evidence": f.evidence,
                },
            })
        })
        .collect();
    let rules: Vec<serde_json::Value> =
        RULES.iter().map(|(id, text)| json!({"id": id, "shortDescription": {"text": text}})).collect();
    let mut doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "clip-audit",
                "version": crate::VERSION,
                "rules": rules,
            }},
            "automationDetails": {"id": format!("clip-audit/{}/{}", s.audit, meta.generated_at)},
            "results": results,
        }],
    });
    if let Some((id, uri)) = &meta.spec_location.base {
        doc["runs"][0]["originalUriBaseIds"] = json!({id: {"uri": uri}});
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
