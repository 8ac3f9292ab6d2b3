//! The CI recipe in README works when pasted: the GitHub Actions workflow passes actionlint
//! (with shellcheck on its scripts) and the workflow schema, the GitLab job passes the GitLab
//! CI schema, the Dockerfile passes hadolint and copies only what exists, README shows
//! exactly the linted files, and the `clip-audit` command lines in them parse. Issue 15,
//! case 6. The linters come from `.venv-test` (`make test-tools`).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;

use crate::common::{root, texts};

/// A linter from `.venv-test/bin`, or None (SKIPPED) unless `make test` requires it.
fn tool(name: &str) -> Option<PathBuf> {
    let path = root().join(".venv-test/bin").join(name);
    if path.is_file() && root().join(".venv-test/.installed").is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CLIP_AUDIT_REQUIRE_TEST_VENV").is_none(),
        "{} is missing: run `make test-tools`",
        path.display()
    );
    eprintln!("SKIPPED: {name} is missing (make test-tools)");
    None
}

fn lint(program: &Path, args: &[&str], dir: &Path) {
    let venv_bin = root().join(".venv-test/bin");
    let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(program).args(args).current_dir(dir).env("PATH", path).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{} {args:?}:\n{stdout}\n{stderr}", program.display());
}

#[test]
fn readme_shows_exactly_the_linted_ci_files() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for file in ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(readme.contains(&format!("```yaml\n{text}```")), "README must show {file} as it is");
    }
}

#[test]
fn the_github_workflow_passes_actionlint_and_its_schema() {
    let (Some(actionlint), Some(schema)) = (tool("actionlint"), tool("check-jsonschema")) else { return };
    assert!(tool("shellcheck").is_some());
    // actionlint reads workflows from a repository's .github/workflows.
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join(".git")).unwrap();
    let workflows = repo.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::copy(root().join("docs/ci/github-actions.yml"), workflows.join("clip-audit.yml")).unwrap();
    lint(&actionlint, &["-no-color"], repo.path());
    let file = root().join("docs/ci/github-actions.yml");
    lint(&schema, &["--builtin-schema", "vendor.github-workflows", file.to_str().unwrap()], &root());
}

#[test]
fn the_gitlab_job_passes_the_gitlab_ci_schema() {
    let Some(schema) = tool("check-jsonschema") else { return };
    let file = root().join("docs/ci/gitlab-ci.yml");
    lint(&schema, &["--builtin-schema", "vendor.gitlab-ci", file.to_str().unwrap()], &root());
}

#[test]
fn the_dockerfile_passes_hadolint_and_copies_what_exists() {
    let dockerfile = root().join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(root().join(src).exists(), "{line}: {src} does not exist");
        }
    }
    if let Some(hadolint) = tool("hadolint") {
        lint(&hadolint, &[dockerfile.to_str().unwrap()], &root());
    }
}

/// The `clip-audit ...` command lines of a recipe (continuation lines joined), as arguments.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(at) = line.find("clip-audit ").filter(|&i| i == 0 || line[..i].ends_with("- ")) else { continue };
        let mut command = line[at..].to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push(' ');
            command.push_str(lines.next().unwrap_or_default());
        }
        out.push(command.split_whitespace().map(str::to_owned).collect());
    }
    out
}

#[test]
fn the_example_ci_spec_validates_with_the_recipes_variables() {
    let r = root();
    let out = crate::common::clip_audit(&[
        "validate",
        "docs/ci/clip-audit.yaml",
        "--set",
        &format!("probes={}/probes", r.display()),
        "--set",
        &format!("model={}/fixtures/models/tiny-clip", r.display()),
        "--set",
        &format!("fairface={}/fixtures/fairface-standin", r.display()),
    ]);
    assert!(out.status.success(), "{}", texts(&out).1);
    // Both recipes pass those three variables.
    for file in ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(r.join(file)).unwrap();
        for var in ["probes=", "model=", "fairface=", "audits/clip-audit.yaml"] {
            assert!(text.contains(var), "{file} lacks {var}");
        }
    }
}

#[test]
fn the_clip_audit_command_lines_of_the_recipes_parse() {
    let mut seen = 0;
    for file in ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for args in command_lines(&text) {
            seen += 1;
            if let Err(e) = clip_audit::cli::Cli::try_parse_from(&args) {
                panic!("{file}: `{}` does not parse: {e}", args.join(" "));
            }
        }
    }
    assert_eq!(seen, 2, "one `clip-audit run` per recipe");
}
