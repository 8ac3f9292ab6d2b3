//! clip-audit: audit CLIP-family vision-language models for bias and overgeneralization.
//!
//! The library holds every stage of an audit so that the binary (`src/main.rs`) stays a thin
//! shell and tests can drive each stage directly. Data flows one way, through typed values:
//! audit spec → stimuli → model (with taps) → embeddings and pooled unit activations. Later
//! stages (runner, analyses, reports) build on [`spec`], [`stimuli`] and [`model`]; see
//! ARCHITECTURE.md.

#![warn(missing_docs)]

pub mod analysis;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod diagnostics;
pub mod files;
pub mod hashing;
pub mod imaging;
pub mod json;
pub mod model;
pub mod report;
pub mod rng;
pub mod run;
pub mod spec;
pub mod stimuli;
pub mod tui;
pub mod vectors;

/// The version printed in `--version` and recorded in provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
