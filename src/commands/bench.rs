//! `clip-audit bench`: throughput of the embed pipeline against a bare ONNX Runtime session.
//!
//! Both sides see the same model, batch size and thread count. The bare side is fed
//! tensors prepared beforehand, so it measures inference alone; the pipeline side decodes
//! PNG bytes, preprocesses and runs inference through the pipeline `embed` uses
//! (`model::pipeline::encode_all`). Their ratio shows what the
//! pipeline costs on top of the model. Results go into BENCHMARKS.md by hand.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ndarray::Array4;
use rayon::prelude::*;

use super::{Outcome, session_config};
use crate::cli::{BenchArgs, BenchRunArgs};
use crate::model::manifest::PreprocessSpec;
use crate::model::pipeline::{encode_all, stack};
use crate::model::{ClipModel, ImageError, TapSelection, preprocess};

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

/// A synthetic PNG (its name and bytes), decoded.
fn decode_png(png: &(String, Vec<u8>)) -> Result<image::RgbImage, ImageError> {
    preprocess::decode_rgb(Cursor::new(png.1.as_slice()), Path::new(&png.0))
}

/// One batch tensor of images made up front (the bare session's input).
fn batch_of<T>(
    items: &[T],
    spec: &PreprocessSpec,
    make: impl Fn(&T) -> Result<image::RgbImage, ImageError>,
) -> Result<Array4<f32>, ImageError> {
    let tensors: Vec<Vec<f32>> =
        items.iter().map(|i| make(i).map(|img| preprocess::preprocess(&img, spec))).collect::<Result<_, _>>()?;
    Ok(stack(&tensors, spec.size))
}

/// Runs the benchmark and prints the table.
pub fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let config = session_config(&args.runtime);
    let mut model = ClipModel::load(&args.model, &config, &TapSelection::All)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let spec = model.manifest().preprocess;
    eprintln!("generating {} synthetic {}px images…", args.images, args.image_side);
    let pngs: Vec<(String, Vec<u8>)> =
        (0..args.images).map(|i| (format!("synthetic-{i}.png"), synthetic_png(i as u64, args.image_side))).collect();
    // Pre-made tensors for the bare session: the same images, preprocessed up front.
    let tensors: Vec<Array4<f32>> =
        pngs.chunks(args.batch.max(1)).map(|chunk| batch_of(chunk, &spec, decode_png)).collect::<Result<_, _>>()?;
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
        encode_all(&mut model, &pngs, args.batch, decode_png)?;
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

/// Runs a child process and returns its wall time, peak resident memory (bytes) and whether
/// it succeeded.
pub(super) fn timed_child(cmd: &mut std::process::Command) -> anyhow::Result<(f64, u64, bool)> {
    let t = Instant::now();
    let child = cmd.stdout(std::process::Stdio::null()).spawn().with_context(|| format!("cannot start {cmd:?}"))?;
    wait_child(child, t)
}

/// Waits for a child started at `started`: wall time, peak resident memory (bytes), success.
pub(super) fn wait_child(child: std::process::Child, started: Instant) -> anyhow::Result<(f64, u64, bool)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage point to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r != pid {
        anyhow::bail!("waiting for child {pid} failed: {}", std::io::Error::last_os_error());
    }
    // Already reaped by wait4; dropping the handle only closes its (unused) pipes.
    drop(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((started.elapsed().as_secs_f64(), usage.ru_maxrss as u64 * 1024, ok))
}

/// Writes `n` synthetic PNGs into one folder per member (the folders a regions audit reads).
fn write_images(dir: &Path, members: &[&str], n: usize, side: u32) -> anyhow::Result<Vec<PathBuf>> {
    eprintln!("writing {n} synthetic {side}px PNGs to {}…", dir.display());
    (0..n)
        .into_par_iter()
        .map(|i| -> anyhow::Result<PathBuf> {
            let folder = dir.join(members[i % members.len()]);
            std::fs::create_dir_all(&folder)?;
            let p = folder.join(format!("{i:06}.png"));
            std::fs::write(&p, synthetic_png(i as u64, side))?;
            Ok(p)
        })
        .collect()
}

/// The audit spec `bench run` times: the regions library's countries, one image folder each.
fn bench_spec(bundle: &Path, members: &[&str], images: &Path) -> anyhow::Result<String> {
    let probes = std::fs::canonicalize("probes/regions.yaml")
        .context("run `bench run` from the repository root (it uses probes/regions.yaml)")?;
    Ok(format!(
        "audit: bench\nmodel:\n  bundle: {}\nprobes:\n  - library: {}\n    family: countries\n    members: [{}]\n    stimuli:\n      images:\n        - folder: {}/{{id}}\n",
        bundle.display(),
        probes.display(),
        members.join(", "),
        images.display()
    ))
}

/// Images per second of a bare session: one batch of pre-made tensors (the first images),
/// fed as many times as a run over `images` has batches; and the model's input size.
fn bare_rate(bundle: &Path, args: &BenchRunArgs, images: &[PathBuf]) -> anyhow::Result<(f64, u32)> {
    let mut model = ClipModel::load(bundle, &session_config(&args.runtime), &TapSelection::All)?;
    let spec = model.manifest().preprocess;
    let first = &images[..args.batch.max(1).min(images.len())];
    let tensor = batch_of(first, &spec, |p| preprocess::load_rgb(p))?;
    model.encode_images(tensor.view())?;
    let batches = images.len().div_ceil(args.batch.max(1));
    let t = Instant::now();
    for _ in 0..batches {
        model.encode_images(tensor.view())?;
    }
    Ok((batches as f64 * tensor.shape()[0] as f64 / t.elapsed().as_secs_f64(), spec.size))
}

/// Times `scripts/reference_run.py` on the same images: (seconds, peak memory), or None with
/// `--python none`.
fn reference_run(args: &BenchRunArgs, bundle: &Path, images: &Path, work: &Path) -> anyhow::Result<Option<(f64, u64)>> {
    let python = args.python.clone().unwrap_or_else(|| ".venv-scripts/bin/python".to_owned());
    if python == "none" {
        return Ok(None);
    }
    eprintln!("timing scripts/reference_run.py…");
    let mut py = std::process::Command::new(&python);
    py.args(["scripts/reference_run.py", "--model"])
        .arg(bundle)
        .arg("--images")
        .arg(images)
        .arg("--out")
        .arg(work.join("reference.parquet"))
        .args(["--batch", &args.batch.to_string(), "--threads", &args.runtime.threads.to_string()]);
    match timed_child(&mut py) {
        Ok((secs, rss, true)) => Ok(Some((secs, rss))),
        Ok((_, _, false)) => anyhow::bail!("scripts/reference_run.py failed; run `make venv` or pass --python none"),
        Err(e) => anyhow::bail!("{e}; run `make venv` or pass --python none"),
    }
}

/// `bench run`: the runner end to end against a bare session and the Python reference.
pub fn run_pipeline(args: &BenchRunArgs) -> anyhow::Result<Outcome> {
    let members = ["fr", "it", "ie", "ng", "be", "de", "nl", "at", "ee", "ru"];
    let work = tempfile::tempdir().context("cannot create a temporary folder")?;
    let images = work.path().join("images");
    let written = write_images(&images, &members, args.images, args.image_side)?;
    let bundle =
        std::fs::canonicalize(&args.model).with_context(|| format!("no model bundle at {}", args.model.display()))?;
    let spec_path = work.path().join("bench.yaml");
    std::fs::write(&spec_path, bench_spec(&bundle, &members, &images)?)?;
    let (bare, size) = bare_rate(&bundle, args, &written)?;

    let mut run_cmd = std::process::Command::new(std::env::current_exe()?);
    run_cmd.args(["run", spec_path.to_str().unwrap_or_default(), "--out"]).arg(work.path().join("run")).args([
        "--quiet",
        "--batch",
        &args.batch.to_string(),
        "--device",
        &args.runtime.device.to_string(),
        "--threads",
        &args.runtime.threads.to_string(),
    ]);
    eprintln!("timing clip-audit run…");
    let (run_s, run_rss, run_ok) = timed_child(&mut run_cmd)?;
    if !run_ok {
        anyhow::bail!("clip-audit run failed during the benchmark");
    }
    let reference = reference_run(args, &bundle, &images, work.path())?;

    let n = written.len() as f64;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "model          {} ({size}), device {}, batch {}, threads {}",
        bundle.display(),
        args.runtime.device,
        args.batch,
        args.runtime.threads
    );
    println!("stimuli        {} synthetic PNGs of {}px", written.len(), args.image_side);
    println!("bare ort       {bare:>8.2} images/s  (pre-made tensors, inference only)");
    println!(
        "clip-audit run {:>8.2} images/s  (end to end: spec, hashing, decode, preprocess, inference, parquet); peak memory {:.0} MiB",
        n / run_s,
        mib(run_rss)
    );
    println!("run / bare     {:>8.3}  (goal ≥ 0.9)", (n / run_s) / bare);
    if let Some((py_s, py_rss)) = reference {
        println!(
            "python ref     {:>8.2} images/s  (onnxruntime-python + PIL + numpy + pyarrow); peak memory {:.0} MiB",
            n / py_s,
            mib(py_rss)
        );
        println!("run / python   {:>8.3}  (goal ≥ 3)", py_s / run_s);
    }
    Ok(Outcome::Pass)
}
