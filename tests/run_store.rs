//! The runner: a store that is complete, reusable, resumable after a kill, honest about what
//! it skipped, and the same whether sharded or not.

use std::path::{Path, PathBuf};
use std::process::Command;

use clip_audit::run::TableMatrices;
use clip_audit::run::store::{Table, find_stores, read_matrices, read_run_tables, read_table};
use polars::prelude::*;

use crate::common::{root, run, texts};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clip-audit"));
    c.current_dir(root());
    c
}

/// A small spec in `dir`: 6 flag countries with prompts, rendered names, flag images and
/// typographic composites, on the tiny model.
fn spec(dir: &Path, extra_images: Option<&str>) -> PathBuf {
    let images = extra_images.map_or(String::new(), |f| format!("        - folder: {f}/{{id}}\n"));
    let text = format!(
        "audit: small\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [fr, it, ie, de, nl, at]\n    stimuli:\n      prompts: {{aliases: true}}\n      rendered_text: {{sizes: [20, 32], cases: [as-is, upper]}}\n      images:\n        - folder: {r}/fixtures/images/flags/{{id}}\n{images}      typographic: {{per_image: 2}}\n",
        r = root().display()
    );
    let p = dir.join("small.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn table(out: &Path, t: Table) -> DataFrame {
    read_table(&find_stores(&[out.to_path_buf()]).unwrap(), t).unwrap()
}

fn matrices(out: &Path, t: Table) -> TableMatrices {
    read_matrices(&find_stores(&[out.to_path_buf()]).unwrap(), t).unwrap()
}

#[test]
fn a_run_stores_every_stimulus_with_provenance_and_a_rerun_computes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let out = dir.path().join("run");
    let first = run(&spec, &out, &[]);
    let (_, err) = texts(&first);
    assert!(first.status.success(), "{err}");
    let stimuli = read_run_tables(std::slice::from_ref(&out), "stimuli").unwrap();
    let prompts = table(&out, Table::Prompts);
    let images = table(&out, Table::Images);
    let n_prompts = stimuli.column("modality").unwrap().str().unwrap().iter().filter(|m| *m == Some("prompt")).count();
    assert_eq!(prompts.height(), n_prompts);
    assert_eq!(prompts.height() + images.height(), stimuli.height());
    let m = matrices(&out, Table::Images);
    let (emb, taps) = (m.embeddings, m.taps);
    assert_eq!(emb.ncols(), 32);
    assert_eq!(m.ids, images.column("id").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>());
    assert_eq!(taps.keys().cloned().collect::<Vec<_>>(), ["image.block0.mlp", "image.block1.cls", "image.block1.mlp"]);
    let mlp = &taps["image.block1.mlp"];
    assert!(mlp.units() == 256 && mlp.rows() == images.height() && emb.iter().all(|v| v.is_finite()));
    assert!(mlp.block(0..256).iter().all(|v| v.is_finite()) && mlp.io_error().is_none());
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance-all.json")).unwrap()).unwrap();
    for key in ["tool", "spec_files", "model", "store_key", "stimuli", "seed", "device", "onnxruntime", "timings"] {
        assert!(prov.get(key).is_some(), "provenance lacks {key}");
    }
    let hashed: Vec<&str> =
        prov["model"]["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for f in ["model.yaml", "image.onnx", "text.onnx"] {
        assert!(hashed.contains(&f), "{f} is hashed: {hashed:?}");
    }
    assert_eq!(prov["summary"]["computed"], stimuli.height());
    // A rerun with unchanged inputs does no inference.
    let again = run(&spec, &out, &[]);
    assert!(again.status.success());
    let prov2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance-all.json")).unwrap()).unwrap();
    assert_eq!(prov2["summary"]["computed"], 0);
    assert_eq!(prov2["summary"]["cached"], stimuli.height());
    assert_eq!(table(&out, Table::Images), images, "the store is unchanged");
    // Typographic composites carry the fraction of pixels their text covers; others none.
    let covered = images
        .column("text_coverage")
        .unwrap()
        .f32()
        .unwrap()
        .iter()
        .flatten()
        .filter(|c| *c > 0.0 && *c < 1.0)
        .count();
    let typographic =
        stimuli.column("modality").unwrap().str().unwrap().iter().filter(|m| *m == Some("typographic")).count();
    assert_eq!(covered, typographic);
}

#[test]
fn a_killed_run_resumes_where_it_stopped_and_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let reference = dir.path().join("reference");
    assert!(run(&spec, &reference, &["--part-rows", "16"]).status.success());
    let out = dir.path().join("killed");
    let mut child = bin()
        .args([
            "run",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
            "--threads",
            "1",
            "--part-rows",
            "16",
            "--batch",
            "4",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) as soon as some image parts exist.
    let t = std::time::Instant::now();
    loop {
        let parts = std::fs::read_dir(out.join("store"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("images"));
        let n = parts.and_then(|p| std::fs::read_dir(p).ok()).map_or(0, |d| {
            d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "parquet"))).count()
        });
        if n >= 2 || t.elapsed().as_secs() > 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let resumed = run(&spec, &out, &["--part-rows", "16"]);
    assert!(resumed.status.success(), "{}", texts(&resumed).1);
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance-all.json")).unwrap()).unwrap();
    if !status.success() {
        assert!(prov["summary"]["cached"].as_u64().unwrap() > 0, "the resumed run reused what the killed one stored");
    }
    for t in [Table::Images, Table::Prompts] {
        let (a, b) = (table(&reference, t), table(&out, t));
        assert_eq!(a.column("id").unwrap(), b.column("id").unwrap());
        let (ma, mb) = (matrices(&reference, t), matrices(&out, t));
        let diff = ma.embeddings.iter().zip(mb.embeddings.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "resumed results differ by {diff}");
        // And every tap activation, read from the resumed store's parts.
        assert_eq!(ma.taps.keys().collect::<Vec<_>>(), mb.taps.keys().collect::<Vec<_>>());
        for (name, x) in &ma.taps {
            let (x, y) = (x.block(0..x.units()), mb.taps[name].block(0..x.units()));
            let diff = x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(x.dim() == y.dim() && diff < 1e-4, "{name}: resumed activations differ by {diff}");
        }
    }
}

#[test]
fn sharded_runs_together_equal_one_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let whole = dir.path().join("whole");
    assert!(run(&spec, &whole, &[]).status.success());
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("shard{i}"))).collect();
    for (i, out) in shards.iter().enumerate() {
        let r = run(&spec, out, &["--shard", &format!("{i}/3")]);
        assert!(r.status.success(), "{}", texts(&r).1);
    }
    let stores = find_stores(&shards).unwrap();
    for t in [Table::Images, Table::Prompts] {
        let (a, b) = (table(&whole, t), read_table(&stores, t).unwrap());
        assert_eq!(a.column("id").unwrap(), b.column("id").unwrap());
        let (ma, mb) = (matrices(&whole, t), read_matrices(&stores, t).unwrap());
        assert_eq!(ma.ids, mb.ids);
        let (ea, ta, eb, tb) = (ma.embeddings, ma.taps, mb.embeddings, mb.taps);
        assert!(ea.iter().zip(eb.iter()).all(|(x, y)| (x - y).abs() < 1e-4));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        // Every activation of every tap, read from three shards' parts, equals the unsharded run's.
        for (name, x) in &ta {
            let (x, y) = (x.block(0..x.units()), tb[name].block(0..tb[name].units()));
            assert_eq!(x.dim(), y.dim(), "{name}");
            let diff = x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "{name}: sharded activations differ by {diff}");
        }
    }
    let mut union = read_run_tables(&shards, "stimuli")
        .unwrap()
        .column("id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_owned())
        .collect::<Vec<_>>();
    union.sort();
    let mut all = read_run_tables(&[whole], "stimuli")
        .unwrap()
        .column("id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_owned())
        .collect::<Vec<_>>();
    all.sort();
    assert_eq!(union, all, "the shards partition the stimuli");
    let bad = bin().args(["run", spec.to_str().unwrap(), "--shard", "3/3"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(texts(&bad).1.contains("the index runs from 0 to count-1"));
}

fn corrupt_folder(dir: &Path, n_bad: usize) -> PathBuf {
    let extra = dir.join("extra");
    for id in ["fr", "it", "ie", "de", "nl", "at"] {
        std::fs::create_dir_all(extra.join(id)).unwrap();
    }
    for i in 0..n_bad {
        std::fs::write(extra.join("fr").join(format!("broken{i}.png")), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    }
    extra
}

#[test]
fn undecodable_images_are_skipped_and_recorded_under_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let extra = corrupt_folder(dir.path(), 1);
    let spec = spec(dir.path(), Some(extra.to_str().unwrap()));
    let out = dir.path().join("run");
    let ok = run(&spec, &out, &[]);
    assert!(ok.status.success(), "{}", texts(&ok).1);
    let skipped = read_run_tables(std::slice::from_ref(&out), "skipped").unwrap();
    assert!(skipped.height() >= 1);
    let reasons: Vec<&str> = skipped.column("reason").unwrap().str().unwrap().iter().flatten().collect();
    assert!(reasons.iter().any(|r| r.contains("cannot decode image") && r.contains("broken0.png")), "{reasons:?}");
    // With no tolerance the run fails with exit code 2, and what it stored stays valid.
    let strict = run(&spec, &out, &["--max-skipped", "0"]);
    assert_eq!(strict.status.code(), Some(2));
    let err = texts(&strict).1;
    assert!(err.contains("were skipped, more than the allowed 0.0%") && err.contains("skipped-all.parquet"), "{err}");
    assert!(table(&out, Table::Images).height() > 0);
}

#[test]
fn non_finite_outputs_are_reported_with_the_stimulus_id() {
    use clip_audit::model::graph::proto;
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("nan-model");
    std::fs::create_dir_all(&bundle).unwrap();
    // The tiny model's image embedding divided by zero: every image output is infinite or NaN.
    let mut m = proto::ModelProto::decode(
        std::fs::read(root().join("fixtures/models/tiny-clip/image.onnx")).unwrap().as_slice(),
    )
    .unwrap();
    let g = m.graph.as_mut().unwrap();
    g.initializer.push(proto::TensorProto {
        name: Some("zero".into()),
        data_type: Some(1),
        float_data: vec![0.0],
        ..Default::default()
    });
    g.node.push(proto::NodeProto {
        op_type: Some("Div".into()),
        input: vec!["image_embeds".into(), "zero".into()],
        output: vec!["broken".into()],
        name: Some("/broken".into()),
        ..Default::default()
    });
    g.output[0].name = Some("broken".into());
    g.output[0].r#type = None;
    std::fs::write(bundle.join("image.onnx"), m.encode_to_vec()).unwrap();
    std::fs::copy(root().join("fixtures/models/tiny-clip/text.onnx"), bundle.join("text.onnx")).unwrap();
    let manifest = std::fs::read_to_string(root().join("fixtures/models/tiny-clip/model.yaml"))
        .unwrap()
        .replace("output: image_embeds", "output: broken");
    std::fs::write(bundle.join("model.yaml"), manifest).unwrap();
    let spec_path = dir.path().join("s.yaml");
    std::fs::write(
        &spec_path,
        format!("audit: nan\nmodel:\n  bundle: {}\nprobes:\n  - library: {}/probes/regions.yaml\n    family: regions\n    stimuli: {{prompts: {{}}, rendered_text: {{}}}}\n", bundle.display(), root().display()),
    )
    .unwrap();
    let out = dir.path().join("run");
    let r = run(&spec_path, &out, &[]);
    assert_eq!(r.status.code(), Some(2), "{}", texts(&r).1);
    let skipped = read_run_tables(std::slice::from_ref(&out), "skipped").unwrap();
    assert_eq!(skipped.height(), 5, "the five rendered region names");
    let reason = skipped.column("reason").unwrap().str().unwrap().get(0).unwrap();
    assert!(reason.contains("non-finite") && reason.contains("embedding"), "{reason}");
    let id = skipped.column("id").unwrap().str().unwrap().get(0).unwrap();
    assert_eq!(id.len(), 32, "the stimulus id is recorded");
    assert_eq!(table(&out, Table::Prompts).height(), 35, "prompts were fine and are stored");
}

#[test]
fn an_unwritable_run_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let r = run(&spec, &file.join("run"), &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = texts(&r).1;
    assert!(err.contains("cannot create the run folder") && err.contains("a-file/run"), "{err}");
}

#[test]
fn a_full_disk_mid_run_is_an_error_and_the_store_stays_valid() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let out = dir.path().join("run");
    let mut cmd = bin();
    cmd.args([
        "run",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--part-rows",
        "8",
        "--quiet",
    ]);
    // Files may not grow past 60 KB: like a disk that fills up after a few parts.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 60_000, rlim_max: 60_000 };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let r = cmd.output().unwrap();
    assert_eq!(r.status.code(), Some(2), "{}", texts(&r).1);
    let err = texts(&r).1;
    assert!(err.contains("cannot write") || err.contains("cannot create"), "{err}");
    // Every part on disk is complete, and a rerun with room finishes the job.
    for t in [Table::Images, Table::Prompts] {
        let _ = table(&out, t);
    }
    let leftovers = walk(&out).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).count();
    assert_eq!(leftovers, 0);
    let again = run(&spec, &out, &[]);
    assert!(again.status.success(), "{}", texts(&again).1);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Copies the tiny bundle with one encoder edited by `edit` (on the decoded ModelProto).
fn edited_bundle(
    dir: &Path,
    file: &str,
    edit: impl FnOnce(&mut clip_audit::model::graph::proto::GraphProto),
) -> PathBuf {
    use clip_audit::model::graph::proto;
    use prost::Message;
    let bundle = dir.join("edited-model");
    std::fs::create_dir_all(&bundle).unwrap();
    for f in ["image.onnx", "text.onnx", "model.yaml"] {
        std::fs::copy(root().join("fixtures/models/tiny-clip").join(f), bundle.join(f)).unwrap();
    }
    let mut m = proto::ModelProto::decode(std::fs::read(bundle.join(file)).unwrap().as_slice()).unwrap();
    edit(m.graph.as_mut().unwrap());
    std::fs::write(bundle.join(file), m.encode_to_vec()).unwrap();
    bundle
}

#[test]
fn towers_that_embed_into_different_spaces_are_refused() {
    use clip_audit::model::graph::proto;
    let dir = tempfile::tempdir().unwrap();
    // The text tower's output doubled in width: [N, 64] against the image tower's [N, 32].
    let bundle = edited_bundle(dir.path(), "text.onnx", |g| {
        g.node.push(proto::NodeProto {
            op_type: Some("Concat".into()),
            input: vec!["text_embeds".into(), "text_embeds".into()],
            output: vec!["wide".into()],
            name: Some("/wide".into()),
            attribute: vec![proto::AttributeProto {
                name: Some("axis".into()),
                i: Some(1),
                r#type: Some(2),
                ..Default::default()
            }],
            ..Default::default()
        });
        g.output[0].name = Some("wide".into());
        g.output[0].r#type = None;
    });
    let manifest = std::fs::read_to_string(bundle.join("model.yaml"))
        .unwrap()
        .replace("output: text_embeds", "output: wide")
        .replace("embedding_dim: 32\n", "");
    std::fs::write(bundle.join("model.yaml"), manifest).unwrap();
    let spec_path = dir.path().join("s.yaml");
    std::fs::write(&spec_path, format!("audit: wide\nmodel:\n  bundle: {}\nprobes:\n  - library: {}/probes/regions.yaml\n    family: regions\n    stimuli: {{prompts: {{}}}}\n", bundle.display(), root().display())).unwrap();
    let r = run(&spec_path, &dir.path().join("run"), &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = texts(&r).1;
    assert!(err.contains("the image tower embeds into 32 dimensions and the text tower into 64"), "{err}");
}

#[test]
fn a_spec_naming_a_tap_the_model_lacks_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("s.yaml");
    std::fs::write(&spec_path, format!("audit: t\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\n  taps: [image.block1.mpl]\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: regions\n    stimuli: {{prompts: {{}}}}\n", r = root().display())).unwrap();
    let out = dir.path().join("run");
    let r = run(&spec_path, &out, &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = texts(&r).1;
    assert!(
        err.contains("error[A008]")
            && err.contains("did you mean `image.block1.mlp`?")
            && err.contains("nothing was run"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn a_store_of_an_older_format_is_refused_with_the_command_that_remakes_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), None);
    let out = dir.path().join("run");
    let first = run(&spec, &out, &["--no-analyze"]);
    assert!(first.status.success(), "{}", texts(&first).1);
    // Make the store look like one of format 1 (taps as parquet list columns, before this
    // version): the analysis must not read it as if it were today's.
    let store = find_stores(std::slice::from_ref(&out)).unwrap().remove(0).root;
    let key = store.join("key.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    v["store_format"] = 1.into();
    std::fs::write(&key, v.to_string()).unwrap();
    let analyzed = bin().arg("analyze").arg(&out).arg("--quiet").output().unwrap();
    let (_, err) = texts(&analyzed);
    assert_eq!(analyzed.status.code(), Some(2), "{err}");
    assert!(err.contains("format 1") && err.contains("clip-audit run SPEC --out FOLDER"), "{err}");
    // A part whose activations file is missing is named, with what to do.
    v["store_format"] = 2.into();
    std::fs::write(&key, v.to_string()).unwrap();
    let part = std::fs::read_dir(store.join("images"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "acts"))
        .unwrap();
    std::fs::remove_file(&part).unwrap();
    let analyzed = bin().arg("analyze").arg(&out).arg("--quiet").output().unwrap();
    let (_, err) = texts(&analyzed);
    assert_eq!(analyzed.status.code(), Some(2), "{err}");
    assert!(err.contains("no activations file") && err.contains("run the audit again"), "{err}");
}

#[test]
fn bench_analyze_runs_end_to_end_on_a_small_size_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_str().unwrap();
    let out = bin()
        .args(["bench", "analyze", "--sizes", "300x8", "--concepts", "3", "--python", "none", "--work", work])
        .output()
        .unwrap();
    let (table, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    for stage in ["| 300 | 8 | run |", "| 300 | 8 | analyze |"] {
        assert!(table.contains(stage), "{table}");
    }
    // The row of sizes: selective pairs were counted (the tints make units selective) and the
    // reports were written.
    let sizes = regex::Regex::new(r"(?m)^\| 300 \| 8 \| \d+ \| (\d+) \| (\d+) \| (\d+) / not run \|$").unwrap();
    let c = sizes.captures(&table).unwrap_or_else(|| panic!("{table}"));
    let n = |i: usize| c.get(i).unwrap().as_str().parse::<u64>().unwrap();
    assert!(n(1) > 0 && n(2) > 0 && n(3) > 0, "{table}");
    let out =
        bin().args(["bench", "analyze", "--sizes", "300", "--concepts", "1", "--python", "none"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("--concepts must be at least 2"));
}
