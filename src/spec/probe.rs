//! Probe libraries: concept families with members, aliases, a hierarchy, prompt templates,
//! metadata and optional image sources (`probes/*.yaml`; format in docs/spec.md).
//!
//! A library is read into [`ProbeLibraryDoc`] (the file as written, with positions; its JSON
//! Schema is generated from these types) and validated into [`ProbeLibrary`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;

use super::images::{ImageSourceDoc, read_image_sources};
use super::node::Node;
use super::read::{Ctx, FromNode, MapReader, Sp};
use super::{SpecError, check_id};
use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostics, Position};

/// Free-form metadata: strings, numbers, booleans, lists, mappings.
pub type Meta = BTreeMap<String, serde_json::Value>;

/// A probe library file as written.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, title = "clip-audit probe library")]
pub struct ProbeLibraryDoc {
    /// Library id (lowercase letters, digits and dashes), usually the file name without `.yaml`.
    pub library: Sp<String>,
    /// What the library is for.
    pub description: Option<Sp<String>>,
    /// Every source the facts come from; families cite them by id.
    #[schemars(default)]
    pub sources: Vec<SourceDoc>,
    /// Default prompt templates for every family; `{name}` is replaced by a member's name or alias.
    #[schemars(default)]
    pub templates: Vec<Sp<String>>,
    /// The concept families.
    pub families: Vec<FamilyDoc>,
}

/// A source of facts.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SourceDoc {
    /// Id that families cite.
    pub id: Sp<String>,
    /// Title of the source.
    pub title: Sp<String>,
    /// How the data was obtained (package and version, script).
    pub via: Option<Sp<String>>,
    /// Where the source can be found.
    pub url: Option<Sp<String>>,
    /// Licence of the data, when known.
    pub licence: Option<Sp<String>>,
}

/// A concept family.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FamilyDoc {
    /// Family id, unique in the library.
    pub id: Sp<String>,
    /// What the family covers.
    pub description: Option<Sp<String>>,
    /// Ids of the library's sources this family draws on.
    #[schemars(default)]
    pub sources: Vec<Sp<String>>,
    /// Names of the group levels every member has, top to bottom (e.g. `[region, subregion]`).
    #[schemars(default)]
    pub hierarchy: Vec<Sp<String>>,
    /// Prompt templates for this family, replacing the library's.
    pub templates: Option<Vec<Sp<String>>>,
    /// Free metadata.
    #[schemars(default)]
    pub meta: Meta,
    /// The members.
    pub members: Vec<MemberDoc>,
    /// Image sources for the whole family (paths may use `{id}` and `{name}` of each member).
    #[schemars(default)]
    pub images: Vec<ImageSourceDoc>,
}

/// A member of a family: one concept.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MemberDoc {
    /// Member id, unique in the family.
    pub id: Sp<String>,
    /// Display name, used in prompts and rendered text.
    pub name: Sp<String>,
    /// Other names, also used in prompts when the audit asks for aliases.
    #[schemars(default)]
    pub aliases: Vec<Sp<String>>,
    /// One group per level of the family's hierarchy.
    #[schemars(default)]
    pub groups: BTreeMap<String, Sp<String>>,
    /// Free metadata (codes, coordinates, population, ...).
    #[schemars(default)]
    pub meta: Meta,
    /// Image sources of this member.
    #[schemars(default)]
    pub images: Vec<ImageSourceDoc>,
}

impl FromNode for SourceDoc {
    const EXPECTED: &'static str = "a source";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "a source")?;
        let id = m.req(cx, "id");
        let title = m.req(cx, "title");
        let via = m.opt(cx, "via");
        let url = m.opt(cx, "url");
        let licence = m.opt(cx, "licence");
        m.finish(cx);
        Some(Self { id: id?, title: title?, via, url, licence })
    }
}

impl FromNode for MemberDoc {
    const EXPECTED: &'static str = "a member";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "a member")?;
        let id = m.req(cx, "id");
        let name = m.req(cx, "name");
        let aliases = m.opt(cx, "aliases");
        let groups = m.opt(cx, "groups");
        let meta = m.opt(cx, "meta");
        let images = read_image_sources(&mut m, cx);
        m.finish(cx);
        Some(Self {
            id: id?,
            name: name?,
            aliases: aliases.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
            meta: meta.unwrap_or_default(),
            images: images?,
        })
    }
}

impl FromNode for FamilyDoc {
    const EXPECTED: &'static str = "a family";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "a family")?;
        let id = m.req(cx, "id");
        let description = m.opt(cx, "description");
        let sources = m.opt(cx, "sources");
        let hierarchy = m.opt(cx, "hierarchy");
        let templates = m.opt(cx, "templates");
        let meta = m.opt(cx, "meta");
        let members = m.req(cx, "members");
        let images = read_image_sources(&mut m, cx);
        m.finish(cx);
        Some(Self {
            id: id?,
            description,
            sources: sources.unwrap_or_default(),
            hierarchy: hierarchy.unwrap_or_default(),
            templates,
            meta: meta.unwrap_or_default(),
            members: members?,
            images: images?,
        })
    }
}

impl FromNode for ProbeLibraryDoc {
    const EXPECTED: &'static str = "a probe library";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the probe library")?;
        let library = m.req(cx, "library");
        let description = m.opt(cx, "description");
        let sources = m.opt(cx, "sources");
        let templates = m.opt(cx, "templates");
        let families = m.req(cx, "families");
        m.finish(cx);
        Some(Self {
            library: library?,
            description,
            sources: sources.unwrap_or_default(),
            templates: templates.unwrap_or_default(),
            families: families?,
        })
    }
}

/// A checked source.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Source {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// How obtained.
    pub via: Option<String>,
    /// URL.
    pub url: Option<String>,
}

/// A checked member.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Member {
    /// Id, unique in its family.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Other names.
    pub aliases: Vec<String>,
    /// Group per hierarchy level.
    pub groups: BTreeMap<String, String>,
    /// Metadata.
    pub meta: Meta,
    /// Image sources as written (resolved in the context of an audit).
    #[serde(skip)]
    pub images: Vec<ImageSourceDoc>,
}

impl Member {
    /// `name` (the member's name or one of its aliases) as prompts say it: with the article
    /// English uses before it (`meta.article`, "the Netherlands").
    pub fn spoken(&self, name: &str) -> String {
        match self.meta.get("article").and_then(|a| a.as_str()) {
            Some(article) if !article.is_empty() => format!("{article} {name}"),
            _ => name.to_owned(),
        }
    }
}

/// A prompt template with `{name}` filled in.
pub fn fill(template: &str, name: &str) -> String {
    template.replace("{name}", name)
}

/// A checked family.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Family {
    /// Id, unique in its library.
    pub id: String,
    /// What it covers.
    pub description: Option<String>,
    /// Source ids.
    pub sources: Vec<String>,
    /// Group levels, top to bottom.
    pub hierarchy: Vec<String>,
    /// Prompt templates in effect (the family's, else the library's).
    pub templates: Vec<String>,
    /// Metadata.
    pub meta: Meta,
    /// Members, in file order.
    pub members: Vec<Member>,
    /// Family-wide image sources as written.
    #[serde(skip)]
    pub images: Vec<ImageSourceDoc>,
}

impl Family {
    /// The member with this id.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// A validated probe library.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeLibrary {
    /// Library id.
    pub id: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// What it is for.
    pub description: Option<String>,
    /// Sources.
    pub sources: Vec<Source>,
    /// Families, in file order.
    pub families: Vec<Family>,
    /// The text of the file, for diagnostics that point into it later.
    #[serde(skip)]
    pub source_text: String,
}

impl ProbeLibrary {
    /// Reads and validates a probe library file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates library text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SpecError> {
        let node = super::node::parse(text, path).map_err(|d| SpecError::Invalid(Diagnostics(vec![*d])))?;
        let mut cx = Ctx::new(path, text);
        let doc = ProbeLibraryDoc::from_node(&node, &mut cx);
        let lib = doc.and_then(|doc| validate(doc, path, text, &mut cx));
        match lib {
            Some(lib) if cx.problems.is_empty() => Ok(lib),
            _ => {
                cx.problems.sort();
                Err(SpecError::Invalid(cx.problems))
            }
        }
    }

    /// The family with this id.
    pub fn family(&self, id: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.id == id)
    }
}

fn validate(doc: ProbeLibraryDoc, path: &Path, text: &str, cx: &mut Ctx<'_>) -> Option<ProbeLibrary> {
    check_id(cx, &doc.library, "library");
    let mut source_ids = FirstSeen::new();
    for s in &doc.sources {
        check_id(cx, &s.id, "source");
        check_unique(cx, &mut source_ids, &s.id, || format!("source id `{}` is defined twice", *s.id));
    }
    for t in &doc.templates {
        check_template(cx, t);
    }
    let mut family_ids = FirstSeen::new();
    let families =
        doc.families.into_iter().map(|f| family(f, &doc.templates, &source_ids, &mut family_ids, cx)).collect();
    Some(ProbeLibrary {
        id: doc.library.value,
        path: path.to_path_buf(),
        description: doc.description.map(|d| d.value),
        sources: doc
            .sources
            .into_iter()
            .map(|s| Source {
                id: s.id.value,
                title: s.title.value,
                via: s.via.map(|v| v.value),
                url: s.url.map(|v| v.value),
            })
            .collect(),
        families,
        source_text: text.to_owned(),
    })
}

/// The ids given so far in one scope (the library's sources, its families, a family's
/// members), with where each was first given.
type FirstSeen = BTreeMap<String, Option<Position>>;

/// Records where `id` is first given; given again, it is a problem (P001) that points at both
/// places.
fn check_unique(cx: &mut Ctx<'_>, seen: &mut FirstSeen, id: &Sp<String>, message: impl FnOnce() -> String) {
    match seen.get(&id.value) {
        Some(&first) => cx.duplicate(Code::P001, message(), id.position, first),
        None => {
            seen.insert(id.value.clone(), id.position);
        }
    }
}

/// Checks one family (id, sources, members, templates, hierarchy) against the library's
/// sources and templates.
fn family(
    f: FamilyDoc,
    lib_templates: &[Sp<String>],
    source_ids: &FirstSeen,
    family_ids: &mut FirstSeen,
    cx: &mut Ctx<'_>,
) -> Family {
    check_id(cx, &f.id, "family");
    check_unique(cx, family_ids, &f.id, || format!("family id `{}` is defined twice", *f.id));
    for s in &f.sources {
        if !source_ids.contains_key(&s.value) {
            let known: Vec<&str> = source_ids.keys().map(String::as_str).collect();
            cx.error_help(
                Code::P002,
                format!("family `{}` cites source `{}`, which the library does not define", *f.id, **s),
                s.position,
                super::suggest_among(s, &known),
            );
        }
    }
    if f.members.is_empty() {
        cx.error(Code::P003, format!("family `{}` has no members", *f.id), f.id.position);
    }
    let templates = match &f.templates {
        Some(ts) => {
            for t in ts {
                check_template(cx, t);
            }
            ts.iter().map(|t| t.value.clone()).collect()
        }
        None => lib_templates.iter().map(|t| t.value.clone()).collect::<Vec<_>>(),
    };
    if templates.is_empty() {
        cx.error_help(
            Code::P004,
            format!("family `{}` has no prompt templates", *f.id),
            f.id.position,
            "add `templates:` to the family or to the library",
        );
    }
    let levels: Vec<String> = f.hierarchy.iter().map(|h| h.value.clone()).collect();
    let mut member_ids = FirstSeen::new();
    let members = f.members.into_iter().map(|m| member(m, &f.id, &levels, &mut member_ids, cx)).collect();
    Family {
        id: f.id.value,
        description: f.description.map(|d| d.value),
        sources: f.sources.into_iter().map(|s| s.value).collect(),
        hierarchy: levels,
        templates,
        meta: f.meta,
        members,
        images: f.images,
    }
}

/// Checks one member of family `family` (id, name, one group per hierarchy level).
fn member(m: MemberDoc, family: &str, levels: &[String], member_ids: &mut FirstSeen, cx: &mut Ctx<'_>) -> Member {
    check_id(cx, &m.id, "member");
    check_unique(cx, member_ids, &m.id, || format!("member id `{}` appears twice in family `{}`", *m.id, family));
    if m.name.trim().is_empty() {
        cx.error(Code::P005, format!("member `{}` has an empty name", *m.id), m.name.position);
    }
    for level in levels {
        if !m.groups.contains_key(level) {
            cx.error_help(
                Code::P006,
                format!("member `{}` has no group for hierarchy level `{level}`", *m.id),
                m.id.position,
                format!("add `groups: {{{level}: ...}}`; family `{}` has levels {levels:?}", family),
            );
        }
    }
    for (level, g) in &m.groups {
        if !levels.contains(level) {
            cx.error_help(
                Code::P006,
                format!("member `{}` names group level `{level}`, which family `{}` does not have", *m.id, family),
                g.position,
                format!("the family's hierarchy is {levels:?}"),
            );
        }
    }
    Member {
        id: m.id.value,
        name: m.name.value,
        aliases: m.aliases.into_iter().map(|a| a.value).collect(),
        groups: m.groups.into_iter().map(|(k, v)| (k, v.value)).collect(),
        meta: m.meta,
        images: m.images,
    }
}

/// P007 unless the template says where the name goes.
pub(crate) fn check_template(cx: &mut Ctx<'_>, t: &Sp<String>) {
    if !t.contains("{name}") {
        cx.error_help(
            Code::P007,
            format!("template {:?} does not contain {{name}}", **t),
            t.position,
            "write where the concept's name goes, e.g. \"a photo of {name}.\"",
        );
    }
}
