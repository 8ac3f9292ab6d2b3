//! SARIF 2.1.0, so code-scanning tools show findings where they are decided: each result is
//! located at the spec line and column that set the violated threshold (or the spec file when
//! the threshold is a default), with the finding id as its fingerprint.

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

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let results: Vec<serde_json::Value> = s
        .findings
        .iter()
        .map(|f| {
            let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": meta.spec}}});
            if let Some(p) = f.threshold.position {
                location["physicalLocation"]["region"] = json!({"startLine": p.line, "startColumn": p.column});
            }
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
                    "evidence": f.evidence,
                },
            })
        })
        .collect();
    let rules: Vec<serde_json::Value> =
        RULES.iter().map(|(id, text)| json!({"id": id, "shortDescription": {"text": text}})).collect();
    let doc = json!({
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
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
