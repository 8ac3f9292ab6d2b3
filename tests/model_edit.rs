//! Graph edits made in memory: the null baseline's re-drawn weights and unit ablation.

use clip_audit::model::{Ablation, ClipModel, Device, Encoded, ModelEdit, SessionConfig, TapSelection};
use ndarray::Array4;

use crate::common::{max_abs_diff, tiny};

fn cpu() -> SessionConfig {
    SessionConfig::default().with_device(Device::Cpu).with_threads(1)
}

fn batch() -> Array4<f32> {
    Array4::from_shape_fn((2, 3, 32, 32), |(n, c, y, x)| ((n * 7 + c * 3 + y * 5 + x) % 17) as f32 / 8.0 - 1.0)
}

fn encode(edit: &ModelEdit) -> Encoded {
    let mut m = ClipModel::load_edited(&tiny(), &cpu(), &TapSelection::All, edit).expect("loads");
    m.encode_images(batch().view()).expect("runs")
}

fn tap<'a>(e: &'a Encoded, name: &str) -> &'a [f32] {
    e.taps.iter().find(|t| t.0 == name).expect("tap").1.as_slice().expect("contiguous")
}

#[test]
fn a_null_copy_is_deterministic_per_seed_and_differs_from_the_trained_model() {
    let plain = encode(&ModelEdit::default());
    let null = |seed| encode(&ModelEdit { randomize: Some(seed), ..Default::default() });
    let (a, b, c) = (null(1), null(1), null(2));
    let emb = |e: &Encoded| e.embeddings.as_slice().unwrap().to_vec();
    assert_eq!(emb(&a), emb(&b), "same seed, same weights");
    assert!(max_abs_diff(&emb(&a), &emb(&c)) > 1e-3, "another seed draws other weights");
    assert!(max_abs_diff(&emb(&a), &emb(&plain)) > 1e-3, "the null is not the model");
    assert_eq!(a.embeddings.shape(), plain.embeddings.shape());
    assert!(a.embeddings.iter().all(|v| v.is_finite()));
}

#[test]
fn ablating_a_unit_changes_what_follows_it_and_not_the_tap_itself() {
    let plain = encode(&ModelEdit::default());
    let ablate = |unit: usize, value: f32| {
        encode(&ModelEdit {
            ablate: vec![Ablation { tap: "image.block0.mlp".into(), unit, units: 256, value }],
            ..Default::default()
        })
    };
    let a = ablate(5, 0.0);
    // The tap reads the tensor before the edit; later layers and the embedding see the edit.
    assert_eq!(tap(&a, "image.block0.mlp"), tap(&plain, "image.block0.mlp"));
    assert!(max_abs_diff(tap(&a, "image.block1.mlp"), tap(&plain, "image.block1.mlp")) > 1e-6);
    assert!(max_abs_diff(a.embeddings.as_slice().unwrap(), plain.embeddings.as_slice().unwrap()) > 1e-6);
    // Another unit, another change; the same edit, the same result.
    let b = ablate(6, 0.0);
    assert!(max_abs_diff(a.embeddings.as_slice().unwrap(), b.embeddings.as_slice().unwrap()) > 1e-7);
    assert_eq!(ablate(5, 0.0).embeddings, a.embeddings);
    // Clamping to a value is not zeroing.
    let c = ablate(5, 3.0);
    assert!(max_abs_diff(a.embeddings.as_slice().unwrap(), c.embeddings.as_slice().unwrap()) > 1e-6);
}
