//! Embedding arithmetic, written once for every layer: CLIP compares embeddings by cosine, so
//! the model layer (`embed`'s output) and the analyses (zero-shot labels, prompt ensembles)
//! both scale vectors to unit length, and must do it the same way. The zero-shot head (how
//! cosines become label probabilities: CLIP's softmax, SigLIP's sigmoid) is here for the same
//! reason: the model layer reads it from the bundle, `embed` prints its probabilities, and the
//! analyses that label images say which head the labels follow. Norms and dot products are
//! summed in f64 so that long vectors (768 to 1,024 dimensions) lose no precision in f32.
//! Below every layer.

use ndarray::{Array2, ArrayView1, ArrayView2};

/// `v / |v|`, the norm summed in f64 (a zero vector stays zero).
pub fn l2_normalized(v: ArrayView1<'_, f32>) -> Vec<f32> {
    let n = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if n > 0.0 { v.iter().map(|x| (f64::from(*x) / n) as f32).collect() } else { v.to_vec() }
}

/// Every row of a `[N, D]` matrix scaled to unit length, as [`l2_normalized`] scales one.
pub fn l2_normalized_rows(m: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut out = m.to_owned();
    for mut row in out.rows_mut() {
        let unit = l2_normalized(row.view());
        row.iter_mut().zip(unit).for_each(|(dst, v)| *dst = v);
    }
    out
}

/// Dot product in f64 (the cosine of two unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
}

/// Cosine similarity of two vectors of any length, in f64 (WEAT's `cos`, Caliskan et al.
/// 2017); NaN for a zero vector or mismatched lengths.
pub fn cosine(u: &[f32], v: &[f32]) -> f64 {
    if u.len() != v.len() {
        return f64::NAN;
    }
    let (mut dot, mut nu, mut nv) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in u.iter().zip(v) {
        let (a, b) = (f64::from(a), f64::from(b));
        dot += a * b;
        nu += a * a;
        nv += b * b;
    }
    dot / (nu.sqrt() * nv.sqrt())
}

/// The mean of unit vectors, renormalised: CLIP's prompt ensembling (Radford et al. 2021,
/// section 3.1.4). None for no vectors.
pub fn ensemble(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut sum = vec![0f64; first.len()];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += f64::from(*x);
        }
    }
    let n = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    Some(sum.iter().map(|x| if n > 0.0 { (x / n) as f32 } else { 0.0 }).collect())
}

/// How a model turns cosine similarities into zero-shot probabilities.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Head {
    /// CLIP (Radford et al. 2021): a softmax over the labels of `scale · cos`; the
    /// probabilities of one image sum to 1.
    Softmax {
        /// The learned temperature, `exp(logit_scale)` (100 for OpenAI CLIP).
        scale: f64,
    },
    /// SigLIP (Zhai et al. 2023): each label on its own, `sigmoid(scale · cos + bias)`; an
    /// image may get every label or none.
    Sigmoid {
        /// `exp(logit_scale)`.
        scale: f64,
        /// The learned bias (about -10 to -16 for SigLIP).
        bias: f64,
    },
}

impl Head {
    /// The probability of each label from its cosine with the image, `[labels]`.
    pub fn probabilities(&self, cosines: &[f64]) -> Vec<f64> {
        match *self {
            Head::Softmax { scale } => {
                let m = cosines.iter().map(|c| scale * c).fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = cosines.iter().map(|c| (scale * c - m).exp()).collect();
                let sum: f64 = e.iter().sum();
                e.into_iter().map(|v| v / sum).collect()
            }
            Head::Sigmoid { scale, bias } => {
                cosines.iter().map(|c| 1.0 / (1.0 + (-(scale * c + bias)).exp())).collect()
            }
        }
    }

    /// In words, for reports: the rule and its parameters.
    pub fn describe(&self) -> String {
        match self {
            Head::Softmax { scale } => format!("softmax over the labels at logit scale {scale:.4} (CLIP)"),
            Head::Sigmoid { scale, bias } => {
                format!("sigmoid per label at logit scale {scale:.4} and bias {bias:.4} (SigLIP)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rows_are_scaled_to_unit_length_and_zero_rows_stay_zero() {
        let m = array![[3.0f32, 4.0], [0.0, 0.0]];
        let u = l2_normalized_rows(m.view());
        assert_eq!(u, array![[0.6f32, 0.8], [0.0, 0.0]]);
        assert!((dot(&[0.6, 0.8], &[0.6, 0.8]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn heads_turn_cosines_into_probabilities_as_clip_and_siglip_do() {
        let p = Head::Softmax { scale: 100.0 }.probabilities(&[0.30, 0.28]);
        // exp(30) / (exp(30) + exp(28)) = 1 / (1 + exp(-2)).
        assert!((p[0] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-12 && (p[0] + p[1] - 1.0).abs() < 1e-12);
        let q = Head::Sigmoid { scale: 10.0, bias: -2.0 }.probabilities(&[0.30, 0.1]);
        assert!((q[0] - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-12);
        assert!((q[1] - 1.0 / (1.0 + 1.0f64.exp())).abs() < 1e-12);
    }

    #[test]
    fn an_ensemble_is_the_renormalised_mean() {
        let e = ensemble(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((e[0] - h).abs() < 1e-6 && (e[1] - h).abs() < 1e-6);
        assert!(ensemble(&[]).is_none());
    }
}
