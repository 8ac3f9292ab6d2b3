//! `clip-audit bench analyze`: the cost of an audit at dataset scale, with no real model.
//!
//! Real audits have 10⁵–10⁶ images and taps thousands of units wide; whether `run` and
//! `analyze` stay linear and within memory there is a measured property, not a hope. This
//! benchmark writes a CLIP-shaped bundle whose image tower is one MatMul onto a wide tapped
//! ReLU layer (inference costs almost nothing, so the runner and the analysis are what is
//! timed), a probe library of `concepts` members and `n` small synthetic images tinted per
//! member (so that units are selective and the analysis has findings to summarise), and then
//! times, as child processes: `clip-audit run` (to the store, no analysis), `clip-audit analyze`
//! (selectivity over the whole grid, summary, JSON and HTML reports) and
//! `scripts/reference_analyze.py` (numpy + scipy + pandas doing the same grid, the way a
//! researcher would). It prints wall time, stimuli per second, nanoseconds per stimulus × unit
//! (flat across sizes when the cost is linear), peak resident memory (`wait4`) and the sizes of
//! the reports, and checks that both analyses found the same number of selective pairs.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use super::Outcome;
use super::bench::timed_child;
use crate::cli::BenchAnalyzeArgs;
use crate::model::synthetic::write_matmul_bundle;

/// One size to measure: stimuli and units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    /// Images.
    pub stimuli: usize,
    /// Tapped units.
    pub units: usize,
}

/// Parses `N` or `NxU` (e.g. `100000`, `1000000x2560`); `units` is the default width.
pub fn parse_size(s: &str, units: usize) -> Result<Size, String> {
    let num = |t: &str| t.trim().replace('_', "").parse::<usize>().map_err(|e| format!("`{t}`: {e}"));
    let size = match s.split_once('x') {
        Some((n, u)) => Size { stimuli: num(n)?, units: num(u)? },
        None => Size { stimuli: num(s)?, units },
    };
    if size.stimuli == 0 || size.units == 0 {
        return Err(format!("`{s}`: stimuli and units must be positive"));
    }
    Ok(size)
}

/// A small PNG tinted by its member, with per-pixel noise (so every image is distinct and its
/// content hash unique).
fn member_png(i: usize, member: usize, side: u32) -> Vec<u8> {
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    // Tints below 192 leave room for the noise (at most 63) within a byte.
    let tint = [(member * 37 % 192) as u8, (member * 91 % 192) as u8, (member * 53 % 192) as u8];
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state & 0x3f) as u8;
        image::Rgb([tint[0] + n, tint[1] + (n >> 1), tint[2] + (n >> 2)])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).expect("PNG encoding to memory");
    out
}

/// Writes the probe library (`concepts` members) and the spec.
fn write_spec(work: &Path, bundle: &Path, concepts: usize) -> anyhow::Result<PathBuf> {
    let members: String = (0..concepts).map(|m| format!("      - {{id: c{m:03}, name: concept {m}}}\n")).collect();
    std::fs::write(
        work.join("library.yaml"),
        format!(
            "library: bench\ndescription: Generated concepts for `clip-audit bench analyze`.\nsources:\n  - {{id: made, title: generated, via: clip-audit bench analyze, url: https://example.org/bench}}\ntemplates: [\"a photo of {{name}}.\"]\nfamilies:\n  - id: concepts\n    description: generated concepts, one tint each\n    sources: [made]\n    members:\n{members}"
        ),
    )?;
    let spec = work.join("bench.yaml");
    std::fs::write(
        &spec,
        format!(
            "audit: bench-analyze\nmodel:\n  bundle: {}\nprobes:\n  - library: {}\n    family: concepts\n    stimuli:\n      images:\n        - folder: {}/{{id}}\nanalyses:\n  selectivity: {{}}\noutputs:\n  formats: [json, html]\n  fail_on: never\n",
            bundle.display(),
            work.join("library.yaml").display(),
            work.join("images").display()
        ),
    )?;
    Ok(spec)
}

fn write_images(dir: &Path, n: usize, concepts: usize, side: u32) -> anyhow::Result<()> {
    (0..concepts).try_for_each(|m| std::fs::create_dir_all(dir.join(format!("c{m:03}"))))?;
    (0..n).into_par_iter().try_for_each(|i| -> anyhow::Result<()> {
        let m = i % concepts;
        std::fs::write(dir.join(format!("c{m:03}")).join(format!("{i:07}.png")), member_png(i, m, side))?;
        Ok(())
    })
}

/// One measured stage.
struct Stage {
    name: &'static str,
    seconds: f64,
    peak: u64,
}

fn stage(name: &'static str, cmd: &mut std::process::Command) -> anyhow::Result<Stage> {
    eprintln!("  {name}…");
    let (seconds, peak, ok) = timed_child(cmd)?;
    if !ok {
        anyhow::bail!("{name} failed during the benchmark: {cmd:?}");
    }
    Ok(Stage { name, seconds, peak })
}

/// Selective pairs in clip-audit's summary.
fn selective_pairs(summary: &Path) -> anyhow::Result<u64> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(summary)?)?;
    let blocks = v["selectivity"]["blocks"].as_array().context("summary.json has no selectivity blocks")?;
    Ok(blocks.iter().filter_map(|b| b["selective_pairs"].as_u64()).sum())
}

/// Runs `scripts/reference_analyze.py` on a run folder: its stage and its selective pairs.
fn reference(python: &str, run: &Path) -> anyhow::Result<(Stage, u64)> {
    let out = run.with_extension("reference.txt");
    let script = std::fs::canonicalize("scripts/reference_analyze.py")
        .context("run `bench analyze` from the repository root (it times scripts/reference_analyze.py)")?;
    let log = std::fs::File::create(&out)?;
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script).arg(run);
    eprintln!("  python reference…");
    let t = std::time::Instant::now();
    let child = cmd
        .stdout(log)
        .spawn()
        .with_context(|| format!("cannot start {python}; run `make venv` or pass --python none"))?;
    let (seconds, peak, ok) = super::bench::wait_child(child, t)?;
    if !ok {
        anyhow::bail!("scripts/reference_analyze.py failed; run `make venv` or pass --python none");
    }
    let text = std::fs::read_to_string(&out)?;
    let pairs = text
        .split_whitespace()
        .skip_while(|w| *w != "selective_pairs")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .context("the reference printed no `selective_pairs`")?;
    Ok((Stage { name: "python reference", seconds, peak }, pairs))
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// `bench analyze`: every size, each stage's time and peak memory.
pub fn run(args: &BenchAnalyzeArgs) -> anyhow::Result<Outcome> {
    let sizes: Vec<Size> = args
        .sizes
        .split(',')
        .map(|s| parse_size(s, args.units))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    if args.concepts < 2 || args.image_side == 0 || args.batch == 0 {
        anyhow::bail!(
            "--concepts must be at least 2 (selectivity compares concepts), --image-side and --batch at least 1"
        );
    }
    let base = match &args.work {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::tempdir_in(d)?
        }
        None => tempfile::tempdir()?,
    };
    let exe = std::env::current_exe()?;
    let python = args.python.clone().unwrap_or_else(|| ".venv-scripts/bin/python".to_owned());
    // The reference is checked before anything is timed, so a missing interpreter does not
    // cost a whole run.
    if python != "none" && sizes.iter().any(|s| s.stimuli <= args.python_max) {
        let ok = std::process::Command::new(&python)
            .args(["-c", "import numpy, scipy, pandas, pyarrow"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !Path::new("scripts/reference_analyze.py").is_file() {
            anyhow::bail!(
                "the Python reference cannot run ({python} with numpy, scipy, pandas and pyarrow, and scripts/reference_analyze.py from the repository root); run `make venv` there, or pass --python none"
            );
        }
    }
    // Each size's rows are printed even when a later size fails (a full disk at 1M).
    let mut table = Vec::new();
    let mut failed = None;
    for size in &sizes {
        match measure(size, args, base.path(), &exe, &python) {
            Ok(row) => table.push(row),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    print_table(&table, args);
    if args.keep {
        eprintln!("kept {}", base.keep().display());
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(Outcome::Pass),
    }
}

/// Measures one size in `base`: writes its bundle, spec and images, times the stages.
fn measure(size: &Size, args: &BenchAnalyzeArgs, base: &Path, exe: &Path, python: &str) -> anyhow::Result<Row> {
    let work = base.join(format!("{}x{}", size.stimuli, size.units));
    std::fs::create_dir_all(&work)?;
    eprintln!("{} stimuli x {} units, {} concepts:", size.stimuli, size.units, args.concepts);
    let bundle = work.join("bundle");
    write_matmul_bundle(&bundle, args.image_side, size.units, None)?;
    let spec = write_spec(&work, &bundle, args.concepts)?;
    eprintln!("  writing {} {}px images…", size.stimuli, args.image_side);
    write_images(&work.join("images"), size.stimuli, args.concepts, args.image_side)?;
    let run_dir = work.join("run");
    let mut run = std::process::Command::new(exe);
    run.arg("run").arg(&spec).arg("--out").arg(&run_dir).args(["--no-analyze", "--quiet", "--device", "cpu"]);
    run.args(["--batch", &args.batch.to_string()]);
    let ran = stage("run", &mut run)?;
    let reports = work.join("reports");
    let mut analyze = std::process::Command::new(exe);
    analyze.arg("analyze").arg(&run_dir).arg("--reports").arg(&reports).args(["--quiet"]);
    let analyzed = stage("analyze", &mut analyze)?;
    // The reference reads the store, not the images: free the disk.
    std::fs::remove_dir_all(work.join("images"))?;
    let pairs = selective_pairs(&run_dir.join("analysis").join("summary.json"))?;
    let latest = reports.join("bench-analyze").join("latest");
    let (json, html) = (file_size(&latest.join("report.json")), file_size(&latest.join("report.html")));
    let py =
        if python != "none" && size.stimuli <= args.python_max { Some(reference(python, &run_dir)?) } else { None };
    if let Some((_, ref_pairs)) = &py
        && *ref_pairs != pairs
    {
        anyhow::bail!(
            "the Python reference found {ref_pairs} selective pairs and clip-audit {pairs}: the analyses disagree"
        );
    }
    let store_bytes: u64 = walk_size(&run_dir.join("store"));
    if !args.keep {
        std::fs::remove_dir_all(&work)?;
    }
    Ok((*size, ran, analyzed, py, pairs, json, html, store_bytes))
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk_size(&p) } else { file_size(&p) }
                })
                .sum()
        })
        .unwrap_or(0)
}

type Row = (Size, Stage, Stage, Option<(Stage, u64)>, u64, u64, u64, u64);

fn print_table(rows: &[Row], args: &BenchAnalyzeArgs) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "bench analyze: {} concepts, {}px images, batch {}, {} threads available",
        args.concepts,
        args.image_side,
        args.batch,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| stimuli | units | stage | wall (s) | stimuli/s | ns per stimulus x unit | peak memory (MiB) | python / clip-audit |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (size, ran, analyzed, py, _, _, _, _) in rows {
        let cells = (size.stimuli as f64, (size.stimuli * size.units) as f64);
        let line = |s: &Stage, ratio: String| {
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.0} | {ratio} |",
                size.stimuli,
                size.units,
                s.name,
                s.seconds,
                cells.0 / s.seconds,
                s.seconds * 1e9 / cells.1,
                mib(s.peak)
            );
        };
        line(ran, String::new());
        line(analyzed, String::new());
        if let Some((p, _)) = py {
            line(
                p,
                format!(
                    "**{:.2}x** time, {:.2}x memory",
                    p.seconds / analyzed.seconds,
                    p.peak as f64 / analyzed.peak as f64
                ),
            );
        }
    }
    println!();
    println!(
        "| stimuli | units | store (MiB) | report.json (KiB) | report.html (KiB) | selective pairs (clip-audit / python) |"
    );
    println!("|---|---|---|---|---|---|");
    for (size, _, _, py, pairs, json, html, store) in rows {
        let reference = py.as_ref().map_or("not run".to_owned(), |(_, p)| p.to_string());
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {pairs} / {reference} |",
            size.stimuli,
            size.units,
            mib(*store),
            *json as f64 / 1024.0,
            *html as f64 / 1024.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("100000", 3072), Ok(Size { stimuli: 100_000, units: 3072 }));
        assert_eq!(parse_size("1_000_000x2560", 3072), Ok(Size { stimuli: 1_000_000, units: 2560 }));
        assert!(parse_size("0", 3).is_err() && parse_size("ax3", 3).is_err() && parse_size("10x0", 3).is_err());
    }
}
