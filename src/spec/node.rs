//! A YAML document as a tree of nodes that each know where they were written.
//!
//! Specs and probe libraries are first parsed into this generic tree (so a syntax error stops
//! parsing, with its location), then read into typed documents by [`super::read`], which can
//! report every unknown key, wrong type and missing field at once because it walks the tree
//! itself instead of stopping at serde's first error. Aliases are expanded by the parser
//! under a budget, so an alias bomb is rejected quickly.

use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, Position};

/// The largest number of nodes a spec or probe library may expand to (aliases included).
/// The biggest shipped library has about 10,000; this leaves room and stops alias bombs.
pub const MAX_NODES: usize = 200_000;

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Its position (where it is used, for aliases).
    pub position: Option<Position>,
}

impl Node {
    /// What kind of value this is, for messages ("a string", "a mapping").
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).or(Ok(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = a.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = a.next_entry::<Node, Node>()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node { value: spanned.value, position: Position::from_yaml(&spanned.referenced) })
    }
}

/// Parses YAML text read from `file` into a node tree, or the diagnostic of the first
/// syntax error (a YAML syntax error leaves nothing sound to read further).
pub fn parse(source: &str, file: &Path) -> Result<Node, Box<Diagnostic>> {
    // A repeated mapping key is kept, so that reading reports it (S004) at both places
    // instead of the parser refusing the document at the second one.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_aliases: 10_000,
            max_anchors: 10_000,
        },
    };
    serde_saphyr::from_str_with_options::<Node>(source, options).map_err(|e| {
        let mut d = crate::diagnostics::from_yaml_error(&e, file, source);
        if d.code == Code::Y004 || d.message.contains("budget") {
            d.code = Code::Y004;
            d.help = Some(format!(
                "the document expands to more than {MAX_NODES} values (an alias bomb?); write the values out or split the file"
            ));
        }
        Box::new(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_kept_for_keys_and_values() {
        let n = parse("a: 1\nb:\n  - x\n  - {k: 2.5}\n", Path::new("t.yaml")).unwrap();
        let Value::Map(m) = &n.value else { panic!("map") };
        assert_eq!(m[1].0.position, Some(Position { line: 2, column: 1 }));
        let Value::Seq(s) = &m[1].1.value else { panic!("seq") };
        assert_eq!(s[1].position, Some(Position { line: 4, column: 5 }));
    }

    #[test]
    fn alias_bomb_is_rejected_quickly() {
        let mut doc = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
        for w in names.windows(2) {
            doc.push_str(&format!("{}: &{} [{}]\n", w[1], w[1], vec![format!("*{}", w[0]); 10].join(",")));
        }
        let t = std::time::Instant::now();
        let err = parse(&doc, Path::new("bomb.yaml")).unwrap_err();
        assert_eq!(err.code, Code::Y004, "{err}");
        assert!(t.elapsed().as_secs_f64() < 5.0, "took {:?}", t.elapsed());
    }
}
