//! What each input of a text graph is fed, so that exports whose text tower takes more than
//! token ids load and run: Hugging Face's CLIP text graphs (transformers.js, optimum) take
//! `input_ids` and `attention_mask`, and other exports add `position_ids` or `token_type_ids`.
//! Every input of a graph is matched to a feed when the model loads; an input that nothing
//! here can feed is refused then, by name, instead of failing at the first inference.

use ndarray::Array2;

/// What clip-audit puts into one input of the text graph, for token ids `[N, context]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFeed {
    /// The token ids themselves (the manifest's `text_encoder.input`).
    Ids,
    /// 1 for every token up to and including the end-of-text token, 0 for the padding after
    /// it (what a Hugging Face tokenizer returns with `padding="max_length"`).
    AttentionMask,
    /// `0, 1, ..., context - 1` in every row (what the models compute when it is left out).
    PositionIds,
    /// Zeros: CLIP-family text towers have one segment.
    TokenTypeIds,
}

impl TextFeed {
    /// The feed for the input `name` of a text graph whose ids input is `ids_input`; None for
    /// an input clip-audit cannot feed.
    pub fn for_input(name: &str, ids_input: &str) -> Option<Self> {
        match name {
            n if n == ids_input => Some(TextFeed::Ids),
            "attention_mask" => Some(TextFeed::AttentionMask),
            "position_ids" => Some(TextFeed::PositionIds),
            "token_type_ids" => Some(TextFeed::TokenTypeIds),
            _ => None,
        }
    }

    /// In words, for `model inspect` and errors.
    pub fn describe(self) -> &'static str {
        match self {
            TextFeed::Ids => "token ids",
            TextFeed::AttentionMask => "attention mask from the tokenizer (1 through the end-of-text token)",
            TextFeed::PositionIds => "position ids 0..context",
            TextFeed::TokenTypeIds => "token type ids (zeros)",
        }
    }

    /// The values of this input for a batch of token ids, whose rows each end their text with
    /// the end-of-text id `eot` (padding follows it).
    pub fn values(self, ids: &Array2<i64>, eot: i64) -> Array2<i64> {
        match self {
            TextFeed::Ids => ids.clone(),
            TextFeed::AttentionMask => {
                let mut mask = Array2::<i64>::zeros(ids.raw_dim());
                for (mut m, row) in mask.rows_mut().into_iter().zip(ids.rows()) {
                    // Through the first end-of-text token; a row without one is all text.
                    let len = row.iter().position(|&v| v == eot).map_or(row.len(), |p| p + 1);
                    m.slice_mut(ndarray::s![..len]).fill(1);
                }
                mask
            }
            TextFeed::PositionIds => Array2::from_shape_fn(ids.raw_dim(), |(_, j)| j as i64),
            TextFeed::TokenTypeIds => Array2::zeros(ids.raw_dim()),
        }
    }
}

/// The names of the inputs clip-audit can feed a text graph whose ids input is `ids_input`.
pub fn known_text_inputs(ids_input: &str) -> String {
    format!("{ids_input}, attention_mask, position_ids, token_type_ids")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_mask_covers_the_text_through_its_end_token_whatever_the_ids_after() {
        // Id 0 is a real token ("!") in CLIP's vocabulary: the mask must not be `ids != 0`.
        let ids = array![[49406, 0, 49407, 0, 0], [49406, 320, 1125, 539, 49407], [1, 2, 3, 4, 5]];
        let mask = TextFeed::AttentionMask.values(&ids, 49407);
        assert_eq!(mask, array![[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]);
        assert_eq!(TextFeed::PositionIds.values(&ids, 49407).row(2).to_vec(), vec![0, 1, 2, 3, 4]);
        assert!(TextFeed::TokenTypeIds.values(&ids, 49407).iter().all(|&v| v == 0));
    }

    #[test]
    fn inputs_are_matched_by_the_names_exports_use() {
        assert_eq!(TextFeed::for_input("input_ids", "input_ids"), Some(TextFeed::Ids));
        assert_eq!(TextFeed::for_input("text", "text"), Some(TextFeed::Ids));
        assert_eq!(TextFeed::for_input("attention_mask", "input_ids"), Some(TextFeed::AttentionMask));
        assert_eq!(TextFeed::for_input("pixel_values", "input_ids"), None);
    }
}
