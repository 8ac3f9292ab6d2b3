//! `stimuli preview`: a contact sheet of sampled stimuli per selection, with captions, so a
//! reviewer sees what the model will see before anything runs.

use image::{RgbImage, imageops};

use super::{Content, Modality, Stimulus, StimulusSet, materialize, render};
use crate::spec::audit::Placement;

/// Thumbnail side in pixels.
pub const THUMB: u32 = 128;
const CAPTION: u32 = 30;
const HEADER: u32 = 22;
const PAD: u32 = 6;

/// Picks up to `per_selection` stimuli of each selection, spread over modalities and
/// members (round-robin), in the set's order.
pub fn sample(set: &StimulusSet, per_selection: usize) -> Vec<Vec<&Stimulus>> {
    let mut selections: Vec<&str> = Vec::new();
    for s in &set.stimuli {
        if !selections.contains(&s.selection.as_str()) {
            selections.push(&s.selection);
        }
    }
    selections
        .into_iter()
        .map(|sel| {
            let mut groups: Vec<(Modality, &str, Vec<&Stimulus>)> = Vec::new();
            for s in set.stimuli.iter().filter(|s| s.selection == sel) {
                match groups.iter_mut().find(|(m, mem, _)| *m == s.modality && *mem == s.member) {
                    Some(g) => g.2.push(s),
                    None => groups.push((s.modality, &s.member, vec![s])),
                }
            }
            groups.sort_by_key(|g| g.0);
            // Interleave modalities first, then members.
            let mut by_modality: Vec<Vec<Vec<&Stimulus>>> = Vec::new();
            for (m, _, items) in groups {
                match by_modality.last_mut() {
                    Some(last) if last.first().and_then(|g| g.first()).is_some_and(|s| s.modality == m) => {
                        last.push(items)
                    }
                    _ => by_modality.push(vec![items]),
                }
            }
            let mut picked = Vec::new();
            let mut round = 0;
            while picked.len() < per_selection {
                let mut any = false;
                for groups in &by_modality {
                    let (gi, depth) = (round % groups.len().max(1), round / groups.len().max(1));
                    if let Some(s) = groups.get(gi).and_then(|g| g.get(depth)) {
                        picked.push(*s);
                        any = true;
                        if picked.len() == per_selection {
                            break;
                        }
                    }
                }
                let exhausted =
                    by_modality.iter().all(|g| round / g.len().max(1) > g.iter().map(Vec::len).max().unwrap_or(0));
                if !any && exhausted {
                    break;
                }
                round += 1;
            }
            picked
        })
        .collect()
}

fn thumbnail(s: &Stimulus) -> Result<RgbImage, String> {
    let img = match &s.content {
        Content::Prompt { text } => prompt_card(text),
        _ => materialize(s).map_err(|e| e.to_string())?,
    };
    let (w, h) = img.dimensions();
    let scale = f64::from(THUMB) / f64::from(w.max(h));
    let (tw, th) = (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    let small = imageops::resize(&img, tw, th, imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(THUMB, THUMB, image::Rgb([235, 235, 235]));
    imageops::replace(&mut out, &small, i64::from((THUMB - tw) / 2), i64::from((THUMB - th) / 2));
    Ok(out)
}

/// A prompt shown as text on a card, wrapped to a few lines.
fn prompt_card(text: &str) -> RgbImage {
    let mut card = RgbImage::from_pixel(THUMB, THUMB, image::Rgb([250, 246, 228]));
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + word.chars().count() < 16 => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    for (i, line) in lines.iter().take(6).enumerate() {
        let (strip, _) = render::render_text(line, THUMB, 15, Placement::Left, [40, 40, 40], [250, 246, 228]);
        let band = imageops::crop_imm(&strip, 0, THUMB / 2 - 10, THUMB, 20).to_image();
        imageops::replace(&mut card, &band, 0, 8 + i64::try_from(i).unwrap_or(0) * 19);
    }
    card
}

fn caption(text: &str, width: u32) -> RgbImage {
    let max = (width as usize * 10) / 68;
    let text: String = if text.chars().count() > max {
        text.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
    } else {
        text.to_owned()
    };
    let (strip, _) = render::render_text(&text, width, 11, Placement::Left, [30, 30, 30], [255, 255, 255]);
    imageops::crop_imm(&strip, 0, width / 2 - 7, width, 14).to_image()
}

/// The contact sheet: one row per selection, with a header, thumbnails and two caption lines
/// (member and modality; variant). Stimuli that fail to load show their reason instead.
pub fn contact_sheet(rows: &[Vec<&Stimulus>]) -> RgbImage {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
    let cell_w = THUMB + PAD;
    let row_h = HEADER + THUMB + CAPTION + PAD;
    let width = (cols * cell_w + PAD).max(320);
    let mut sheet = RgbImage::from_pixel(width, row_h * rows.len().max(1) as u32 + PAD, image::Rgb([255, 255, 255]));
    for (r, row) in rows.iter().enumerate() {
        let y0 = PAD + r as u32 * row_h;
        if let Some(first) = row.first() {
            let head = caption(&format!("{} ({})", first.selection, first.family), width);
            imageops::replace(&mut sheet, &head, 0, i64::from(y0) + 2);
        }
        for (c, s) in row.iter().enumerate() {
            let x = PAD + c as u32 * cell_w;
            let y = y0 + HEADER;
            let thumb = thumbnail(s).unwrap_or_else(|reason| {
                let mut t = RgbImage::from_pixel(THUMB, THUMB, image::Rgb([255, 225, 225]));
                let msg = caption(&format!("skipped: {reason}"), THUMB);
                imageops::replace(&mut t, &msg, 0, i64::from(THUMB / 2));
                t
            });
            imageops::replace(&mut sheet, &thumb, i64::from(x), i64::from(y));
            let line1 = caption(&format!("{} · {}", s.member, s.modality.name()), THUMB);
            let line2 = caption(&s.variant, THUMB);
            imageops::replace(&mut sheet, &line1, i64::from(x), i64::from(y + THUMB + 1));
            imageops::replace(&mut sheet, &line2, i64::from(x), i64::from(y + THUMB + 15));
        }
    }
    sheet
}
