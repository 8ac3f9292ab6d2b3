//! `clip-audit probes list`: what the probe libraries hold.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Outcome;
use crate::spec::ProbeLibrary;

/// The shipped probe libraries: `probes/*.yaml` under the working directory, else under the
/// folder clip-audit was built from.
fn default_libraries() -> anyhow::Result<Vec<PathBuf>> {
    let candidates = [PathBuf::from("probes"), Path::new(env!("CARGO_MANIFEST_DIR")).join("probes")];
    let dir = candidates.iter().find(|d| d.is_dir()).context("no probes/ folder here; give a library file")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Lists libraries, their families, or one family's members.
pub fn list(library: Option<&Path>, family: Option<&str>, json: bool) -> anyhow::Result<Outcome> {
    let files = match library {
        Some(p) => vec![p.to_path_buf()],
        None => default_libraries()?,
    };
    let mut libs = Vec::new();
    for f in &files {
        libs.push(
            ProbeLibrary::load(f)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("cannot load {}", f.display()))?,
        );
    }
    if let Some(fid) = family {
        let Some((lib, fam)) = libs.iter().find_map(|l| l.family(fid).map(|f| (l, f))) else {
            let known: Vec<String> = libs.iter().flat_map(|l| l.families.iter().map(|f| f.id.clone())).collect();
            anyhow::bail!(
                "no family `{fid}` in {}; families: {}",
                files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                known.join(", ")
            );
        };
        if json {
            println!("{}", serde_json::to_string_pretty(fam)?);
            return Ok(Outcome::Pass);
        }
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} / {}: {} members{}",
            lib.id,
            fam.id,
            fam.members.len(),
            fam.description.as_ref().map_or(String::new(), |d| format!(" — {d}"))
        );
        if !fam.hierarchy.is_empty() {
            let _ = writeln!(s, "hierarchy: {}", fam.hierarchy.join(" > "));
        }
        let _ = writeln!(s, "templates: {}", fam.templates.join(" | "));
        for m in &fam.members {
            let groups: Vec<&str> = fam.hierarchy.iter().filter_map(|h| m.groups.get(h).map(String::as_str)).collect();
            let aliases =
                if m.aliases.is_empty() { String::new() } else { format!("  (also: {})", m.aliases.join(", ")) };
            let _ = writeln!(s, "  {:<18} {:<32} {}{aliases}", m.id, m.name, groups.join(" > "));
        }
        print!("{s}");
        return Ok(Outcome::Pass);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&libs)?);
        return Ok(Outcome::Pass);
    }
    let mut s = String::new();
    for lib in &libs {
        let _ = writeln!(s, "{} ({})", lib.id, lib.path.display());
        if let Some(d) = &lib.description {
            // The first sentence; `--json` has the rest.
            let text = d.split_whitespace().collect::<Vec<_>>().join(" ");
            let first = text.split_inclusive(". ").next().unwrap_or(&text).trim_end();
            let _ = writeln!(s, "  {first}");
        }
        for f in &lib.families {
            let levels = if f.hierarchy.is_empty() { String::new() } else { format!(" [{}]", f.hierarchy.join(" > ")) };
            let _ = writeln!(s, "  {:<20} {:>4} members{levels}", f.id, f.members.len());
        }
        let _ =
            writeln!(s, "  sources: {}", lib.sources.iter().map(|x| x.title.as_str()).collect::<Vec<_>>().join("; "));
    }
    let _ = write!(s, "\nshow a family's members: clip-audit probes list [LIBRARY] --family ID");
    println!("{s}");
    Ok(Outcome::Pass)
}
