//! Audit specs and probe libraries: the YAML files that say what to audit.
//!
//! Both file kinds go through the same stages: YAML text → a tree of nodes with positions
//! ([`node`]) → typed documents read with every problem collected ([`read`]) → validated,
//! checked types ([`probe::ProbeLibrary`], [`audit::AuditSpec`]) whose references (libraries,
//! families, members, variables, files, taps) have been resolved. Every problem is a
//! [`Diagnostic`](crate::diagnostics::Diagnostic) with file:line:column, a code and a snippet.
//! The formats are documented in docs/spec.md; JSON Schemas generated from the document types
//! are committed under `docs/schema/`.

pub mod analyses;
pub mod audit;
pub mod images;
pub mod manifest;
pub mod node;
pub mod probe;
pub mod read;
pub mod vars;

use std::path::PathBuf;

use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostics, closest};
use read::{Ctx, Sp};

pub use audit::AuditSpec;
pub use probe::ProbeLibrary;

/// Problems loading a spec or a library.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read and has problems; all of them are listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl SpecError {
    /// The diagnostics, when the file was readable.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            SpecError::Invalid(d) => Some(d),
            SpecError::Read { .. } => None,
        }
    }
}

/// Checks that an id is lowercase letters, digits and dashes, starting with a letter or digit.
pub(crate) fn check_id(cx: &mut Ctx<'_>, id: &Sp<String>, what: &str) {
    let ok = !id.is_empty()
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-');
    if !ok {
        cx.error_help(
            Code::S006,
            format!("{what} id {:?} is not valid", **id),
            id.position,
            "ids use lowercase letters, digits and dashes, e.g. `east-asian`",
        );
    }
}

/// A "did you mean" hint for `value` among `known`.
pub(crate) fn suggest_among(value: &str, known: &[&str]) -> String {
    let shown = if known.len() > 12 {
        format!("{} (and {} more)", known[..12].join(", "), known.len() - 12)
    } else {
        known.join(", ")
    };
    match closest(value, known.iter().copied(), 1).first() {
        Some(best) => format!("did you mean `{best}`? known: {shown}"),
        None if known.is_empty() => "none are defined".to_owned(),
        None => format!("known: {shown}"),
    }
}

/// The JSON Schema of an audit spec, pretty-printed (`docs/schema/audit.schema.json`).
pub fn audit_schema_json() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(audit::AuditDoc)).expect("a schema serialises")
}

/// The JSON Schema of a probe library, pretty-printed (`docs/schema/probe-library.schema.json`).
pub fn probe_library_schema_json() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(probe::ProbeLibraryDoc)).expect("a schema serialises")
}

/// Joins `rel` to `base` and removes `.` and `name/..` pairs without touching the file
/// system, so messages show `fixtures/x` rather than `audits/../fixtures/x`.
pub fn join_clean(base: &std::path::Path, rel: &str) -> PathBuf {
    use std::path::Component;
    let joined = base.join(rel);
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() { PathBuf::from(".") } else { out.iter().collect() }
}
