//! `clip-audit stimuli list` and `stimuli preview`.

use std::path::Path;

use anyhow::Context;

use super::Outcome;
use crate::spec::{AuditSpec, SpecError};
use crate::stimuli::{StimulusSet, expand, preview};

fn load(spec: &Path, set: &[(String, String)]) -> anyhow::Result<(AuditSpec, StimulusSet)> {
    let audit = match AuditSpec::load(spec, set) {
        Ok(a) => a,
        Err(SpecError::Invalid(d)) => {
            eprintln!("{d}\n");
            anyhow::bail!("{} is invalid", spec.display());
        }
        Err(e) => return Err(e.into()),
    };
    let size = crate::model::ModelManifest::load(&audit.bundle).map(|m| m.preprocess.size).unwrap_or(224);
    let stimuli = expand(&audit, size);
    if !audit.warnings.is_empty() {
        eprintln!("{}\n", audit.warnings);
    }
    Ok((audit, stimuli))
}

/// Prints counts per selection and modality (or every stimulus as JSON lines).
pub fn list(spec: &Path, json: bool, set: &[(String, String)]) -> anyhow::Result<Outcome> {
    let (audit, stimuli) = load(spec, set)?;
    if json {
        for s in &stimuli.stimuli {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(Outcome::Pass);
    }
    println!("audit `{}`: {} stimuli, {} skipped", audit.id, stimuli.stimuli.len(), stimuli.skipped.len());
    for ((sel, modality), n) in stimuli.counts() {
        println!("  {sel:<24} {:<14} {n:>7}", modality.name());
    }
    for account in &stimuli.sources {
        println!("  [{}] {}", account.selection, account.line());
    }
    for s in stimuli.skipped.iter().take(20) {
        println!("  skipped [{}] {}: {}", s.selection, s.source, s.reason);
    }
    if stimuli.skipped.len() > 20 {
        println!("  … and {} more skipped", stimuli.skipped.len() - 20);
    }
    println!("stimulus list hash {}", stimuli.list_hash());
    Ok(Outcome::Pass)
}

/// Writes a contact sheet PNG (whole or not at all: temp file, then rename).
pub fn preview(spec: &Path, out: &Path, per_family: usize, set: &[(String, String)]) -> anyhow::Result<Outcome> {
    let (_, stimuli) = load(spec, set)?;
    let rows = preview::sample(&stimuli, per_family.max(1));
    let sheet = preview::contact_sheet(&rows);
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".preview-")
        .suffix(".png")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    sheet
        .save_with_format(tmp.path(), image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(out).with_context(|| format!("cannot write {}", out.display()))?;
    let shown: usize = rows.iter().map(Vec::len).sum();
    println!(
        "wrote {} ({shown} stimuli from {} selections; {} stimuli in all)",
        out.display(),
        rows.len(),
        stimuli.stimuli.len()
    );
    Ok(Outcome::Pass)
}
