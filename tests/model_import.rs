//! `clip-audit model import` on hub folders as users download them: the manifest it writes
//! loads as is and gives transformers' own embeddings (fixtures/models/hf-clip-tiny and
//! hf-siglip-tiny, made by scripts/make_hf_exports.py), in each ONNX layout; folders it cannot
//! import are refused with exit 2, naming the file and what to do.

use std::path::Path;

use clip_audit::vectors::Head;

use crate::common::{check_hub_golden, clip_audit, fixture, texts};

/// A fixture hub folder: where it is and the side files the hub holds beside the ONNX files
/// (its hand-written manifests are left behind).
struct Fixture {
    dir: &'static str,
    side_files: &'static [&'static str],
}

const CLIP: Fixture = Fixture {
    dir: "models/hf-clip-tiny",
    side_files: &[
        "config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
        "merges.txt",
    ],
};

const SIGLIP: Fixture = Fixture {
    dir: "models/hf-siglip-tiny",
    side_files: &["config.json", "preprocessor_config.json", "spiece.model", "tokenizer_config.json"],
};

/// ONNX files copied into a hub folder: `(fixture file, path in the copy)`.
type Files<'a> = &'a [(&'a str, &'a str)];

/// A hub folder in `root/hub` holding the fixture's side files and `onnx`.
fn hub_of(fx: &Fixture, root: &Path, onnx: Files) -> std::path::PathBuf {
    let (src, hub) = (fixture(fx.dir), root.join("hub"));
    std::fs::create_dir_all(hub.join("onnx")).unwrap();
    for f in fx.side_files {
        std::fs::copy(src.join(f), hub.join(f)).unwrap();
    }
    for (from, to) in onnx {
        std::fs::copy(src.join(from), hub.join(to)).unwrap();
    }
    hub
}

/// A CLIP hub folder.
fn hub_in(root: &Path, onnx: Files) -> std::path::PathBuf {
    hub_of(&CLIP, root, onnx)
}

fn import(args: &[&str]) -> (bool, Option<i32>, String, String) {
    let mut all = vec!["model", "import"];
    all.extend_from_slice(args);
    let out = clip_audit(&all);
    let (stdout, stderr) = texts(&out);
    (out.status.success(), out.status.code(), stdout, stderr)
}

/// Loads the manifest and checks it against the fixture's golden (embeddings, pixels, image
/// tap: [`check_hub_golden`]), and the head: SigLIP's has a bias, CLIP's none, and, when
/// `learned`, its scale and bias are the golden's.
fn check_against_golden(fx: &Fixture, manifest: &Path, what: &str, learned: bool) {
    let (g, model) = check_hub_golden(&fixture(fx.dir), manifest, what);
    let (scale, bias) = match model.manifest().head {
        Head::Softmax { scale } => (scale, None),
        Head::Sigmoid { scale, bias } => (scale, Some(bias)),
    };
    assert_eq!(bias.is_some(), g.logit_bias.is_some(), "{what}: the head");
    if learned {
        assert!((scale - g.logit_scale).abs() <= 1e-4, "{what}: logit_scale {scale}, golden {}", g.logit_scale);
        let (b, gb) = (bias.unwrap_or(0.0), g.logit_bias.unwrap_or(0.0));
        assert!((b - gb).abs() <= 1e-4, "{what}: logit_bias {b}, golden {gb}");
    }
}

/// The layouts users download, each `(name, files)`: transformers.js' towers with and
/// without its `onnx/model.onnx` holding both, and optimum's `model.onnx`.
const LAYOUTS: [(&str, Files); 3] = [
    (
        "transformers.js with onnx/model.onnx",
        &[
            ("onnx/vision_model.onnx", "onnx/vision_model.onnx"),
            ("onnx/text_model.onnx", "onnx/text_model.onnx"),
            ("model.onnx", "onnx/model.onnx"),
        ],
    ),
    (
        "transformers.js towers alone",
        &[("onnx/vision_model.onnx", "onnx/vision_model.onnx"), ("onnx/text_model.onnx", "onnx/text_model.onnx")],
    ),
    ("optimum", &[("model.onnx", "model.onnx")]),
];

/// Imports every layout of `fx`, checks what is printed and written, and loads the result.
fn import_every_layout(fx: &Fixture, printed: &[&str], written: &[&str]) {
    for (what, files) in LAYOUTS {
        let tmp = tempfile::tempdir().unwrap();
        let hub = hub_of(fx, tmp.path(), files);
        let (ok, _, stdout, stderr) = import(&[hub.to_str().unwrap()]);
        assert!(ok, "{} {what}: {stderr}", fx.dir);
        for needle in printed {
            assert!(stdout.contains(needle), "{} {what}: {needle:?} missing from:\n{stdout}", fx.dir);
        }
        let yaml = std::fs::read_to_string(hub.join("model.yaml")).unwrap();
        let file = if what == "optimum" { "file: \"model.onnx\"" } else { "file: \"onnx/vision_model.onnx\"" };
        for needle in written.iter().chain([&file, &"name: \"hub\"", &"crop_rounding: hf", &"text.last_mlp"]) {
            assert!(yaml.contains(needle), "{} {what}: {needle:?} missing from:\n{yaml}", fx.dir);
        }
        // Only the towers alone lack the learned scale: the manifest and the command say so.
        let learned = what != "transformers.js towers alone";
        assert_eq!(yaml.contains("NOT the trained value"), !learned, "{what}: {yaml}");
        assert_eq!(stderr.contains("warning: no ONNX file holding both towers"), !learned, "{what}: {stderr}");
        check_against_golden(fx, &hub, &format!("{} {what}", fx.dir), learned);
    }
}

#[test]
fn imported_clip_folders_match_the_transformers_reference_in_every_layout() {
    import_every_layout(
        &CLIP,
        &["tokenizer  hf_tokenizer (tokenizer.json), context 77", "head       softmax", "tap        image.last_mlp"],
        &["kind: hf_tokenizer", "resize: shortest_side", "crop: center", "head: softmax", "image.last_mlp.cls"],
    );
}

/// SigLIP: SentencePiece, squash without crop, the towers' `pooler_output` in transformers.js'
/// files, and the sigmoid head, whose scale and bias optimum's exporter renames in the graph.
#[test]
fn imported_siglip_folders_match_the_transformers_reference_in_every_layout() {
    import_every_layout(
        &SIGLIP,
        &["tokenizer  sentencepiece (spiece.model), context 64", "head       sigmoid", "tap        image.last_mlp"],
        &["kind: sentencepiece", "resize: squash", "crop: none", "head: sigmoid", "logit_bias: "],
    );
}

/// `--out` another folder: the manifest names the hub's files relative to itself.
#[test]
fn a_manifest_written_elsewhere_names_the_hub_files_relative_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_in(tmp.path(), &[("model.onnx", "model.onnx")]);
    let out = tmp.path().join("bundles/clip");
    let (ok, _, stdout, stderr) = import(&[hub.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("wrote      {}", out.join("model.yaml").display())), "{stdout}");
    let yaml = std::fs::read_to_string(out.join("model.yaml")).unwrap();
    assert!(
        yaml.contains("file: \"../../hub/model.onnx\"") && yaml.contains("file: \"../../hub/tokenizer.json\""),
        "{yaml}"
    );
    assert!(!hub.join("model.yaml").exists());
    check_against_golden(&CLIP, &out, "--out", true);
}

#[test]
fn an_existing_manifest_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_in(tmp.path(), &[("model.onnx", "model.onnx")]);
    std::fs::write(hub.join("model.yaml"), "mine").unwrap();
    let (ok, code, _, stderr) = import(&[hub.to_str().unwrap()]);
    assert!(!ok && code == Some(2), "{stderr}");
    assert!(stderr.contains("model.yaml exists; pass --force to overwrite it"), "{stderr}");
    assert_eq!(std::fs::read_to_string(hub.join("model.yaml")).unwrap(), "mine");
    let (ok, _, _, stderr) = import(&[hub.to_str().unwrap(), "--force"]);
    assert!(ok, "{stderr}");
    assert!(std::fs::read_to_string(hub.join("model.yaml")).unwrap().starts_with("# clip-audit model bundle"));
}

#[test]
fn folders_that_cannot_be_imported_are_refused_naming_the_file_and_the_fix() {
    let onnx: Files = &[("model.onnx", "model.onnx")];
    type Break = fn(&Path);
    let cases: [(&str, Files, Break, &[&str]); 5] = [
        ("no ONNX files", &[], |_| {}, &["hub: holds no ONNX model", "optimum-cli export onnx"]),
        (
            "no config.json",
            onnx,
            |hub| std::fs::remove_file(hub.join("config.json")).unwrap(),
            &["config.json: cannot read it", "download the whole model folder"],
        ),
        (
            "a nearest-neighbour resample",
            onnx,
            |hub| {
                let pp = hub.join("preprocessor_config.json");
                let text = std::fs::read_to_string(&pp).unwrap().replace("\"resample\": 3", "\"resample\": 0");
                std::fs::write(pp, text).unwrap();
            },
            &["preprocessor_config.json: resample 0 (nearest) is not supported", "bicubic (3) and bilinear (2)"],
        ),
        (
            "a text tower that takes pixels",
            &[("onnx/vision_model.onnx", "onnx/vision_model.onnx"), ("onnx/vision_model.onnx", "onnx/text_model.onnx")],
            |_| {},
            &["text_model.onnx: has no input input_ids for the token ids; its inputs are: pixel_values"],
        ),
        (
            "a graph without image_embeds",
            onnx,
            drop_image_embeds,
            &[
                "model.onnx: has no output image_embeds for the image tower; its outputs are: logits_per_image, logits_per_text, text_embeds",
            ],
        ),
    ];
    for (what, files, breaks, needles) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let hub = hub_in(tmp.path(), files);
        breaks(&hub);
        let (ok, code, _, stderr) = import(&[hub.to_str().unwrap()]);
        assert!(!ok && code == Some(2), "{what}: exit {code:?}\n{stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{what}: {needle:?} missing from:\n{stderr}");
        }
        assert!(!hub.join("model.yaml").exists(), "{what}: nothing is written");
    }
}

/// Rewrites the hub's model.onnx without `image_embeds` among its outputs.
fn drop_image_embeds(hub: &Path) {
    use clip_audit::model::graph::proto;
    use prost::Message;
    let path = hub.join("model.onnx");
    let mut model = proto::ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
    model.graph.as_mut().unwrap().output.retain(|o| o.name() != "image_embeds");
    std::fs::write(path, model.encode_to_vec()).unwrap();
}

/// The end to end: the shipped denigration audit runs on an imported SigLIP (optimum's
/// single graph, the learned scale and bias read from it), and its report says the labels
/// follow the sigmoid head and counts the images that head alone leaves unlabelled.
#[test]
fn the_denigration_audit_runs_on_an_imported_siglip_with_its_sigmoid_head() {
    let root = tempfile::tempdir().unwrap();
    let hub = hub_of(&SIGLIP, root.path(), &[("model.onnx", "model.onnx")]);
    let (ok, _, _, err) = import(&[hub.to_str().unwrap()]);
    assert!(ok, "{err}");
    let spec = crate::common::root().join("audits/denigration.yaml");
    let out = root.path().join("run");
    let model = format!("model={}", hub.display());
    let r = clip_audit(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        &model,
        "--device",
        "cpu",
        "-q",
        "--fail-on",
        "never",
        "--no-reports",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", texts(&r).1);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("analysis/summary.json")).unwrap()).unwrap();
    let d = &s["denigration"];
    // exp of the learned log-scale, read from the graph's float32 weight.
    assert_eq!(d["head"]["kind"], "sigmoid", "{}", d["head"]);
    assert!((d["head"]["scale"].as_f64().unwrap() - 10.0).abs() < 1e-5, "{}", d["head"]);
    assert!((d["head"]["bias"].as_f64().unwrap() + 10.0).abs() < 1e-5, "{}", d["head"]);
    let (n, below) = (d["n"].as_u64().unwrap(), d["below_half"].as_u64().expect("counted under a sigmoid head"));
    assert!(n > 0 && below <= n, "{n} {below}");
}

/// `model inspect` on the files users hold: in optimum's single graph it tells the towers
/// apart (every MLP activation is the image's or the text's, from the inputs it depends on),
/// finds SigLIP's tanh-approximated GELU, measures every candidate with inputs valid for any
/// vocabulary, says what each input is fed, and suggests taps per tower; on a standalone text
/// graph it suggests text taps.
#[test]
fn inspect_finds_the_mlp_activations_of_every_tower_in_every_layout() {
    for (file, towers) in [
        ("models/hf-siglip-tiny/model.onnx", &["image", "text"][..]),
        ("models/hf-clip-tiny/model.onnx", &["image", "text"][..]),
        ("models/hf-siglip-tiny/onnx/text_model.onnx", &["text"][..]),
    ] {
        let path = fixture(file);
        let out = clip_audit(&["model", "inspect", path.to_str().unwrap(), "--json", "--device", "cpu"]);
        let (stdout, err) = texts(&out);
        assert!(out.status.success(), "{file}: {err}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let e = &v["encoders"][0];
        assert!(e["shape_note"].is_null(), "{file}: the dummy run failed: {}", e["shape_note"]);
        for input in e["inputs"].as_array().unwrap() {
            let fed = input["fed_as"].as_str().unwrap();
            assert!(!fed.starts_with("nothing"), "{file}: input {} is fed {fed}", input["name"]);
        }
        let mlps: Vec<&serde_json::Value> =
            e["candidates"].as_array().unwrap().iter().filter(|c| c["kind"] == "mlp_activation").collect();
        for tower in towers {
            assert!(mlps.iter().any(|c| c["tower"] == *tower && c["shape"].is_array()), "{file}: no {tower} MLP");
            let suggested = e["suggested"].as_array().unwrap();
            let s = suggested.iter().find(|s| s["name"] == format!("{tower}.last_mlp")).expect("a tap per tower");
            assert_eq!(s["encoder"], *tower, "{file}: {s}");
            // The last encoder layer's MLP, not SigLIP's pooling head's.
            assert!(s["tensor"].as_str().unwrap().contains("/encoder/layers."), "{file}: {s}");
        }
        assert_eq!(
            e["suggested"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["name"].as_str().unwrap().ends_with(".last_mlp"))
                .count(),
            towers.len()
        );
    }
}

/// The full-size exports `make hf-exports` writes (CLIP ViT-B/32, SigLIP base-patch16-224;
/// git-ignored, so SKIPPED when absent): imported where they lie and checked against their
/// goldens like the tiny ones.
#[test]
fn full_size_hub_exports_import_and_match_their_goldens_when_present() {
    for (name, fx) in [
        ("hf-clip-vit-b-32", Fixture { dir: "exports/hf-clip-vit-b-32", side_files: &[] }),
        ("hf-siglip-base-patch16-224", Fixture { dir: "exports/hf-siglip-base-patch16-224", side_files: &[] }),
    ] {
        let Some(dir) = crate::common::export(name) else { continue };
        let out = tempfile::tempdir().unwrap();
        let manifest = out.path().join("model.yaml");
        let (ok, _, _, err) = import(&[dir.to_str().unwrap(), "--out", manifest.to_str().unwrap()]);
        assert!(ok, "{name}: {err}");
        check_against_golden(&fx, &manifest, name, true);
    }
}
