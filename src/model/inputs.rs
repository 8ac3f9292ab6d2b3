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
    /// The tokenizer's attention mask: 1 on the text's tokens, 0 on the padding (what a
    /// Hugging Face tokenizer returns with `padding="max_length"`).
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
            TextFeed::AttentionMask => "attention mask from the tokenizer (1 on the text, 0 on the padding)",
            TextFeed::PositionIds => "position ids 0..context",
            TextFeed::TokenTypeIds => "token type ids (zeros)",
        }
    }

    /// The values of this input for a batch of token ids and the attention mask the
    /// tokenizer gave with them (same shape).
    pub fn values(self, ids: &Array2<i64>, mask: &Array2<i64>) -> Array2<i64> {
        match self {
            TextFeed::Ids => ids.clone(),
            TextFeed::AttentionMask => mask.clone(),
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
    fn the_mask_is_the_tokenizers_whatever_the_ids() {
        // Id 0 is a real token ("!") in CLIP's vocabulary and padding elsewhere: the mask fed
        // is the tokenizer's, never derived from the ids.
        let ids = array![[49406, 0, 49407, 0, 0], [49406, 320, 1125, 539, 49407], [1, 2, 3, 4, 5]];
        let mask = array![[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];
        assert_eq!(TextFeed::AttentionMask.values(&ids, &mask), mask);
        assert_eq!(TextFeed::Ids.values(&ids, &mask), ids);
        assert_eq!(TextFeed::PositionIds.values(&ids, &mask).row(2).to_vec(), vec![0, 1, 2, 3, 4]);
        assert!(TextFeed::TokenTypeIds.values(&ids, &mask).iter().all(|&v| v == 0));
    }

    #[test]
    fn inputs_are_matched_by_the_names_exports_use() {
        assert_eq!(TextFeed::for_input("input_ids", "input_ids"), Some(TextFeed::Ids));
        assert_eq!(TextFeed::for_input("text", "text"), Some(TextFeed::Ids));
        assert_eq!(TextFeed::for_input("attention_mask", "input_ids"), Some(TextFeed::AttentionMask));
        assert_eq!(TextFeed::for_input("pixel_values", "input_ids"), None);
    }
}
