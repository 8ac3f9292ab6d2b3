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
fn ablating_a_unit_clamps_it_and_changes_what_follows() {
    let plain = encode(&ModelEdit::default());
    let ablate = |units: &[(usize, f32)]| {
        encode(&ModelEdit {
            ablate: units
                .iter()
                .map(|&(unit, value)| Ablation { tap: "image.block0.mlp".into(), unit, units: 256, value })
                .collect(),
            ..Default::default()
        })
    };
    let a = ablate(&[(5, 0.25)]);
    // The tap reads the edited tensor: unit 5 is the clamp value at every token (so its token
    // mean is too), every other unit is untouched.
    let (t, p) = (tap(&a, "image.block0.mlp"), tap(&plain, "image.block0.mlp"));
    for (i, (x, y)) in t.iter().zip(p).enumerate() {
        if i % 256 == 5 {
            assert!((x - 0.25).abs() < 1e-6, "unit 5 clamped: {x}");
        } else {
            assert_eq!(x, y, "unit {} untouched", i % 256);
        }
    }
    // Later layers and the embedding see the edit.
    assert!(max_abs_diff(tap(&a, "image.block1.mlp"), tap(&plain, "image.block1.mlp")) > 1e-6);
    assert!(max_abs_diff(a.embeddings.as_slice().unwrap(), plain.embeddings.as_slice().unwrap()) > 1e-6);
    // Two units of one tap in one edit; the same edit gives the same result.
    let two = ablate(&[(5, 0.25), (9, -0.5)]);
    let t2 = tap(&two, "image.block0.mlp");
    assert!((t2[5] - 0.25).abs() < 1e-6 && (t2[9] + 0.5).abs() < 1e-6);
    assert_eq!(ablate(&[(5, 0.25)]).embeddings, a.embeddings);
    // A unit the tap does not have is an error, not a silent no-op.
    let err = ClipModel::load_edited(
        &tiny(),
        &cpu(),
        &TapSelection::All,
        &ModelEdit {
            ablate: vec![Ablation { tap: "image.block0.mlp".into(), unit: 300, units: 256, value: 0.0 }],
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unit 300") && err.contains("256 units"), "{err}");
}
