//! `clip-audit validate`: check audit specs and everything they name.

use std::path::PathBuf;

use super::Outcome;
use crate::spec::{AuditSpec, SpecError};

/// Validates each spec; prints a summary line per valid spec and every problem of the others.
pub fn run(specs: &[PathBuf], set: &[(String, String)]) -> anyhow::Result<Outcome> {
    let mut failed = 0;
    for path in specs {
        match AuditSpec::load(path, set) {
            Ok(spec) => {
                let members: usize = spec.selections.iter().map(|s| s.members.len()).sum();
                let modalities: std::collections::BTreeSet<&str> = spec
                    .selections
                    .iter()
                    .flat_map(|s| {
                        [
                            s.prompts.as_ref().map(|_| "prompts"),
                            s.rendered_text.as_ref().map(|_| "rendered text"),
                            (!s.images.is_empty()).then_some("images"),
                            s.typographic.as_ref().map(|_| "typographic"),
                        ]
                    })
                    .flatten()
                    .collect();
                if !spec.warnings.is_empty() {
                    eprintln!("{}\n", spec.warnings);
                }
                println!(
                    "ok: {} (audit `{}`: {} selection{}, {members} members; {}; model {}){}",
                    path.display(),
                    spec.id,
                    spec.selections.len(),
                    if spec.selections.len() == 1 { "" } else { "s" },
                    modalities.into_iter().collect::<Vec<_>>().join(", "),
                    spec.bundle.display(),
                    match spec.warnings.0.len() {
                        0 => String::new(),
                        1 => "; 1 warning".to_owned(),
                        n => format!("; {n} warnings"),
                    }
                );
            }
            Err(SpecError::Invalid(d)) => {
                failed += 1;
                eprintln!("{d}\n");
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}\n");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} spec{} invalid", specs.len(), if specs.len() == 1 { " is" } else { "s are" });
    }
    Ok(Outcome::Pass)
}
