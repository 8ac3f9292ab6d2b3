//! Data flows one way through the layers (ARCHITECTURE.md): spec → stimuli → model → run →
//! analysis → audit → report → commands. This test reads the sources and fails when code in a
//! layer names a layer it must not know, so an arrow that runs back breaks the build's tests,
//! not a later refactoring. Comments are not code: doc links may point anywhere.
//!
//! Known back-arrows, left for the structure issue (16): `model` borrows the content hash from
//! `run::provenance` and the seeded generator from `analysis::stats`; `spec` names `cli` and
//! `report` (schema output) and `stimuli` (manifest reading); `analysis` and `report` borrow
//! hashing, the clock and atomic files from `run`.

use std::path::Path;

use crate::common::root;

/// Every `crate::...` path named in code (not comments) under `dir`, with file and line.
fn crate_paths(dir: &Path) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let mut rest = code;
                while let Some(at) = rest.find("crate::") {
                    let tail = &rest[at..];
                    let end = tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
                    out.push((path.display().to_string(), i + 1, tail[..end].to_owned()));
                    rest = &tail[end..];
                }
            }
        }
    }
    out
}

/// The paths a layer's code must not name.
const RULES: [(&str, &[&str]); 6] = [
    (
        "stimuli",
        &[
            "crate::run",
            "crate::analysis",
            "crate::audit",
            "crate::report",
            "crate::tui",
            "crate::commands",
            "crate::cli",
        ],
    ),
    ("run", &["crate::analysis", "crate::audit", "crate::report", "crate::tui", "crate::commands", "crate::cli"]),
    // Analyses compute from run data; running models again is the audit layer's.
    (
        "analysis",
        &[
            "crate::run::run",
            "crate::run::RunOptions",
            "crate::audit",
            "crate::report",
            "crate::tui",
            "crate::commands",
            "crate::cli",
        ],
    ),
    ("audit", &["crate::report", "crate::tui", "crate::commands", "crate::cli"]),
    (
        "report",
        &["crate::run::run", "crate::run::RunOptions", "crate::audit", "crate::tui", "crate::commands", "crate::cli"],
    ),
    (
        "model",
        &[
            "crate::spec",
            "crate::stimuli",
            "crate::audit",
            "crate::report",
            "crate::tui",
            "crate::commands",
            "crate::cli",
        ],
    ),
];

#[test]
fn layers_name_only_the_layers_below_them() {
    let mut wrong = Vec::new();
    for (layer, forbidden) in RULES {
        for (file, line, path) in crate_paths(&root().join("src").join(layer)) {
            // `use crate::run::{RunOptions, run}` names both through the braces.
            let source = std::fs::read_to_string(&file).unwrap();
            let text = source.lines().nth(line - 1).unwrap_or_default();
            let named = |f: &str| {
                if path == f || path.starts_with(&format!("{f}::")) {
                    return true;
                }
                let Some((module, item)) = f.rsplit_once("::") else { return false };
                let open = format!("{module}::{{");
                path == format!("{module}::")
                    && text.find(&open).is_some_and(|at| {
                        let inner = &text[at + open.len()..];
                        let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                        inner.split(',').any(|name| name.trim() == item)
                    })
            };
            if let Some(f) = forbidden.iter().find(|f| named(f)) {
                wrong.push(format!("{file}:{line}: `{layer}` names {f}"));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows that run back:\n{}", wrong.join("\n"));
}

#[test]
fn the_layer_check_sees_a_back_arrow() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rs"),
        "// crate::report in a comment is fine\nuse crate::run::{RunOptions, run};\n",
    )
    .unwrap();
    let paths: Vec<String> = crate_paths(dir.path()).into_iter().map(|p| p.2).collect();
    assert_eq!(paths, ["crate::run::"]);
}
