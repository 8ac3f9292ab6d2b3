//! The image pipeline every command that encodes images shares (`run`, `embed`, `bench`),
//! written once: a producer thread makes the next batch's images (decoding files, rendering
//! text, compositing) and preprocesses them in parallel while the model runs the current batch.
//! The channel between them holds two batches, so memory holds a bounded number of batches
//! whatever the number of images (two in the channel, one the producer is sending or making,
//! one the model is running), and inference never waits on decoding when decoding is the
//! faster side.

use std::sync::mpsc;

use image::RgbImage;
use ndarray::{Array4, Axis};
use rayon::prelude::*;

use super::manifest::PreprocessSpec;
use super::preprocess::{ImageError, preprocess};
use super::{ClipModel, Encoded, ModelError};

/// Why [`encode_all`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// An image could not be made (the first, in input order).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Encodes every item's image through [`pipelined`], one [`Encoded`] per batch in input
/// order; the first image that cannot be made stops it with that image's error (`embed` and
/// `bench embed`, where every image was asked for by name). The runner, which skips a bad
/// stimulus and goes on, uses [`pipelined`] itself.
pub fn encode_all<T: Sync>(
    model: &mut ClipModel,
    items: &[T],
    batch: usize,
    make: impl Fn(&T) -> Result<RgbImage, ImageError> + Sync,
) -> Result<Vec<Encoded>, EncodeError> {
    let spec = model.manifest().preprocess;
    let mut out = Vec::new();
    pipelined(
        items,
        batch,
        &spec,
        |item| make(item).map(|img| (img, ())),
        |b| -> Result<(), EncodeError> {
            if let Some((_, e)) = b.failed.into_iter().next() {
                return Err(e.into());
            }
            out.push(model.encode_images(b.tensor.view())?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// One batch as the producer hands it over.
#[derive(Debug)]
pub struct Prepared<'a, T, X, E> {
    /// The items whose image was made, in input order, with what `make` returned beside it.
    pub ok: Vec<(&'a T, X)>,
    /// Their `[ok.len(), 3, size, size]` preprocessed tensor, in the same order.
    pub tensor: Array4<f32>,
    /// The items whose image could not be made, with why, in input order.
    pub failed: Vec<(&'a T, E)>,
}

impl<T, X, E> Prepared<'_, T, X, E> {
    /// How many items the batch tried (made or failed).
    pub fn attempted(&self) -> usize {
        self.ok.len() + self.failed.len()
    }
}

/// Stacks `[3, size, size]` tensors (as [`preprocess`] returns them) into one
/// `[N, 3, size, size]` batch.
///
/// # Panics
/// If a tensor does not hold `3 * size * size` values.
pub fn stack(tensors: &[Vec<f32>], size: u32) -> Array4<f32> {
    let s = size as usize;
    let mut out = Array4::<f32>::zeros((tensors.len(), 3, s, s));
    for (mut slot, t) in out.axis_iter_mut(Axis(0)).zip(tensors) {
        slot.as_slice_mut().expect("a fresh array is contiguous").copy_from_slice(t);
    }
    out
}

/// Makes and preprocesses the images of `items` in batches of `batch` on a producer thread
/// (each batch in parallel), one batch ahead of `consume`, which gets every batch in input
/// order. `make` returns an item's image and anything to carry beside it (a typographic
/// composite's text coverage), or why it cannot; a failed item is handed to `consume` in the
/// batch's `failed` list, and the pipeline goes on. The first error `consume` returns stops
/// the producer and is returned.
pub fn pipelined<'a, T, X, E, R>(
    items: &'a [T],
    batch: usize,
    spec: &PreprocessSpec,
    make: impl Fn(&T) -> Result<(RgbImage, X), E> + Sync,
    mut consume: impl FnMut(Prepared<'a, T, X, E>) -> Result<(), R>,
) -> Result<(), R>
where
    T: Sync,
    X: Send,
    E: Send,
{
    let batch = batch.max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Prepared<'a, T, X, E>>(2);
        let make = &make;
        scope.spawn(move || {
            for chunk in items.chunks(batch) {
                let made: Vec<Result<(Vec<f32>, X), E>> =
                    chunk.par_iter().map(|item| make(item).map(|(img, x)| (preprocess(&img, spec), x))).collect();
                let (mut ok, mut tensors, mut failed) = (Vec::new(), Vec::new(), Vec::new());
                for (item, m) in chunk.iter().zip(made) {
                    match m {
                        Ok((t, x)) => {
                            tensors.push(t);
                            ok.push((item, x));
                        }
                        Err(e) => failed.push((item, e)),
                    }
                }
                let tensor = stack(&tensors, spec.size);
                if tx.send(Prepared { ok, tensor, failed }).is_err() {
                    break; // the consumer stopped
                }
            }
        });
        // Returning early drops `rx`, which ends the producer at its next send.
        rx.into_iter().try_for_each(&mut consume)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: u32) -> PreprocessSpec {
        PreprocessSpec { size, mean: [0.0; 3], std: [1.0; 3], ..Default::default() }
    }

    #[test]
    fn batches_arrive_in_order_with_failures_listed_and_the_rest_encoded() {
        let items: Vec<u8> = (0..7).collect();
        let mut seen = Vec::new();
        let mut failed = Vec::new();
        let r: Result<(), ()> = pipelined(
            &items,
            3,
            &spec(2),
            |&i| {
                if i == 4 {
                    Err(format!("item {i}"))
                } else {
                    Ok((RgbImage::from_pixel(2, 2, image::Rgb([i, 0, 0])), i))
                }
            },
            |b| {
                assert_eq!(b.tensor.shape()[0], b.ok.len());
                for (k, (item, x)) in b.ok.iter().enumerate() {
                    assert_eq!(**item, *x);
                    // The red plane of the item's image, scaled to [0, 1].
                    assert_eq!(b.tensor[[k, 0, 0, 0]], f32::from(*x) / 255.0);
                }
                seen.extend(b.ok.iter().map(|(i, _)| **i));
                failed.extend(b.failed.into_iter().map(|(_, e)| e));
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(seen, vec![0, 1, 2, 3, 5, 6]);
        assert_eq!(failed, vec!["item 4".to_owned()]);
    }

    #[test]
    fn an_error_of_the_consumer_stops_the_pipeline() {
        let items: Vec<u8> = (0..100).collect();
        let mut batches = 0;
        let r = pipelined(
            &items,
            1,
            &spec(1),
            |_| Ok::<_, ()>((RgbImage::new(1, 1), ())),
            |_| {
                batches += 1;
                if batches == 2 { Err("stop") } else { Ok(()) }
            },
        );
        assert_eq!(r, Err("stop"));
        assert_eq!(batches, 2);
    }
}
