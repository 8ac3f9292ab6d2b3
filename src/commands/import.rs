//! `clip-audit model import`: reads a Hugging Face model folder through
//! [`crate::model::import`], writes the manifest it makes (whole or not at all) and prints
//! what went into it, so a downloaded model is audited without writing model.yaml by hand.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Outcome;
use crate::model::import::{ImportRequest, import};
use crate::model::{Device, SessionConfig};

/// Imports `dir`, writing its manifest into `dir`, or into `out` (a folder or a .yaml file).
pub fn run(dir: &Path, out: Option<&Path>, force: bool) -> anyhow::Result<Outcome> {
    let req = ImportRequest { dir: dir.to_path_buf(), out: out.map(Path::to_path_buf), force };
    // The graphs run once each on a dummy batch of two to measure the taps: the CPU does that.
    let config = SessionConfig::default().with_device(Device::Cpu);
    let imported = import(&req, &config).with_context(|| format!("cannot import {}", dir.display()))?;
    let path: PathBuf = imported.manifest_path.clone();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::files::write_atomic(&path, imported.text.as_bytes())?;
    print!("{}", imported.summary.render_text());
    println!("{:<10} {}", "wrote", path.display());
    for w in &imported.summary.warnings {
        eprintln!("warning: {w}");
    }
    Ok(Outcome::Pass)
}
