//! Words as stimuli for `clip-audit search`: a query's renderings and prompts, and the fixed
//! background of other words they are standardised against.
//!
//! Goh et al. (2021) found many of their units from text alone: a unit's response to a word
//! means little in isolation (a unit may respond to any ink), so the query is compared with the
//! same unit's responses to many other words drawn the same way. The background is fixed and
//! compiled in, so a search is reproducible and two searches are comparable; the query itself
//! (in any case) is left out of it.

use image::RgbImage;

use super::render::render_text;
use crate::spec::audit::Placement;

/// The background: common English nouns, adjectives and verbs of everyday scenes, none a
/// country, emotion, demographic or sensitive attribute of the probe libraries.
pub const BACKGROUND: &[&str] = &[
    "table", "chair", "window", "door", "garden", "river", "mountain", "bridge", "street", "kitchen", "bottle",
    "pencil", "paper", "letter", "clock", "lamp", "shoe", "jacket", "basket", "bicycle", "train", "boat", "engine",
    "wheel", "ladder", "hammer", "rope", "bucket", "candle", "mirror", "pillow", "blanket", "carpet", "curtain",
    "shelf", "drawer", "button", "pocket", "ribbon", "needle", "orange", "apple", "bread", "cheese", "butter", "sugar",
    "coffee", "water", "cloud", "rain", "snow", "wind", "stone", "sand", "grass", "flower", "tree", "leaf", "forest",
    "field", "island", "valley", "ocean", "beach", "harbor", "castle", "tower", "market", "office", "school",
    "library", "museum", "garage", "station", "airport", "camera", "piano", "guitar", "violin", "drum", "painting",
    "picture", "ticket", "wallet", "umbrella", "helmet", "glove", "scarf", "fence", "gate", "roof", "wall", "floor",
    "corner", "circle", "square", "number", "yellow", "purple", "quiet", "heavy", "narrow", "bright", "simple",
    "early", "running", "reading", "walking", "cooking",
];

/// Font sizes a word is rendered at on a `canvas`-pixel square: about 3/32, 5/32 and 7/32
/// of the side, at least 6 px.
fn sizes(canvas: u32) -> [u32; 3] {
    [3, 5, 7].map(|k| (canvas * k / 32).max(6))
}

/// A word's renderings: black on white, centred, as written and in upper case, at three sizes
/// (about 3/32, 5/32 and 7/32 of the side, at least 6 px); identical renderings once (on a
/// small canvas the sizes may coincide).
pub fn renderings(word: &str, canvas: u32) -> Vec<RgbImage> {
    let mut cases = vec![word.to_owned(), word.to_uppercase()];
    cases.dedup();
    let mut out = Vec::new();
    for text in &cases {
        for size in sizes(canvas) {
            let (img, _) = render_text(text, canvas, size, Placement::Center, [0, 0, 0], [255, 255, 255]);
            if !out.contains(&img) {
                out.push(img);
            }
        }
    }
    out
}

/// A word's prompts for the text tower.
pub fn prompts(word: &str) -> Vec<String> {
    vec![word.to_owned(), format!("a photo of {word}."), format!("the word \"{word}\".")]
}

/// The background words other than `query` (compared without case), each once.
pub fn background(query: &str) -> Vec<&'static str> {
    let q = query.trim().to_lowercase();
    let mut out: Vec<&'static str> = BACKGROUND.iter().copied().filter(|w| *w != q).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_left_out_of_its_background_and_renderings_differ() {
        assert!(!background("Apple").contains(&"apple"));
        assert_eq!(background("zebra").len(), background("apple").len() + 1);
        let r = renderings("red", 64);
        assert_eq!(r.len(), 6);
        assert!(r.iter().all(|img| img.dimensions() == (64, 64)));
        assert!(r.iter().all(|img| img.pixels().any(|p| p.0 == [0, 0, 0]) || img.pixels().any(|p| p.0[0] < 128)));
        assert_eq!(renderings("42", 64).len(), 3, "a word without case is rendered once per size");
    }
}
