//! Data flows one way through the layers (ARCHITECTURE.md, "Layers"): the shared plumbing
//! (files, hashing, rng, clock, imaging, json, diagnostics) → model → spec → stimuli → run →
//! analysis → audit → report → tui → cli → commands. This test reads the sources and fails
//! when code in a layer names a layer after it (or one [`ALSO_FORBIDDEN`] keeps from it), and
//! when a module of the crate has no layer, so an arrow that runs back breaks the tests, not a
//! later refactoring. It reads code as the compiler would name things: comments and string
//! literals are not code; `use` trees are expanded (groups, nesting, `self`, renames, several
//! lines); a module brought in by `use` is followed where the code names items through it
//! (`use crate::run; run::RunOptions`).

use std::collections::BTreeSet;

use crate::common::root;

/// `text` with comments, string and char literals blanked out (newlines kept, so lines stay).
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    if depth == 0 {
                        out.push_str("  ");
                        i += 2;
                        break;
                    }
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '"'
            || (c[i] == 'r' && (next == Some('"') || next == Some('#')) && !is_ident(c.get(i.wrapping_sub(1))))
        {
            // A string, or a raw string r"..." / r#"..."#.
            let raw = c[i] == 'r';
            let mut hashes = 0;
            if raw {
                blank(&mut out, c[i]);
                i += 1;
                while c.get(i) == Some(&'#') {
                    hashes += 1;
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() {
                if !raw && c[i] == '\\' {
                    blank(&mut out, c[i]);
                    if let Some(&e) = c.get(i + 1) {
                        blank(&mut out, e);
                    }
                    i += 2;
                    continue;
                }
                if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '\'' && (c.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A char literal ('x', '\n', '\u{1F600}'); a lifetime ('a) has no closing quote.
            let end = (i + 1..c.len()).find(|&j| c[j] == '\'' && (c[j - 1] != '\\' || j == i + 2)).unwrap_or(i);
            for &ch in &c[i..=end] {
                blank(&mut out, ch);
            }
            i = end + 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// The top-level items of a `{ ... }` group's inside, split at commas.
fn split_group(inner: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&inner[start..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Every path a use tree names, with the name it is bound to (`self` binds the prefix's last
/// segment; `as` renames).
fn expand(prefix: &str, tree: &str, out: &mut Vec<(String, String)>) {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.replace(" ::", "::").replace(":: ", "::");
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::");
        let close = tree.rfind('}').unwrap_or(tree.len());
        let base = join(prefix, head);
        for item in split_group(&tree[open + 1..close]) {
            expand(&base, item, out);
        }
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p.trim(), Some(a.trim())),
        None => (tree.trim(), None),
    };
    if path == "*" {
        return;
    }
    let full = if path == "self" { prefix.to_owned() } else { join(prefix, path) };
    let name = alias.map(str::to_owned).unwrap_or_else(|| full.rsplit("::").next().unwrap_or_default().to_owned());
    out.push((full, name));
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}::{path}"),
    }
}

/// Every `crate::` path the code of one file names: in `use` trees, written out in full, and
/// through a module a `use` brought in.
fn crate_paths_of(text: &str) -> BTreeSet<String> {
    let code = code_only(text);
    let mut named = BTreeSet::new();
    let mut bindings: Vec<(String, String)> = Vec::new();
    let mut rest = code.as_str();
    let mut outside = String::new();
    while let Some(at) = rest.find("use ") {
        let starts_word = !is_ident(rest[..at].chars().last().as_ref());
        outside.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if starts_word {
            expand("", &after[..end], &mut bindings);
            rest = &after[(end + 1).min(after.len())..];
        } else {
            outside.push_str("use ");
            rest = after;
        }
    }
    outside.push_str(rest);
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut paths_in = |text: &str, prefix: &str, expands_to: &str| {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let at = from + i;
            let before = text[..at].chars().last();
            let end = text[at..].find(|c: char| !is_path_char(c)).map_or(text.len(), |e| at + e);
            if !before.is_some_and(is_path_char) {
                named
                    .insert(format!("{expands_to}{}", &text[at + prefix.len()..end]).trim_end_matches("::").to_owned());
            }
            from = end.max(at + 1);
        }
    };
    for (path, name) in &bindings {
        if path.starts_with("crate::") {
            paths_in(&format!("{path} "), path, path);
            // A module brought in by name: items named through it.
            paths_in(&outside, &format!("{name}::"), &format!("{path}::"));
        }
    }
    paths_in(&outside, "crate::", "crate::");
    named
}

/// Every `crate::` path named in the code of module `name` (`src/name.rs`, or every `.rs` file
/// under `src/name/`), with its file.
fn crate_paths(name: &str) -> Vec<(String, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    if src.join(format!("{name}.rs")).is_file() {
        files.push(src.join(format!("{name}.rs")));
    }
    let mut stack = vec![src.join(name)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(crate_paths_of(&text).into_iter().map(|p| (path.display().to_string(), p)));
    }
    out
}

/// The layers, lowest first: a module may name the modules of its own layer and of the layers
/// before it, never one after it. The plumbing every layer shares has homes named by what it
/// does (atomic files, content hashing, the seeded generator, the clock, image decoding and
/// resizing, diagnostics). The model layer knows only the ONNX graph and its bundle; the spec
/// checks its taps against the bundle's manifest; the stimuli expand the spec; the runner
/// feeds stimuli through the model into a store; analyses compute from stored data; the audit
/// re-runs edited models and compares; reports and the TUI render; the CLI's argument types
/// and the commands wire it all together.
const LAYERS: [&[&str]; 11] = [
    &["files", "hashing", "rng", "clock", "imaging", "json", "diagnostics", "vectors"],
    &["model"],
    &["spec"],
    &["stimuli"],
    &["run"],
    &["analysis"],
    &["audit"],
    &["report"],
    &["tui"],
    &["cli"],
    &["commands"],
];

/// What a module must not name although its layer comes after: analyses compute from stored
/// data and never run or load a model; renderers know no runtime (they read the report and,
/// for thumbnails, the stored stimulus contents).
const ALSO_FORBIDDEN: [(&str, &[&str]); 3] = [
    ("analysis", &["crate::model", "crate::run::run", "crate::run::RunOptions"]),
    ("report", &["crate::model", "crate::run", "crate::audit"]),
    ("tui", &["crate::model", "crate::run::run", "crate::run::RunOptions", "crate::audit"]),
];

/// Every path a module must not name.
fn forbidden_for(module: &str) -> Vec<String> {
    let at = LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("`{module}` has no layer"));
    let mut out: Vec<String> = LAYERS[at + 1..].iter().flat_map(|l| l.iter().map(|m| format!("crate::{m}"))).collect();
    out.extend(ALSO_FORBIDDEN.iter().filter(|r| r.0 == module).flat_map(|r| r.1.iter().map(|p| (*p).to_owned())));
    out
}

fn forbidden_in(path: &str, forbidden: &[String]) -> Option<String> {
    forbidden.iter().find(|f| path == f.as_str() || path.starts_with(&format!("{f}::"))).cloned()
}

#[test]
fn layers_name_only_the_layers_below_them() {
    let mut wrong = Vec::new();
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        let forbidden = forbidden_for(module);
        let named = crate_paths(module);
        // Every module but the lowest names something of the crate: an empty list means the
        // check read nothing.
        assert!(!named.is_empty() || LAYERS[0].contains(module), "read no code of `{module}`");
        for (file, path) in named {
            if let Some(f) = forbidden_in(&path, &forbidden) {
                wrong.push(format!("{file}: `{module}` names {path} ({f})"));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows that run back:\n{}", wrong.join("\n"));
}

/// A new module must be given its place: every module of the crate is in [`LAYERS`].
#[test]
fn every_module_has_a_layer() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("mod "))?.strip_suffix(';'))
        .collect();
    assert!(modules.len() >= 15, "{modules:?}");
    for m in modules {
        assert!(
            LAYERS.iter().any(|l| l.contains(&m)),
            "src/lib.rs declares `{m}`, which tests/layers.rs gives no layer"
        );
    }
}

/// Renderers draw data: no dataframe library in the reports or the TUI.
#[test]
fn renderers_read_no_dataframes() {
    for module in ["report", "tui"] {
        let mut stack = vec![root().join("src").join(module)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let code = code_only(&std::fs::read_to_string(&path).unwrap());
                    assert!(!code.contains("polars"), "{} names polars", path.display());
                }
            }
        }
    }
}

#[test]
fn the_layer_check_sees_every_way_of_naming_a_back_arrow() {
    let analysis = forbidden_for("analysis");
    let caught = |code: &str| crate_paths_of(code).iter().any(|p| forbidden_in(p, &analysis).is_some());
    for code in [
        "use crate::run::{self, RunOptions};",
        "fn f() { crate::run::run(a, b); }",
        "use crate::audit;",
        "use crate::run;\nfn f() { run::run(a, b); }",
        "use crate::run::{self};\nfn f() -> run::RunOptions { todo!() }",
        "use crate::run::{\n    RunOptions,\n    run,\n};",
        "use crate::{audit::null, run::RunOptions};",
        "use crate::run::{store::{a, b}, RunOptions};",
        "use crate::run::{run as go};",
        "fn f() { let u = \"file://x\"; crate::audit::x(); }",
    ] {
        assert!(caught(code), "missed: {code}");
    }
    for code in [
        "// crate::report in a comment\nuse crate::run::store::{read_table, Table};",
        "/* crate::audit */ fn f() { let s = \"see crate::audit\"; let c = '\"'; }",
        "use crate::run::{TableMatrices, table_matrices};",
        "fn f<'a>(x: &'a str) -> &'a str { x } // crate::tui",
    ] {
        assert!(!caught(code), "false positive: {code}: {:?}", crate_paths_of(code));
    }
}
