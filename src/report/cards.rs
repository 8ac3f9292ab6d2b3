//! Neuron cards: each cited or most selective unit shown the way the multimodal-neurons work
//! shows one, so that a reviewer can judge whether a "region" or "criminal" unit is real by
//! looking at what excites it, not only at its statistics.
//!
//! A card holds the unit's most selective concept with its Cohen's d and q, its Cohen's d for
//! every concept with 95% CIs (from the selectivity summary), the findings that cite it, and
//! its top and bottom dataset examples: images and rendered text as small embedded JPEG
//! thumbnails, remade from the content the runner recorded (`Content::image`), and prompts as
//! their text. The HTML report draws the cards; `report.json` is unchanged (the cards are made
//! from it and the run's stimulus table, and the thumbnails would make it grow with the
//! evidence).

use std::collections::HashMap;
use std::io::Cursor;

use base64::Engine as _;
use maud::{Markup, html};

use crate::analysis::Summary;
use crate::analysis::selectivity::{ConceptResponses, Example, SelectiveUnit};
use crate::stimuli::Content;

/// Side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 64;
/// JPEG quality of thumbnails (0–100).
const JPEG_QUALITY: u8 = 70;
/// Cards per selectivity block besides the cited units: its most selective units.
pub const DEFAULT_PER_BLOCK: usize = 2;
/// Examples shown per end (top and bottom).
pub const EXAMPLES_PER_END: usize = 5;

/// How an example is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A `data:image/jpeg;base64,…` URI of its thumbnail.
    Picture(String),
    /// A prompt's text.
    Text(String),
    /// Its content could not be found or made again (a moved image file), with why.
    Missing(String),
}

/// One example stimulus on a card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardExample {
    /// Stimulus id.
    pub id: String,
    /// Its member.
    pub member: String,
    /// Its modality.
    pub modality: String,
    /// The unit's pooled activation.
    pub value: f32,
    /// What to draw.
    pub shown: Shown,
}

/// One unit's card.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronCard {
    /// The unit as the selectivity summary lists it: tap, unit, its most selective concept
    /// with d and q, and its d per concept with 95% CIs.
    pub selective: SelectiveUnit,
    /// Ids of the findings whose evidence names the unit.
    pub findings: Vec<String>,
    /// Highest-responding stimuli.
    pub top: Vec<CardExample>,
    /// Lowest-responding stimuli.
    pub bottom: Vec<CardExample>,
    /// Its feature visualization when the audit asked for one: the picture, or why there is
    /// none.
    pub visualization: Option<Result<CardVisualization, String>>,
}

/// A feature visualization on a card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardVisualization {
    /// A `data:image/jpeg;base64,…` URI of the image (at most [`VISUALIZATION_SIDE`] pixels).
    pub uri: String,
    /// The unit's activation on it.
    pub activation: f32,
    /// The optimisation steps.
    pub steps: usize,
    /// The seed.
    pub seed: u64,
}

/// Largest side of a feature visualization on a card, in pixels.
pub const VISUALIZATION_SIDE: u32 = 128;

/// A feature visualization made for a card's unit (by the audit), or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeVisualization {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// The PNG, the unit's activation on it, steps and seed; or why it could not be made.
    pub outcome: Result<(std::path::PathBuf, f32, usize, u64), String>,
}

/// Puts each unit's visualization on its card, as a JPEG of at most [`VISUALIZATION_SIDE`]
/// pixels; a PNG that cannot be read becomes the reason on the card.
pub fn attach_visualizations(cards: &mut [NeuronCard], made: &[MadeVisualization]) {
    for v in made {
        let Some(card) = cards.iter_mut().find(|c| c.selective.tap == v.tap && c.selective.unit == v.unit) else {
            continue;
        };
        card.visualization = Some(match &v.outcome {
            Err(e) => Err(e.clone()),
            Ok((png, activation, steps, seed)) => image::open(png)
                .map_err(|e| format!("cannot read {}: {e}", png.display()))
                .and_then(|img| {
                    let small = img.thumbnail(VISUALIZATION_SIDE, VISUALIZATION_SIDE);
                    let mut bytes = Vec::new();
                    image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut bytes), 85)
                        .encode_image(&small.to_rgb8())
                        .map_err(|e| e.to_string())?;
                    Ok(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)))
                })
                .map(|uri| CardVisualization { uri, activation: *activation, steps: *steps, seed: *seed }),
        });
    }
}

impl NeuronCard {
    /// The card's anchor in the HTML report (`unit-<tap>-<unit>`, tap characters other than
    /// letters, digits, `-` and `_` as `_`).
    pub fn anchor(&self) -> String {
        anchor(&self.selective.tap, self.selective.unit)
    }
}

/// The HTML anchor of a unit's card.
pub fn anchor(tap: &str, unit: usize) -> String {
    format!("unit-{}-{unit}", crate::files::safe_component(tap))
}

/// The cards of a summary: every unit a finding cites that the selectivity summary lists, then
/// the `per_block` most selective units of each block not already carded. `contents` maps
/// stimulus ids to what the runner recorded (the run data's stimulus rows); examples without
/// an entry are shown as missing.
pub fn cards(s: &Summary, contents: &HashMap<String, Content>, per_block: usize) -> Vec<NeuronCard> {
    let Some(sel) = &s.selectivity else { return Vec::new() };
    let cited = |u: &SelectiveUnit| -> Vec<String> {
        s.findings
            .iter()
            .filter(|f| f.evidence.units.iter().any(|r| r.tap == u.tap && r.unit == u.unit))
            .map(|f| f.id.clone())
            .collect()
    };
    // A unit is listed once per block it tops; it gets one card, from its first listing.
    let mut chosen: Vec<&SelectiveUnit> = Vec::new();
    for u in sel.units.iter().filter(|u| !cited(u).is_empty()) {
        if !chosen.iter().any(|c| c.tap == u.tap && c.unit == u.unit) {
            chosen.push(u);
        }
    }
    let mut per: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for u in &sel.units {
        let n = per.entry((u.tap.as_str(), u.selection.as_str(), u.modality.as_str())).or_default();
        if *n < per_block && !chosen.iter().any(|c| c.tap == u.tap && c.unit == u.unit) {
            chosen.push(u);
            *n += 1;
        }
    }
    let mut thumbs: HashMap<String, Shown> = HashMap::new();
    chosen
        .into_iter()
        .map(|u| {
            let mut examples = |list: &[Example]| -> Vec<CardExample> {
                list.iter()
                    .take(EXAMPLES_PER_END)
                    .map(|e| CardExample {
                        id: e.id.clone(),
                        member: e.member.clone(),
                        modality: e.modality.clone(),
                        value: e.value,
                        shown: thumbs.entry(e.id.clone()).or_insert_with(|| shown(contents.get(&e.id))).clone(),
                    })
                    .collect()
            };
            let (top, bottom) = (examples(&u.top), examples(&u.bottom));
            NeuronCard { selective: u.clone(), findings: cited(u), top, bottom, visualization: None }
        })
        .collect()
}

/// How a stimulus is shown: its thumbnail, its text, or why neither.
fn shown(content: Option<&Content>) -> Shown {
    let Some(content) = content else {
        return Shown::Missing("not in the run's stimulus table".into());
    };
    if let Some(text) = content.prompt_text() {
        return Shown::Text(text.to_owned());
    }
    match content.image() {
        Ok(Some((img, _))) => match thumbnail(&image::DynamicImage::ImageRgb8(img)) {
            Ok(uri) => Shown::Picture(uri),
            Err(e) => Shown::Missing(format!("cannot encode its thumbnail: {e}")),
        },
        Ok(None) => Shown::Missing("it has no picture".into()),
        Err(e) => Shown::Missing(format!("cannot be made again: {e}")),
    }
}

/// A `data:` URI of a JPEG thumbnail fitting [`THUMBNAIL_SIDE`] (aspect kept).
pub fn thumbnail(img: &image::DynamicImage) -> Result<String, image::ImageError> {
    let small = img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE).to_rgb8();
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut bytes), JPEG_QUALITY).encode_image(&small)?;
    Ok(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)))
}

/// Styles of the cards section (our own constant).
const STYLE: &str = ".card{border:1px solid #d8dbe3;border-radius:6px;padding:.4em 1em .8em;margin:1em 0}\
.card h3{margin:.3em 0}.examples{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start;margin:.3em 0}\
.examples figure{margin:0;width:72px;font-size:11px;text-align:center}\
.thumb{display:block;margin:0 auto;width:64px;height:64px;background:#f3f6fa no-repeat center/contain}\
.examples .prompt{display:block;width:68px;height:60px;overflow:hidden;font-size:10px;border:1px dashed #ccd;padding:2px}\
.examples .end{width:52px;font-weight:600;padding-top:24px}\
.fv{display:flex;gap:12px;align-items:center;margin:.4em 0}.fv .thumb{flex:none;width:128px;height:128px;margin:0}";

/// Rows of a card's d chart: concepts with the largest |d| of its first modality, at most.
const CHART_ROWS: usize = 16;

fn two(v: f64) -> String {
    if v.is_finite() { format!("{v:.2}") } else { "n/a".into() }
}

/// One example; a picture is drawn by its class in `pictures` (each thumbnail is written once
/// in the page's style, however many cards show it).
fn example(e: &CardExample, pictures: &HashMap<&str, usize>) -> Markup {
    let caption = format!("{} ({}) {:.3}", e.member, e.modality, e.value);
    html! {
        figure title=(caption) {
            @match &e.shown {
                Shown::Picture(uri) => span class=(format!("thumb th{}", pictures.get(uri.as_str()).copied().unwrap_or(0))) role="img" aria-label=(e.member) {}
                Shown::Text(t) => span.prompt { (t) }
                Shown::Missing(why) => span.prompt.muted { "(" (why) ")" }
            }
            figcaption { (e.member) br; (format!("{:.3}", e.value)) }
        }
    }
}

/// Cohen's d with its 95% CI for a modality's concepts, largest |d| first: a dot-and-whisker
/// chart on a shared axis with a line at 0.
fn d_chart(r: &ConceptResponses) -> Markup {
    let mut rows: Vec<usize> = (0..r.concepts.len()).filter(|&i| r.d[i].is_finite()).collect();
    rows.sort_by(|&a, &b| r.d[b].abs().total_cmp(&r.d[a].abs()).then(a.cmp(&b)));
    rows.truncate(CHART_ROWS);
    let ends = rows.iter().flat_map(|&i| [r.ci[i][0], r.ci[i][1], r.d[i]]).filter(|v| v.is_finite());
    let span = ends.fold(1.0f64, |m, v| m.max(v.abs()));
    let (w, left, row_h) = (420.0, 110.0, 15.0);
    let h = rows.len() as f64 * row_h + 24.0;
    let x = |v: f64| left + (v.clamp(-span, span) + span) / (2.0 * span) * (w - left - 10.0);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) role="img" {
            path d=(format!("M{:.1} 4V{:.1}", x(0.0), h - 16.0)) stroke="#99a" {}
            @for (k, &i) in rows.iter().enumerate() {
                @let y = 10.0 + k as f64 * row_h;
                text x=(left - 6.0) y=(y + 4.0) text-anchor="end" { (r.concepts[i]) }
                @let [lo, hi] = r.ci[i];
                @if lo.is_finite() && hi.is_finite() {
                    path d=(format!("M{:.1} {y:.1}H{:.1}", x(lo), x(hi))) stroke="#2f6fbf" stroke-width="1.5" {}
                }
                circle cx=(format!("{:.1}", x(r.d[i]))) cy=(format!("{y:.1}")) r="3" fill="#2f6fbf" {
                    title { (r.concepts[i]) ": d = " (two(r.d[i])) " [" (two(lo)) ", " (two(hi)) "], n = " (r.n[i]) }
                }
            }
            text x=(x(-span)) y=(h - 3.0) { (two(-span)) }
            text x=(x(0.0)) y=(h - 3.0) text-anchor="middle" { "0" }
            text x=(x(span)) y=(h - 3.0) text-anchor="end" { (two(span)) }
        }
    }
}

/// The distinct thumbnails of the cards, in order of first appearance: thumbnail `i` is drawn
/// by the class `th<i>`.
fn pictures(cards: &[NeuronCard]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in cards {
        if let Some(Ok(v)) = &c.visualization {
            out.push(&v.uri);
        }
    }
    for e in cards.iter().flat_map(|c| c.top.iter().chain(&c.bottom)) {
        if let Shown::Picture(uri) = &e.shown
            && !out.contains(&uri.as_str())
        {
            out.push(uri);
        }
    }
    out
}

/// The cards' style sheet, for the page's `head`: the layout and one class per distinct
/// thumbnail (empty when there are no cards).
pub fn style(cards: &[NeuronCard]) -> String {
    if cards.is_empty() {
        return String::new();
    }
    let mut css = String::from(STYLE);
    for (i, uri) in pictures(cards).into_iter().enumerate() {
        // The URI is our own base64 (`[A-Za-z0-9+/=]`): nothing in it can end the rule.
        css.push_str(&format!(".th{i}{{background-image:url({uri})}}"));
    }
    css
}

/// The cards section of the HTML report (its style is [`style`]); empty when there are none.
pub fn section(cards: &[NeuronCard]) -> Markup {
    if cards.is_empty() {
        return html! {};
    }
    let pictures: HashMap<&str, usize> = pictures(cards).into_iter().enumerate().map(|(i, u)| (u, i)).collect();
    html! {
        h2 #cards { "Neuron cards" }
        p.muted {
            "Every unit a finding cites, and the most selective units of each selectivity block: "
            "the stimuli that excite it most and least (thumbnails remade from the run's stimuli; "
            "prompts as their text), and its Cohen's d for each concept with a 95% CI "
            "(Hedges & Olkin's standard error, t quantile), largest |d| first."
        }
        @for c in cards {
            article.card id=(c.anchor()) {
                h3 { code { (c.selective.tap) } " unit " (c.selective.unit) }
                p {
                    "Most selective for " b { (c.selective.concept) } " (" code { (c.selective.selection) } ", " (c.selective.modality) "): "
                    "Cohen's d = " (two(c.selective.cohen_d)) ", q = " (format!("{:.2e}", c.selective.q)) "."
                    @if !c.findings.is_empty() {
                        " Cited by: "
                        @for (i, f) in c.findings.iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (f) }
                        }
                        "."
                    }
                }
                @match &c.visualization {
                    Some(Ok(v)) => div.fv {
                        span class=(format!("thumb th{}", pictures.get(v.uri.as_str()).copied().unwrap_or(0))) role="img" aria-label="feature visualization" {}
                        p.muted {
                            "Feature visualization: an image optimised to excite the unit ("
                            (v.steps) " Adam steps on a decorrelated Fourier image with jitter, scale and rotation; seed " (v.seed) "). "
                            "Activation " b { (format!("{:.3}", v.activation)) }
                            @if let Some(t) = c.top.first().filter(|t| t.value > 0.0 && v.activation.is_finite()) {
                                ", " (format!("{:.1}", v.activation / t.value)) "x the top example's " (format!("{:.3}", t.value))
                            }
                            "."
                        }
                    },
                    Some(Err(why)) => p.muted { "No feature visualization: " (why) },
                    None => {}
                }
                div.examples {
                    span.end { "top" }
                    @for e in &c.top { (example(e, &pictures)) }
                }
                div.examples {
                    span.end { "bottom" }
                    @for e in &c.bottom { (example(e, &pictures)) }
                }
                @for r in &c.selective.responses {
                    p.muted { "d per concept (" (r.modality) ")" }
                    (d_chart(r))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_a_small_jpeg_that_decodes_to_the_picture() {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(300, 150, image::Rgb([200, 30, 40])));
        let uri = thumbnail(&img).unwrap();
        let b64 = uri.strip_prefix("data:image/jpeg;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        assert!(bytes.len() < 2000, "{} bytes", bytes.len());
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (64, 32));
        let p = back.get_pixel(10, 10);
        assert!(p[0] > 180 && p[1] < 60 && p[2] < 60, "{p:?}");
    }

    #[test]
    fn prompts_show_their_text_and_missing_contents_say_why() {
        assert_eq!(shown(Some(&Content::Prompt { text: "a photo of fr".into() })), Shown::Text("a photo of fr".into()));
        assert!(matches!(shown(None), Shown::Missing(_)));
        let gone = Content::Image { path: "/nonexistent/clip-audit/x.png".into() };
        assert!(matches!(shown(Some(&gone)), Shown::Missing(m) if m.contains("cannot be made again")));
    }

    #[test]
    fn anchors_keep_only_safe_characters() {
        assert_eq!(anchor("image.block1/mlp", 7), "unit-image_block1_mlp-7");
    }
}
