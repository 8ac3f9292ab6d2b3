//! Compiles the protobuf schemas clip-audit decodes with protox, so that building it needs no
//! `protoc` binary: `proto/onnx.proto` (Apache-2.0, from the `onnx` wheel) for ONNX graphs,
//! and `proto/sentencepiece_model.proto` (Apache-2.0, the fields clip-audit reads of
//! SentencePiece's schema) for `spiece.model` tokenizers.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 2] = ["proto/onnx.proto", "proto/sentencepiece_model.proto"];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
