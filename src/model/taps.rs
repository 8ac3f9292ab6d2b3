//! Pooling a tapped tensor into one activation per unit and input.
//!
//! Raw model output stays apart from this post-processing: the session returns the tensor
//! as ONNX Runtime computed it, and [`pool`] reduces it according to the tap's layout and
//! pooling, checking that the shape really has that layout.

use ndarray::{Array2, ArrayViewD, Axis, Ix2};

use super::manifest::{Layout, Pooling, TapSpec};

/// A tapped tensor whose shape does not fit the layout its tap declares.
#[derive(Debug, thiserror::Error)]
#[error("tap {tap:?} (tensor {tensor:?}): shape {shape:?} does not fit layout {layout:?} for a batch of {batch}{hint}")]
pub struct TapShapeError {
    /// The tap's name.
    pub tap: String,
    /// The tensor's name.
    pub tensor: String,
    /// The shape ONNX Runtime returned.
    pub shape: Vec<usize>,
    /// The declared layout.
    pub layout: Layout,
    /// The batch size fed.
    pub batch: usize,
    /// What to change.
    pub hint: String,
}

/// Reduces `tensor` to `[batch, units]` as `tap` says.
pub fn pool(tap: &TapSpec, tensor: ArrayViewD<'_, f32>, batch: usize) -> Result<Array2<f32>, TapShapeError> {
    let shape = tensor.shape().to_vec();
    let bad = |hint: &str| TapShapeError {
        tap: tap.name.clone(),
        tensor: tap.tensor.clone(),
        shape: shape.clone(),
        layout: tap.layout,
        batch,
        hint: hint.to_owned(),
    };
    if shape.len() != tap.layout.rank() {
        return Err(bad(&format!(
            "; the layout needs rank {}, the tensor has rank {}",
            tap.layout.rank(),
            shape.len()
        )));
    }
    let batch_axis = if tap.layout == Layout::Tnd { 1 } else { 0 };
    if shape[batch_axis] != batch {
        let hint = match tap.layout {
            Layout::Ntd if shape.get(1) == Some(&batch) => "; the batch is on axis 1: use layout tnd",
            Layout::Tnd if shape.first() == Some(&batch) => "; the batch is on axis 0: use layout ntd",
            _ => "",
        };
        return Err(bad(hint));
    }
    let pooled = match (tap.layout, tap.pooling) {
        (Layout::Nchw, Pooling::SpatialMean) => {
            let (n, c) = (shape[0], shape[1]);
            let flat = tensor.to_shape((n, c, shape[2] * shape[3])).map_err(|_| bad(""))?;
            flat.mean_axis(Axis(2)).ok_or_else(|| bad("; empty spatial dimensions"))?.into_dyn()
        }
        (Layout::Ntd, Pooling::TokenMean) => tensor.mean_axis(Axis(1)).ok_or_else(|| bad("; no tokens"))?,
        (Layout::Tnd, Pooling::TokenMean) => tensor.mean_axis(Axis(0)).ok_or_else(|| bad("; no tokens"))?,
        (Layout::Ntd, Pooling::ClassToken) => tensor.index_axis(Axis(1), 0).to_owned(),
        (Layout::Tnd, Pooling::ClassToken) => tensor.index_axis(Axis(0), 0).to_owned(),
        (Layout::Nd, Pooling::None) => tensor.to_owned(),
        _ => return Err(bad("; this pooling does not apply to this layout")),
    };
    pooled.into_dimensionality::<Ix2>().map_err(|_| bad(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, IxDyn};

    fn tap(layout: Layout, pooling: Pooling) -> TapSpec {
        TapSpec {
            name: "t".into(),
            encoder: super::super::manifest::Encoder::Image,
            tensor: "x".into(),
            layout,
            pooling,
            tensor_position: None,
        }
    }

    #[test]
    fn spatial_mean_averages_h_and_w() {
        let a = Array::from_shape_fn(IxDyn(&[2, 3, 2, 2]), |i| (i[0] * 100 + i[1] * 10 + i[2] * 2 + i[3]) as f32);
        let p = pool(&tap(Layout::Nchw, Pooling::SpatialMean), a.view(), 2).unwrap();
        assert_eq!(p.shape(), &[2, 3]);
        assert_eq!(p[[1, 2]], 120.0 + 1.5);
    }

    #[test]
    fn token_layouts_agree_when_transposed() {
        let ntd = Array::from_shape_fn(IxDyn(&[2, 4, 3]), |i| (i[0] * 100 + i[1] * 10 + i[2]) as f32);
        let tnd = ntd.view().permuted_axes(IxDyn(&[1, 0, 2])).to_owned();
        for pooling in [Pooling::TokenMean, Pooling::ClassToken] {
            let a = pool(&tap(Layout::Ntd, pooling), ntd.view(), 2).unwrap();
            let b = pool(&tap(Layout::Tnd, pooling), tnd.view(), 2).unwrap();
            assert_eq!(a, b);
        }
        let cls = pool(&tap(Layout::Ntd, Pooling::ClassToken), ntd.view(), 2).unwrap();
        assert_eq!(cls.row(1).to_vec(), vec![100.0, 101.0, 102.0]);
    }

    #[test]
    fn wrong_batch_axis_suggests_the_other_layout() {
        let tnd = Array::<f32, _>::zeros(IxDyn(&[5, 2, 3]));
        let err = pool(&tap(Layout::Ntd, Pooling::TokenMean), tnd.view(), 2).unwrap_err();
        assert!(err.to_string().contains("use layout tnd"), "{err}");
    }
}
