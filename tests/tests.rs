//! clip-audit's integration tests, compiled as one binary (faster to build and link).
//!
//! They run against committed fixtures: the tiny random-weight bundle with golden outputs
//! from onnxruntime-python, preprocessing references from Pillow + torchvision, and
//! tokenizer ids from open_clip. Tests that need the big exports of `make exports` say
//! SKIPPED and return when those are absent.

mod analysis_decision;
mod analysis_run;
mod analysis_stats;
mod autodiff_goldens;
mod ci_recipe;
mod common;
mod image_decoding;
mod layers;
mod model_bad_input;
mod model_cli;
mod model_edit;
mod model_golden;
mod model_import;
mod organism_ground_truth;
mod preprocess_reference;
mod report_cards;
mod report_formats;
mod report_map;
mod run_store;
mod search_units;
mod spec_diagnostics;
mod spec_fuzz;
mod spec_libraries;
mod stimuli_expansion;
mod tokenizer_reference;
mod tui;
mod visualize_units;
