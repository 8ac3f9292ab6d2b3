//! Variables in audit specs: `vars:` declares them with defaults, `--set name=value` overrides
//! them, and `${name}` in any string of the spec is replaced, so one spec serves many machines
//! (`--set fairface=/data/fairface`).

use std::collections::BTreeMap;

use super::node::{Node, Value};
use super::read::Ctx;
use crate::diagnostics::Code;
use crate::diagnostics::Position;

/// A parsed `--set name=value`.
pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("variable name {k:?} must be letters, digits, `_` or `-`"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Variable values in effect: declared defaults overridden by `--set`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    /// Name → value; `None` when declared without a default and not set.
    pub values: BTreeMap<String, Option<String>>,
    /// Where each was declared.
    pub declared_at: BTreeMap<String, Option<Position>>,
}

impl Vars {
    /// Replaces `${name}` in every string of `node` (in place), recording unknown and unset
    /// variables at the string that uses them.
    pub fn substitute(&self, node: &mut Node, cx: &mut Ctx<'_>) {
        match &mut node.value {
            Value::Str(s) if s.contains("${") => {
                if let Some(out) = self.expand(s, node.position, cx) {
                    *s = out;
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|n| self.substitute(n, cx)),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| self.substitute(v, cx)),
            _ => {}
        }
    }

    fn expand(&self, s: &str, position: Option<Position>, cx: &mut Ctx<'_>) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        let mut ok = true;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                cx.error(Code::V001, format!("unclosed `${{` in {s:?}"), position);
                return None;
            };
            let name = &after[..end];
            match self.values.get(name) {
                Some(Some(v)) => out.push_str(v),
                Some(None) => {
                    cx.error_help(
                        Code::V002,
                        format!("variable `{name}` has no value"),
                        position,
                        format!("pass --set {name}=VALUE (it is declared without a default)"),
                    );
                    ok = false;
                }
                None => {
                    let known: Vec<&str> = self.values.keys().map(String::as_str).collect();
                    cx.error_help(
                        Code::V003,
                        format!("unknown variable `{name}`"),
                        position,
                        format!("declare it under `vars:`; {}", super::suggest_among(name, &known)),
                    );
                    ok = false;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        ok.then_some(out)
    }
}
