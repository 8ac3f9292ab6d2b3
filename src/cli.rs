//! The command line, declared with clap's derive API. Only commands that work are listed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::Device;

/// Audit CLIP-family vision-language models for bias and overgeneralization.
///
/// clip-audit reads a model bundle (a folder with model.yaml and ONNX encoders), runs its
/// image and text towers through ONNX Runtime, and reads both its embeddings and the
/// activations of its internal units ("taps").
///
/// Exit codes: 0 success, 1 findings at error level, 2 the command itself failed.
#[derive(Debug, Parser)]
#[command(name = "clip-audit", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look inside model bundles and ONNX exports.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Print embeddings and tap activations for images and texts.
    ///
    /// Images are preprocessed exactly as CLIP does; texts are tokenized with CLIP's BPE.
    /// Embeddings are printed normalized; with both images and texts, also the cosine
    /// similarities and zero-shot probabilities (softmax over the texts at the model's
    /// logit scale).
    ///
    /// Example: clip-audit embed --model fixtures/models/tiny-clip --image cat.png --text "a photo of a cat"
    Embed(EmbedArgs),
    /// Measure throughput: the embed pipeline against a bare ONNX Runtime session.
    ///
    /// Generates synthetic images in memory, then times (a) decoding, preprocessing and
    /// inference as `embed` does them and (b) a bare session fed pre-made tensors, with the
    /// same batch size and threads, and prints images per second and their ratio.
    Bench(BenchArgs),
}

/// `model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List inputs, outputs and candidate tap points with their shapes.
    ///
    /// Takes a bundle folder, its model.yaml, or a single .onnx file. Candidates are the
    /// activation outputs of MLP blocks and the outputs of residual convolutional blocks,
    /// grouped by layer, with shapes measured by one dummy inference, and ready-to-paste
    /// tap entries for model.yaml.
    Inspect {
        /// A bundle folder, a model.yaml, or an .onnx file.
        target: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Device and threads.
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
}

/// Options for running a model.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Where to run: cpu, cuda, cuda:N, or auto (CUDA when usable, else CPU with a warning).
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub device: Device,
    /// Threads for ONNX Runtime (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_device(s: &str) -> Result<Device, String> {
    s.parse::<Device>().map_err(|e| e.to_string())
}

/// Arguments of `embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// The model bundle (folder with model.yaml).
    #[arg(long, short)]
    pub model: PathBuf,
    /// An image file; repeat for more.
    #[arg(long = "image", short = 'i', value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// A text; repeat for more.
    #[arg(long = "text", short = 't', value_name = "STR")]
    pub texts: Vec<String>,
    /// Only these taps (default: all taps in model.yaml).
    #[arg(long = "tap", value_name = "NAME")]
    pub taps: Vec<String>,
    /// Print JSON (full vectors) instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Images per inference batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model bundle to time (e.g. fixtures/exports/vit-b-32 from `make exports`).
    #[arg(long, short)]
    pub model: PathBuf,
    /// Number of synthetic images.
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Side of the synthetic images before preprocessing.
    #[arg(long, default_value_t = 320)]
    pub image_side: u32,
    /// Repetitions of each measurement (the best is reported).
    #[arg(long, default_value_t = 2)]
    pub repeat: usize,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}
