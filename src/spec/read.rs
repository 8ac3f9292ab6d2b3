//! Reading a node tree into typed documents while collecting every problem.
//!
//! [`FromNode`] converts one node, recording a diagnostic and returning `None` when it cannot;
//! [`MapReader`] reads a mapping key by key and, when finished, reports the keys nobody asked
//! for, with the nearest valid key as a hint. Because nothing stops at the first problem, a
//! user sees every mistake in a file in one run.

use std::collections::BTreeMap;
use std::path::Path;

use super::node::{Node, Value};
use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, Diagnostics, Position, closest};

/// A value and the position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written, when known.
    pub position: Option<Position>,
}

impl<T> Sp<T> {
    /// Wraps a value with a position.
    pub fn new(value: T, position: Option<Position>) -> Self {
        Self { value, position }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Sp<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// Where problems go while one file is read.
pub struct Ctx<'a> {
    /// The file being read.
    pub file: &'a Path,
    /// Its text, for snippets.
    pub source: &'a str,
    /// Problems found so far.
    pub problems: Diagnostics,
    /// Warnings found so far: they do not make the file invalid.
    pub warnings: Diagnostics,
}

impl<'a> Ctx<'a> {
    /// A context for `file` with text `source`.
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Self { file, source, problems: Diagnostics::default(), warnings: Diagnostics::default() }
    }

    /// Records a problem at `position`.
    pub fn error(&mut self, code: Code, message: impl Into<String>, position: Option<Position>) {
        self.problems.push(Diagnostic::new(code, message, self.file, Some(self.source), position));
    }

    /// Records a problem with a hint.
    pub fn error_help(
        &mut self,
        code: Code,
        message: impl Into<String>,
        position: Option<Position>,
        help: impl Into<String>,
    ) {
        self.problems.push(Diagnostic::new(code, message, self.file, Some(self.source), position).with_help(help));
    }

    /// Records a warning with a hint.
    pub fn warn_help(
        &mut self,
        code: Code,
        message: impl Into<String>,
        position: Option<Position>,
        help: impl Into<String>,
    ) {
        let mut d = Diagnostic::new(code, message, self.file, Some(self.source), position).with_help(help);
        d.warning = true;
        self.warnings.push(d);
    }

    /// Records a name given twice: at `position`, pointing also at where it was first given.
    pub fn duplicate(
        &mut self,
        code: Code,
        message: impl Into<String>,
        position: Option<Position>,
        first: Option<Position>,
    ) {
        let mut d = Diagnostic::new(code, message, self.file, Some(self.source), position);
        if code == Code::S004 {
            // A YAML reader that is not strict keeps one of the two silently; say which to keep.
            d = d.with_help("keep one of them: the file means something different to every reader that picks one");
        }
        self.problems.push(d.with_related("first defined here", Some(self.source), first));
    }

    fn wrong_type(&mut self, node: &Node, expected: &str) {
        self.error(Code::S002, format!("expected {expected}, found {}", node.kind()), node.position);
    }
}

/// A type that can be read from a node.
pub trait FromNode: Sized {
    /// What the type looks like, for messages ("a string").
    const EXPECTED: &'static str;
    /// Reads the node, or records why not and returns `None`.
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self>;
}

impl FromNode for String {
    const EXPECTED: &'static str = "a string";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            // Scalars written without quotes (`2026`, `3.5`) are accepted as their text.
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            _ => {
                cx.wrong_type(node, Self::EXPECTED);
                None
            }
        }
    }
}

impl FromNode for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                cx.wrong_type(node, Self::EXPECTED);
                None
            }
        }
    }
}

impl FromNode for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        match node.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => {
                cx.wrong_type(node, Self::EXPECTED);
                None
            }
        }
    }
}

macro_rules! from_node_int {
    ($($t:ty),*) => {$(
        impl FromNode for $t {
            const EXPECTED: &'static str = "a non-negative integer";
            fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
                match node.value {
                    Value::Int(i) => match <$t>::try_from(i) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            cx.error(Code::S003, format!("{i} is out of range (0 to {})", <$t>::MAX), node.position);
                            None
                        }
                    },
                    _ => {
                        cx.wrong_type(node, Self::EXPECTED);
                        None
                    }
                }
            }
        }
    )*};
}
from_node_int!(u8, u32, u64, usize);

impl<T: FromNode> FromNode for Sp<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        T::from_node(node, cx).map(|v| Sp::new(v, node.position))
    }
}

impl<T: FromNode> FromNode for Vec<T> {
    const EXPECTED: &'static str = "a list";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        match &node.value {
            // Items that fail are left out (their problems are recorded), so that the
            // others are still read and checked.
            Value::Seq(items) => Some(items.iter().filter_map(|n| T::from_node(n, cx)).collect()),
            Value::Null => Some(Vec::new()),
            _ => {
                cx.wrong_type(node, Self::EXPECTED);
                None
            }
        }
    }
}

impl<T: FromNode> FromNode for BTreeMap<String, T> {
    const EXPECTED: &'static str = "a mapping";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => {
                let mut out = BTreeMap::new();
                // Where each key was first written, to point at it from a second one.
                let mut first = BTreeMap::new();
                let mut ok = true;
                for (k, v) in entries {
                    let key = String::from_node(k, cx);
                    let value = T::from_node(v, cx);
                    match (key, value) {
                        (Some(k2), Some(v2)) => {
                            let first_at = *first.entry(k2.clone()).or_insert(k.position);
                            if out.insert(k2.clone(), v2).is_some() {
                                cx.duplicate(Code::S004, format!("key `{k2}` appears twice"), k.position, first_at);
                                ok = false;
                            }
                        }
                        _ => ok = false,
                    }
                }
                ok.then_some(out)
            }
            Value::Null => Some(BTreeMap::new()),
            _ => {
                cx.wrong_type(node, Self::EXPECTED);
                None
            }
        }
    }
}

impl FromNode for serde_json::Value {
    const EXPECTED: &'static str = "a value";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        Some(match &node.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Value::Str(s) => s.clone().into(),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(|n| Self::from_node(n, cx)).collect::<Option<_>>()?)
            }
            Value::Map(_) => serde_json::Value::Object(
                BTreeMap::<String, serde_json::Value>::from_node(node, cx)?.into_iter().collect(),
            ),
        })
    }
}

/// Reads a mapping key by key; [`MapReader::finish`] reports the keys nobody read.
pub struct MapReader<'n> {
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    position: Option<Position>,
    what: &'static str,
    known: Vec<&'static str>,
}

impl<'n> MapReader<'n> {
    /// Starts reading `node` as the mapping called `what` in messages (e.g. "a family").
    /// A null node reads as an empty mapping.
    pub fn new(node: &'n Node, cx: &mut Ctx<'_>, what: &'static str) -> Option<Self> {
        let entries: &'n [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                cx.error(Code::S002, format!("expected {what} (a mapping), found {}", node.kind()), node.position);
                return None;
            }
        };
        // Where each key was first written, to point at it from a second one. A repeated key
        // counts as read: it is reported here, not again as unknown by `finish`.
        let mut first: BTreeMap<&str, Option<Position>> = BTreeMap::new();
        let mut used = vec![false; entries.len()];
        for ((k, _), used) in entries.iter().zip(&mut used) {
            if let Value::Str(s) = &k.value {
                match first.get(s.as_str()) {
                    Some(&first_at) => {
                        cx.duplicate(Code::S004, format!("key `{s}` appears twice in {what}"), k.position, first_at);
                        *used = true;
                    }
                    None => {
                        first.insert(s.as_str(), k.position);
                    }
                }
            }
        }
        Some(Self { entries, used, position: node.position, what, known: Vec::new() })
    }

    fn find(&mut self, key: &'static str) -> Option<&'n Node> {
        self.known.push(key);
        let i = self.entries.iter().position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// Where this mapping starts.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// True when the mapping has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
    }

    /// A key that must be present.
    pub fn req<T: FromNode>(&mut self, cx: &mut Ctx<'_>, key: &'static str) -> Option<T> {
        match self.find(key) {
            Some(node) => T::from_node(node, cx),
            None => {
                cx.error_help(
                    Code::S005,
                    format!("{} is missing the required key `{key}`", self.what),
                    self.position,
                    format!("add `{key}:` ({})", T::EXPECTED),
                );
                None
            }
        }
    }

    /// A key that may be absent. Absent, null and invalid all read as `None`; an invalid
    /// value's problem is recorded, so the file still fails, but reading goes on and the
    /// rest of the file is checked too.
    pub fn opt<T: FromNode>(&mut self, cx: &mut Ctx<'_>, key: &'static str) -> Option<T> {
        match self.find(key) {
            None => None,
            Some(node) if node.value == Value::Null => None,
            Some(node) => T::from_node(node, cx),
        }
    }

    /// The raw node of a key, for values read in a special way.
    pub fn node(&mut self, key: &'static str) -> Option<&'n Node> {
        self.find(key)
    }

    /// Reports every key that was not read, suggesting the nearest known key.
    pub fn finish(self, cx: &mut Ctx<'_>) {
        for ((k, _), used) in self.entries.iter().zip(&self.used) {
            if *used {
                continue;
            }
            let name = match &k.value {
                Value::Str(s) => s.clone(),
                _ => format!("{:?}", k.value),
            };
            let hint = match closest(&name, self.known.iter().copied(), 1).first() {
                Some(best) => format!("did you mean `{best}`? valid keys here: {}", self.known.join(", ")),
                None => format!("valid keys here: {}", self.known.join(", ")),
            };
            cx.error_help(Code::S001, format!("unknown key `{name}` in {}", self.what), k.position, hint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text as a node tree with every repeated key kept, as the spec parser keeps them
    /// (reading reports them).
    fn parse_keeping_duplicates(text: &str) -> Node {
        let options = serde_saphyr::options! { duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough };
        serde_saphyr::from_str_with_options(text, options).expect("valid YAML")
    }

    #[test]
    fn a_key_given_twice_points_at_where_it_was_first_given() {
        let text = "a: 1\nb: {x: 1, x: 2}\na: 3\n";
        let node = parse_keeping_duplicates(text);
        let mut cx = Ctx::new(Path::new("t.yaml"), text);
        let mut map = MapReader::new(&node, &mut cx, "a test").expect("a mapping");
        let _: Option<u32> = map.opt(&mut cx, "a");
        let b: Option<BTreeMap<String, u32>> = map.opt(&mut cx, "b");
        map.finish(&mut cx);
        assert!(b.is_none(), "a map with a repeated key does not read");
        let found: Vec<_> = cx
            .problems
            .0
            .iter()
            .map(|d| {
                let related: Vec<_> =
                    d.related.iter().map(|r| (r.position.line, r.position.column, &*r.label)).collect();
                (d.code, d.position.map(|p| (p.line, p.column)), related)
            })
            .collect();
        assert_eq!(
            found,
            [
                (Code::S004, Some((3, 1)), vec![(1, 1, "first defined here")]),
                (Code::S004, Some((2, 11)), vec![(2, 5, "first defined here")]),
            ]
        );
        let shown = cx.problems.to_string();
        assert!(
            shown.contains("3 | a: 3\n  | ^\n") && shown.contains("1 | a: 1\n  | - first defined here\n"),
            "{shown}"
        );
    }
}
