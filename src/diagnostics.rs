//! Diagnostics that point at a place in a source file.
//!
//! Every problem a user can fix in a file they wrote (a model manifest, an audit spec, a probe
//! library) is reported as a [`Diagnostic`]: a short stable code, a message, the
//! file:line:column where it happened, the offending source line with a caret under the
//! column, other places in the same file it concerns (the first definition of a name given
//! twice), and an optional hint. Collecting them in a [`Diagnostics`] list lets validation
//! report every problem at once instead of stopping at the first.
//!
//! The text is laid out by `annotate-snippets`, the renderer rustc and cargo use, so snippets,
//! line-number gutters, tabs, wide characters and a second place in the file come out the way
//! Rust users know, without layout code here. It renders plain text (no colour): diagnostics
//! are printed to stderr, logs and CI output alike, and tests compare the text.

use std::fmt;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Element, Level, Origin, Renderer, Snippet};

/// A 1-based line and column in a source file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number, counted in characters.
    pub column: u32,
}

impl Position {
    /// Builds a position from serde-saphyr's location, if it is known.
    pub fn from_yaml(loc: &serde_saphyr::Location) -> Option<Self> {
        let (line, column) = (loc.line() as u32, loc.column() as u32);
        (line > 0).then_some(Self { line, column: column.max(1) })
    }
}

/// Every diagnostic code, with what it means: one list, so a code cannot be used twice with
/// two meanings or go undocumented (the `diagnostic_codes` test checks that docs/spec.md has a
/// row for each with this text, and that no source file writes a code as a string).
macro_rules! codes {
    ($($code:ident => $what:literal,)*) => {
        /// A diagnostic code ([`Code::ALL`] lists them with [`Code::description`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = $what]
                $code,
            )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code),*];

            /// The code as printed (`A002`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// What the code means (the row of docs/spec.md).
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$code => $what,)*
                }
            }
        }
    };
}

codes! {
    Y001 => "YAML syntax error, or a value of the wrong kind",
    Y002 => "unknown key in a model manifest (the nearest valid key is suggested)",
    Y003 => "missing required key in a model manifest",
    Y004 => "the document expands to too many values (an alias bomb)",
    S001 => "unknown key (the nearest valid key is suggested)",
    S002 => "value of the wrong type",
    S003 => "number out of range",
    S004 => "duplicate key",
    S005 => "missing required key",
    S006 => "invalid id",
    V001 => "unclosed `${` in a value",
    V002 => "variable with no value (give it with `--set name=value`)",
    V003 => "unknown variable",
    V004 => "`--set` of a variable the spec does not declare",
    P001 => "source id defined twice in a probe library",
    P002 => "family cites a source the library does not define",
    P003 => "family without members",
    P004 => "family without prompt templates",
    P005 => "member with an empty name",
    P006 => "member without a group for one of its family's hierarchy levels",
    P007 => "prompt template without `{name}`",
    A001 => "unknown severity (info, warning or error)",
    A002 => "analysis setting out of range (a fraction, a non-negative number, a template list)",
    A003 => "unknown name of a setting (a colour, a case, a position, an output format, a `fail_on` level)",
    A004 => "two probe selections with the same name",
    A005 => "the audit uses no probes",
    A006 => "an analysis names a selection the audit does not define",
    A007 => "a `level` that is not a hierarchy level of the family",
    A008 => "a tap the model bundle does not define",
    A009 => "the model bundle's manifest cannot be read",
    A010 => "a probe library cannot be read",
    A011 => "a probe library has no such family",
    A012 => "a family has no such member",
    A013 => "a member listed twice",
    A014 => "a family has no such hierarchy level",
    A015 => "no member of the family is in the given group",
    A016 => "a selection that keeps no members",
    A017 => "typographic stimuli without base images",
    I001 => "an image source needs exactly one of `folder` or `manifest`",
    I002 => "an image-source option that does not apply to its kind of source",
    I003 => "an image source that belongs to no member",
    I004 => "an image folder that does not exist",
    I005 => "a manifest without a named column",
    I006 => "a manifest that cannot be read",
    I007 => "`member_key` is neither `id`, `name` nor a meta key of any member",
    I008 => "warning: manifest values of `member_column` that name no member (value, rows, first line, nearest member value); every run skips those rows with that reason",
    I009 => "warning: manifest records that cannot be read (wrong number of fields, invalid UTF-8, a JSONL line that is not an object); every run skips those records",
    I010 => "a folder source's `glob` is not a valid pattern (an unclosed `[` or `{`)",
    M003 => "a model file (encoder, external data, tokenizer) that does not exist",
    M004 => "a model manifest value out of range or empty",
    M005 => "a tap defined twice",
    M006 => "a tap's pooling that does not apply to its layout",
    M007 => "an unsupported preprocessing rule, tokenizer kind or zero-shot head",
    M008 => "a tap's tensor that is not in the encoder's graph",
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another place in the same file that a [`Diagnostic`] points at, with what it is there
/// ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where in the file.
    pub position: Position,
    /// The source line at `position`, for the snippet.
    pub source_line: Option<String>,
    /// What is at that place.
    pub label: String,
}

/// One problem in one file, with enough context to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Short stable code, e.g. `M004`, so that docs and searches can refer to it.
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// The source line at `position`, for the snippet.
    pub source_line: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// Other places in the same file the problem concerns, e.g. where a name given twice was
    /// first defined; shown after the main place.
    pub related: Vec<Related>,
    /// A warning: the file is usable, but something in it is probably not what was meant
    /// (a manifest value that names no member, whose rows will be skipped).
    pub warning: bool,
}

impl Diagnostic {
    /// A diagnostic at `position` in `file`, whose text is `source` (used for the snippet).
    pub fn new(
        code: Code,
        message: impl Into<String>,
        file: &Path,
        source: Option<&str>,
        position: Option<Position>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            file: file.to_path_buf(),
            position,
            source_line: position.and_then(|pos| line_of(source, pos)),
            help: None,
            related: Vec::new(),
            warning: false,
        }
    }

    /// Adds a hint saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Also points at `position` in the same file, whose text is `source`, saying `label`
    /// there ("first defined here"). Without a position there is nothing to point at, and the
    /// diagnostic is returned as it is.
    pub fn with_related(mut self, label: impl Into<String>, source: Option<&str>, position: Option<Position>) -> Self {
        if let Some(position) = position {
            self.related.push(Related { position, source_line: line_of(source, position), label: label.into() });
        }
        self
    }

    /// The report annotate-snippets renders: the title, the main place (a snippet with a caret,
    /// or only file:line:column when the source is not at hand), the related places (a
    /// labelled mark in the main snippet when on its line, else a snippet of their own), and
    /// the hint.
    fn elements<'a>(&'a self, path: &'a str) -> Vec<Element<'a>> {
        let mut elements: Vec<Element<'a>> = Vec::new();
        let mut shown = vec![false; self.related.len()];
        match (self.position, &self.source_line) {
            (Some(pos), Some(line)) => {
                let mut snippet = Snippet::source(line.as_str())
                    .line_start(pos.line as usize)
                    .path(path)
                    .annotation(AnnotationKind::Primary.span(caret(line, pos.column)));
                for (r, shown) in self.related.iter().zip(&mut shown) {
                    if r.position.line == pos.line {
                        snippet = snippet.annotation(
                            AnnotationKind::Context.span(caret(line, r.position.column)).label(r.label.as_str()),
                        );
                        *shown = true;
                    }
                }
                elements.push(snippet.into());
            }
            (Some(pos), None) => {
                elements.push(Origin::path(path).line(pos.line as usize).char_column(pos.column as usize).into())
            }
            (None, _) => elements.push(Origin::path(path).into()),
        }
        for (r, _) in self.related.iter().zip(shown).filter(|(_, shown)| !shown) {
            let at = r.position;
            elements.push(match &r.source_line {
                Some(line) => Snippet::source(line.as_str())
                    .line_start(at.line as usize)
                    .path(path)
                    .annotation(AnnotationKind::Context.span(caret(line, at.column)).label(r.label.as_str()))
                    .into(),
                None => Level::NOTE.message(format!("{}: {path}:{}:{}", r.label, at.line, at.column)).into(),
            });
        }
        if let Some(help) = &self.help {
            elements.push(Level::HELP.message(help.as_str()).into());
        }
        elements
    }
}

/// Line `pos.line` of `source`, when there is a source and it has that line.
fn line_of(source: Option<&str>, pos: Position) -> Option<String> {
    source?.lines().nth(pos.line.saturating_sub(1) as usize).map(str::to_owned)
}

/// The byte range of the character at 1-based `column` of `line` (empty past its end), where
/// the caret goes.
fn caret(line: &str, column: u32) -> std::ops::Range<usize> {
    let mut chars = line.char_indices().skip(column.saturating_sub(1) as usize);
    match chars.next() {
        Some((start, c)) => start..start + c.len_utf8(),
        None => line.len()..line.len(),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.warning { Level::WARNING } else { Level::ERROR };
        let path = self.file.display().to_string();
        let report = [level.primary_title(self.message.as_str()).id(self.code.as_str()).elements(self.elements(&path))];
        writeln!(f, "{}", Renderer::plain().render(&report))
    }
}

/// Every problem found in one pass, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Records one more problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Orders the problems by file and position, so they read top to bottom.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        let noun = if self.0.iter().all(|d| d.warning) { "warning" } else { "problem" };
        write!(f, "{n} {noun}{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The names in `candidates` closest to `name`, best first, for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| {
            let score = strsim::normalized_levenshtein(name, c).max(if c.contains(name) || name.contains(c) {
                0.5
            } else {
                0.0
            });
            (score, c)
        })
        .filter(|(score, _)| *score > 0.3)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

/// Turns a YAML parse or type error into a diagnostic at the place serde-saphyr reports.
///
/// Unknown keys get the nearest valid key as a hint, since a typo is the usual cause.
pub fn from_yaml_error(err: &serde_saphyr::Error, file: &Path, source: &str) -> Diagnostic {
    let options = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
    let message = err.without_snippet().render_with_options(options);
    let message = strip_location_suffix(message.trim());
    let position = err.location().as_ref().and_then(Position::from_yaml);
    let (code, help) = if let Some((unknown, expected)) = parse_unknown_field(&message) {
        let hint = match closest(&unknown, expected.iter().map(String::as_str), 1).first() {
            Some(best) => format!("did you mean `{best}`? valid keys here: {}", expected.join(", ")),
            None => format!("valid keys here: {}", expected.join(", ")),
        };
        (Code::Y002, Some(hint))
    } else if message.contains("missing field") {
        (Code::Y003, None)
    } else if message.to_ascii_lowercase().contains("alias") || message.to_ascii_lowercase().contains("budget") {
        (Code::Y004, Some("YAML aliases expand to too much data; write the values out".to_owned()))
    } else {
        (Code::Y001, None)
    };
    let d = Diagnostic::new(code, message, file, Some(source), position);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

/// Removes a trailing "at line X column Y" that some messages carry, since the
/// diagnostic shows the location itself.
fn strip_location_suffix(message: &str) -> String {
    let re = regex::Regex::new(r"(?i)[,\s]*at line \d+,? column \d+\.?$").expect("static regex");
    re.replace(message, "").into_owned()
}

/// Recognises serde's "unknown field `x`, expected one of a, b" message (with or without
/// backticks around the expected names).
fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.split("unknown field `").nth(1)?;
    let (unknown, tail) = rest.split_once('`')?;
    let list = tail.split_once("expected one of ").or_else(|| tail.split_once("expected ")).map_or("", |(_, l)| l);
    let expected = list
        .split(", ")
        .map(|s| s.trim().trim_matches('`').to_owned())
        .filter(|s| !s.is_empty() && !s.contains(' '))
        .collect::<Vec<_>>();
    Some((unknown.to_owned(), expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second place on the main place's line is marked in the same snippet; one whose line
    /// is not at hand is a note with its file:line:column.
    #[test]
    fn a_related_place_on_the_same_line_shares_the_snippet_and_one_without_source_is_a_note() {
        let src = "k: {x: 1, x: 2}\n";
        let at = |line, column| Some(Position { line, column });
        let d = Diagnostic::new(Code::S004, "key `x` appears twice", Path::new("t.yaml"), Some(src), at(1, 11))
            .with_related("first defined here", Some(src), at(1, 5));
        assert_eq!(
            d.to_string(),
            "error[S004]: key `x` appears twice\n --> t.yaml:1:11\n  |\n1 | k: {x: 1, x: 2}\n  |     -     ^\n  |     |\n  |     first defined here\n"
        );
        let d = Diagnostic::new(Code::P001, "family id `f` is defined twice", Path::new("t.yaml"), None, at(9, 3))
            .with_related("first defined here", None, at(2, 3))
            .with_help("rename one");
        assert_eq!(
            d.to_string(),
            "error[P001]: family id `f` is defined twice\n--> t.yaml:9:3\n = note: first defined here: t.yaml:2:3\n = help: rename one\n"
        );
    }
}
