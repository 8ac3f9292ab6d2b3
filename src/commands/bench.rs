//! `clip-audit bench`: throughput of the embed pipeline against a bare ONNX Runtime session.
//!
//! Both sides see the same model, batch size and thread count. The bare side is fed
//! tensors prepared beforehand, so it measures inference alone; the pipeline side decodes
//! PNG bytes, preprocesses and runs inference as `embed` does. Their ratio shows what the
//! pipeline costs on top of the model. Results go into BENCHMARKS.md by hand.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use ndarray::{Array4, Axis};

use super::embed::{ImageSource, encode_images_pipelined};
use super::{Outcome, session_config};
use crate::cli::BenchArgs;
use crate::model::{ClipModel, TapSelection, preprocess};

fn synthetic_png(seed: u64, side: u32) -> Vec<u8> {
    // A smooth pattern plus xorshift noise: compresses like a photo, not like a flat colour.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state & 0x3f) as u8;
        image::Rgb([(x * 255 / side) as u8 ^ n, (y * 255 / side) as u8, ((x + y) % 256) as u8 ^ (n >> 1)])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).expect("PNG encoding to memory");
    out
}

/// Runs the benchmark and prints the table.
pub fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let config = session_config(&args.runtime);
    let mut model = ClipModel::load(&args.model, &config, &TapSelection::All)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let spec = model.manifest().preprocess;
    let s = spec.size as usize;
    eprintln!("generating {} synthetic {}px images…", args.images, args.image_side);
    let sources: Vec<ImageSource> = (0..args.images)
        .map(|i| ImageSource::Bytes(format!("synthetic-{i}.png"), Arc::new(synthetic_png(i as u64, args.image_side))))
        .collect();
    // Pre-made tensors for the bare session: the same images, preprocessed up front.
    let mut tensors = Vec::new();
    for chunk in sources.chunks(args.batch.max(1)) {
        let mut arr = Array4::<f32>::zeros((chunk.len(), 3, s, s));
        for (mut slot, src) in arr.axis_iter_mut(Axis(0)).zip(chunk) {
            let ImageSource::Bytes(name, bytes) = src else { unreachable!("bench makes bytes") };
            let rgb = preprocess::decode_rgb(Cursor::new(bytes.as_slice()), std::path::Path::new(name))?;
            slot.as_slice_mut().expect("contiguous").copy_from_slice(&preprocess::preprocess(&rgb, &spec));
        }
        tensors.push(arr);
    }
    // Warm-up: one batch each way.
    model.encode_images(tensors[0].view())?;

    let mut bare_best = f64::INFINITY;
    let mut pipe_best = f64::INFINITY;
    for round in 0..args.repeat.max(1) {
        let t = Instant::now();
        for batch in &tensors {
            model.encode_images(batch.view())?;
        }
        bare_best = bare_best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        encode_images_pipelined(&mut model, &sources, args.batch)?;
        pipe_best = pipe_best.min(t.elapsed().as_secs_f64());
        eprintln!("round {}: bare {:.2}s, pipeline {:.2}s", round + 1, bare_best, pipe_best);
    }
    let n = args.images as f64;
    let taps = model.taps(crate::model::Encoder::Image).len();
    println!(
        "model       {} ({}), device {}, batch {}, threads {}, taps {taps}",
        model.manifest().name,
        args.model.display(),
        model.device(),
        args.batch,
        if args.runtime.threads == 0 { "auto".to_owned() } else { args.runtime.threads.to_string() }
    );
    println!("images      {} synthetic PNGs of {}px, best of {}", args.images, args.image_side, args.repeat.max(1));
    println!("bare ort    {:>8.2} images/s  (pre-made tensors, inference only)", n / bare_best);
    println!("embed       {:>8.2} images/s  (decode + preprocess + inference, overlapped)", n / pipe_best);
    println!("ratio       {:>8.3}  (embed / bare; goal ≥ 0.9)", bare_best / pipe_best);
    Ok(Outcome::Pass)
}
