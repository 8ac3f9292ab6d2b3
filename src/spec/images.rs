//! Image sources: folders, globs, and manifests (CSV or JSONL with a file column and label
//! columns, such as FairFace's `fairface_label_val.csv` as it is).
//!
//! An image source is written in a probe library (per member or per family, where paths may
//! use `{id}` and `{name}` of each member) or in an audit spec (per selected family, usually
//! through a variable such as `${fairface}`). Paths resolve against the folder of the file
//! that names them.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;

use super::node::Node;
use super::read::{Ctx, FromNode, MapReader, Sp};
use crate::diagnostics::Code;

/// An image source as written.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ImageSourceDoc {
    /// A folder of images. Give either `folder` or `manifest`.
    pub folder: Option<Sp<String>>,
    /// With `folder`: a file-name pattern such as `*.jpg` (default: every image file).
    pub glob: Option<Sp<String>>,
    /// With `folder`: also look in sub-folders (default false).
    pub recursive: Option<bool>,
    /// A CSV or JSONL file with one row per image.
    pub manifest: Option<Sp<String>>,
    /// With `manifest`: the folder the file column is relative to (default: the manifest's folder).
    pub root: Option<Sp<String>>,
    /// With `manifest`: the column holding the image path (default `file`).
    pub file_column: Option<Sp<String>>,
    /// With `manifest`: the column whose value picks the member of each row (e.g. `race`).
    pub member_column: Option<Sp<String>>,
    /// With `member_column`: the member metadata key to match the column against
    /// (default: the member's `name`, then its `id`).
    pub member_key: Option<Sp<String>>,
    /// With `manifest`: label columns kept with each image (default: all but the file column).
    pub label_columns: Option<Vec<Sp<String>>>,
    /// Use at most this many images from the source (in file order).
    pub limit: Option<usize>,
}

impl FromNode for ImageSourceDoc {
    const EXPECTED: &'static str = "an image source";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "an image source")?;
        let folder: Option<Sp<String>> = m.opt(cx, "folder");
        let glob = m.opt(cx, "glob");
        let recursive = m.opt(cx, "recursive");
        let manifest: Option<Sp<String>> = m.opt(cx, "manifest");
        let root = m.opt(cx, "root");
        let file_column = m.opt(cx, "file_column");
        let member_column = m.opt(cx, "member_column");
        let member_key = m.opt(cx, "member_key");
        let label_columns = m.opt(cx, "label_columns");
        let limit = m.opt(cx, "limit");
        let position = m.position();
        m.finish(cx);
        let doc = Self {
            folder,
            glob,
            recursive,
            manifest,
            root,
            file_column,
            member_column,
            member_key,
            label_columns,
            limit,
        };
        match (&doc.folder, &doc.manifest) {
            (Some(_), Some(_)) | (None, None) => {
                cx.error_help(
                    Code::I001,
                    "an image source needs exactly one of `folder` or `manifest`",
                    position,
                    "e.g. `- folder: images/{id}` or `- manifest: labels.csv`",
                );
                None
            }
            (Some(_), None) if doc.root.is_some() || doc.file_column.is_some() || doc.member_column.is_some() => {
                cx.error(Code::I002, "`root`, `file_column` and `member_column` apply to manifests only", position);
                None
            }
            (None, Some(_)) if doc.member_key.is_some() && doc.member_column.is_none() => {
                cx.error_help(
                    Code::I002,
                    "`member_key` says how `member_column` names members, but there is no `member_column`",
                    doc.member_key.as_ref().and_then(|k| k.position).or(position),
                    "add `member_column: <the manifest column that names each row's member>`",
                );
                None
            }
            (None, Some(_)) if doc.glob.is_some() || doc.recursive.is_some() => {
                cx.error(Code::I002, "`glob` and `recursive` apply to folders only", position);
                None
            }
            _ => {
                if let Some(g) = &doc.glob
                    && let Err(e) = file_name_glob(g)
                {
                    cx.error_help(
                        Code::I010,
                        format!("`glob` {:?} is not a valid pattern: {}", g.value, e.kind()),
                        g.position,
                        "a glob matches file names: `*` any run of characters, `?` one, `[abc]` a set, `{jpg,png}` alternatives",
                    );
                    return None;
                }
                Some(doc)
            }
        }
    }
}

/// The matcher of a folder source's `glob`: shell syntax (`*`, `?`, `[abc]`, `{jpg,png}`)
/// on the file name, case-insensitive (`*.jpg` takes `IMG_01.JPG`), by the `globset` crate,
/// which matches in time linear in the name.
pub fn file_name_glob(pattern: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern).case_insensitive(true).literal_separator(true).build()?.compile_matcher())
}

/// Reads the optional `images:` list of a mapping.
pub fn read_image_sources(m: &mut MapReader<'_>, cx: &mut Ctx<'_>) -> Option<Vec<ImageSourceDoc>> {
    Some(m.opt::<Vec<ImageSourceDoc>>(cx, "images").unwrap_or_default())
}

/// A checked image source with paths resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    /// Every image file in a folder.
    Folder {
        /// The folder.
        path: PathBuf,
        /// File-name pattern.
        glob: Option<String>,
        /// Include sub-folders.
        recursive: bool,
        /// At most this many.
        limit: Option<usize>,
    },
    /// Rows of a CSV or JSONL manifest.
    Manifest {
        /// The manifest file.
        file: PathBuf,
        /// Folder the file column is relative to.
        root: PathBuf,
        /// Column holding the image path.
        file_column: String,
        /// Column that picks the member.
        member_column: Option<String>,
        /// Member metadata key matched against `member_column`.
        member_key: Option<String>,
        /// Label columns kept (None: all but the file column).
        label_columns: Option<Vec<String>>,
        /// At most this many rows.
        limit: Option<usize>,
    },
}

/// Resolves a written path against `base` after replacing `{id}` and `{name}`.
pub fn resolve(base: &Path, written: &str, member: Option<(&str, &str)>) -> PathBuf {
    let text = match member {
        Some((id, name)) => written.replace("{id}", id).replace("{name}", name),
        None => written.to_owned(),
    };
    super::join_clean(base, &text)
}

impl ImageSourceDoc {
    /// The checked source, resolved against `base` for one member (or the family).
    pub fn resolve(&self, base: &Path, member: Option<(&str, &str)>) -> ImageSource {
        if let Some(folder) = &self.folder {
            return ImageSource::Folder {
                path: resolve(base, folder, member),
                glob: self.glob.as_ref().map(|g| g.value.clone()),
                recursive: self.recursive.unwrap_or(false),
                limit: self.limit,
            };
        }
        let file = resolve(base, self.manifest.as_ref().expect("checked: folder or manifest"), member);
        let root = match &self.root {
            Some(r) => resolve(base, r, member),
            None => file.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        ImageSource::Manifest {
            file,
            root,
            file_column: self.file_column.as_ref().map_or_else(|| "file".to_owned(), |c| c.value.clone()),
            member_column: self.member_column.as_ref().map(|c| c.value.clone()),
            member_key: self.member_key.as_ref().map(|c| c.value.clone()),
            label_columns: self.label_columns.as_ref().map(|v| v.iter().map(|c| c.value.clone()).collect()),
            limit: self.limit,
        }
    }

    /// Where the source was written (its folder or manifest key).
    pub fn position(&self) -> Option<crate::diagnostics::Position> {
        self.folder.as_ref().or(self.manifest.as_ref()).and_then(|s| s.position)
    }
}

/// What a manifest's `member_column` value is compared with: `id` and `name` are the
/// member's own fields, any other key a member `meta` entry (numbers and booleans as their
/// text); without a key, the name and then the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKey<'a> {
    /// The member's name, then its id (the default).
    NameOrId,
    /// The member's id.
    Id,
    /// The member's name.
    Name,
    /// A `meta` entry.
    Meta(&'a str),
}

impl<'a> MemberKey<'a> {
    /// The key as written in `member_key`.
    pub fn new(written: Option<&'a str>) -> Self {
        match written {
            None => Self::NameOrId,
            Some("id") => Self::Id,
            Some("name") => Self::Name,
            Some(k) => Self::Meta(k),
        }
    }

    /// The values `member` answers to under this key.
    pub fn values(self, member: &super::probe::Member) -> Vec<String> {
        let meta = |k: &str| {
            member.meta.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).into_iter().collect()
        };
        match self {
            Self::NameOrId => vec![member.name.clone(), member.id.clone()],
            Self::Id => vec![member.id.clone()],
            Self::Name => vec![member.name.clone()],
            Self::Meta(k) => meta(k),
        }
    }

    /// The member of `members` a manifest value names: for the default key, a name match wins
    /// over an id match.
    pub fn find(self, members: &'a [super::probe::Member], value: &str) -> Option<&'a super::probe::Member> {
        match self {
            Self::NameOrId => {
                members.iter().find(|m| m.name == value).or_else(|| members.iter().find(|m| m.id == value))
            }
            _ => members.iter().find(|m| self.values(m).iter().any(|v| v == value)),
        }
    }

    /// The value some member of `members` answers to under this key that is closest to `value`,
    /// when one is close (for "did you mean" in messages).
    pub fn nearest(self, members: &[super::probe::Member], value: &str) -> Option<String> {
        let known: Vec<String> = members.iter().flat_map(|m| self.values(m)).collect();
        crate::diagnostics::closest(value, known.iter().map(String::as_str), 1).first().map(|s| (*s).to_owned())
    }

    /// In words, for messages ("the id", "the meta `fairface_label`").
    pub fn describe(self) -> String {
        match self {
            Self::NameOrId => "the name or id".to_owned(),
            Self::Id => "the id".to_owned(),
            Self::Name => "the name".to_owned(),
            Self::Meta(k) => format!("the meta `{k}`"),
        }
    }
}

/// A `member_column` value that names no member of the family, with how many rows hold it,
/// the first of their lines, and the member value closest to it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmatchedValue {
    /// The value as written in the manifest.
    pub value: String,
    /// Rows holding it.
    pub rows: usize,
    /// The first row's 1-based line.
    pub first_line: usize,
    /// The closest value some member answers to, when one is close.
    pub nearest: Option<String>,
}

/// The values of `column` in `rows` that name no member of `members`, in order of first
/// appearance.
pub fn unmatched_values(
    rows: &[(usize, super::manifest::Row)],
    column: &str,
    members: &[super::probe::Member],
    key: MemberKey<'_>,
) -> Vec<UnmatchedValue> {
    let mut out: Vec<UnmatchedValue> = Vec::new();
    // Each distinct value is looked up once (a column of unique values, such as a file column
    // named by mistake, stays linear).
    let mut seen: std::collections::HashMap<&str, Option<usize>> = std::collections::HashMap::new();
    for (line, row) in rows {
        let value = row.get(column).map(String::as_str).unwrap_or_default();
        let slot = *seen.entry(value).or_insert_with(|| {
            key.find(members, value).is_none().then(|| {
                out.push(UnmatchedValue {
                    value: value.to_owned(),
                    rows: 0,
                    first_line: *line,
                    nearest: key.nearest(members, value),
                });
                out.len() - 1
            })
        });
        if let Some(i) = slot {
            out[i].rows += 1;
        }
    }
    out
}
