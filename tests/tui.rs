//! The terminal UI: every view rendered on ratatui's TestBackend from real reports (snapshots),
//! at 80x24 and after a resize; key handling (sort, filter, search, follow a finding to its
//! unit); review decisions saved and carried into later reports, diffs and model cards; a
//! scripted session under tmux; a report from another format version refused clearly.

use std::path::{Path, PathBuf};
use std::process::Command;

use clip_audit::tui::{App, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use crate::common::{clip_audit, root, run_with_reports, texts};

/// Runs an audit on the tiny model with reports into `dir/reports`; returns the report folder.
fn report(dir: &Path, spec: &Path, set: &[&str]) -> PathBuf {
    let mut args = vec!["--fail-on", "never"];
    args.extend_from_slice(set);
    let r = run_with_reports(spec.to_str().unwrap(), dir, &args);
    assert!(r.status.success(), "{}", texts(&r).1);
    let audits: Vec<PathBuf> = std::fs::read_dir(dir.join("reports")).unwrap().flatten().map(|e| e.path()).collect();
    audits[0].join("latest")
}

fn flags_spec(dir: &Path) -> PathBuf {
    let text = format!(
        "audit: flags\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [fr, it, ie, de, nl, at, ng, ru]\n    stimuli:\n      prompts: {{}}\n      rendered_text: {{sizes: [20, 32], cases: [as-is, upper]}}\n      images:\n        - folder: {r}/fixtures/images/flags/{{id}}\n      typographic: {{per_image: 2}}\nanalyses:\n  selectivity: {{top_stimuli: 3}}\n  multimodality: {{}}\n  resolution:\n    - {{family: countries, level: region}}\n  typographic: {{family: countries}}\n",
        r = root().display()
    );
    let p = dir.join("flags.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn key(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    t.backend().to_string()
}

#[test]
fn every_view_renders_at_80x24_and_after_a_resize() {
    let dir = tempfile::tempdir().unwrap();
    let den = report(&dir.path().join("den"), &root().join("audits/denigration.yaml"), &[]);
    let flags = report(&dir.path().join("flags"), &flags_spec(dir.path()), &[]);
    let mut a = App::load(&den.join("report.json")).unwrap();
    insta::assert_snapshot!("tui_findings", screen(&a, 80, 24));
    keys(&mut a, "5");
    insta::assert_snapshot!("tui_analyses", screen(&a, 80, 24));
    keys(&mut a, "?");
    insta::assert_snapshot!("tui_help", screen(&a, 80, 24));
    let mut b = App::load(&flags.join("report.json")).unwrap();
    keys(&mut b, "2");
    insta::assert_snapshot!("tui_unit", screen(&b, 80, 24));
    keys(&mut b, "3");
    insta::assert_snapshot!("tui_family", screen(&b, 80, 24));
    keys(&mut b, "4");
    // A unit measured on prompts only: the map falls back to who has a unit of their own.
    let mut map = screen(&b, 80, 24);
    for _ in 0..300 {
        if map.contains("with a unit of their own") {
            break;
        }
        keys(&mut b, "j");
        map = screen(&b, 80, 24);
    }
    assert!(map.contains("with a unit of their own"), "{map}");
    insta::assert_snapshot!("tui_map", map);
    // Enter on a finding opens the first unit it cites (listed in the summary even when it is
    // not among its block's 50 most selective), and the unit names the finding.
    keys(&mut b, "1");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(flags.join("report.json")).unwrap()).unwrap();
    let first = &report["summary"]["findings"][b.shown()[0]];
    assert!(first["id"].as_str().unwrap().starts_with("multimodality/"), "{first}");
    key(&mut b, KeyCode::Enter);
    assert_eq!(b.view, View::Unit, "{}", b.status);
    let unit = screen(&b, 80, 24);
    assert!(unit.contains("cited by: multimodality/"), "{unit}");
    // Any size renders, down to tiny, without panicking; bigger shows more.
    for (w, h) in [(120, 40), (40, 10), (10, 3), (1, 1)] {
        for v in "12345".chars() {
            keys(&mut b, &v.to_string());
            let _ = screen(&b, w, h);
            keys(&mut a, &v.to_string());
            let _ = screen(&a, w, h);
        }
    }
    keys(&mut b, "1");
    assert_eq!(b.view, View::Findings);
}

/// The Analyses view draws any analysis's sections from `report.json` without knowing the
/// analysis: every section of the flags audit (selectivity, multimodality, resolution,
/// typographic) is listed and drawn, and j/k, J/K and h/l move between and within them.
#[test]
fn the_analyses_view_draws_every_section_of_the_report_generically() {
    let dir = tempfile::tempdir().unwrap();
    let flags = report(&dir.path().join("flags"), &flags_spec(dir.path()), &[]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(flags.join("report.json")).unwrap()).unwrap();
    let titles: Vec<String> =
        json["sections"].as_array().unwrap().iter().map(clip_audit::tui::sections::title).collect();
    for analysis in ["Selectivity", "Multimodality", "Resolution", "Typographic"] {
        assert!(titles.iter().any(|t| t.starts_with(analysis)), "{analysis} in {titles:?}");
    }
    let mut a = App::load(&flags.join("report.json")).unwrap();
    keys(&mut a, "5");
    assert_eq!(a.view, View::Analyses);
    for (i, t) in titles.iter().enumerate() {
        let shown = screen(&a, 120, 40);
        assert!(shown.contains(&format!("▶ {}", &t[..t.len().min(20)])), "section {i} `{t}` selected:\n{shown}");
        keys(&mut a, "j");
    }
    // Past the last section j stays there; k goes back.
    keys(&mut a, "kkkkkkkkkkkkkkkkkkkk");
    let first = screen(&a, 120, 40);
    keys(&mut a, "J");
    assert_ne!(screen(&a, 120, 40), first, "J scrolls the section");
    keys(&mut a, "K");
    assert_eq!(screen(&a, 120, 40), first, "K scrolls back");
}

/// Every kind of part a section can hold comes out as lines: paragraphs (wrapped, code kept),
/// tables at their natural width, interval bars on one axis, and pointers for the map and heat
/// map; the text is the section's own.
#[test]
fn section_lines_draw_every_part_kind_from_its_json() {
    use clip_audit::analysis::present::{Cell, Chart, Interval, Part, Section, Table, code, text};
    let section = Section {
        title: vec![text("Glass box: "), code("tap-0")],
        blocks: vec![
            Part::Text(vec![
                text("A long paragraph that has to wrap at the pane's width because it goes on and on about "),
                code("unit 7"),
                text("."),
            ]),
            Part::Table(Table {
                head: vec!["group", "n", "verdict"],
                rows: vec![vec![
                    Cell::Text("Africa".into()),
                    Cell::Num("12".into()),
                    Cell::CodeThenText("a/b".into(), "fail".into()),
                ]],
            }),
            Part::Chart(
                vec![text("Rates.")],
                Chart::Intervals {
                    rows: vec![Interval { label: "Europe".into(), value: 0.5, lo: 0.25, hi: 0.75 }],
                    max: 1.0,
                },
            ),
            Part::Chart(vec![text("Where.")], Chart::Map(Vec::new())),
        ],
    };
    let json = serde_json::to_value(&section).unwrap();
    assert_eq!(clip_audit::tui::sections::title(&json), "Glass box: tap-0");
    let lines: Vec<String> = clip_audit::tui::sections::lines(&json, 40).iter().map(|l| l.to_string()).collect();
    let all = lines.join("\n");
    assert!(lines.iter().all(|l| l.chars().count() <= 40 || l.contains("group") || l.contains("Africa")), "{all}");
    assert!(all.contains("unit 7"), "{all}");
    assert!(lines.iter().any(|l| l.starts_with("group") && l.contains("verdict")), "{all}");
    assert!(lines.iter().any(|l| l.contains("Africa") && l.contains("a/b: fail")), "{all}");
    let bar = lines.iter().find(|l| l.starts_with("Europe")).expect("a bar");
    assert!(bar.contains("0.500") && bar.contains('█') && bar.contains('┤'), "{bar}");
    assert!(all.contains("(a world map of 0 members: view 4, Map)"), "{all}");
}

/// A report of every format version this clip-audit reads, written by the clip-audit of its
/// time (`fixtures/reports/`), opens in the TUI (every view draws), in `diff` and in
/// `model-card`.
#[test]
fn every_older_report_format_is_read_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    for version in 1..=clip_audit::report::REPORT_VERSION {
        let path = root().join(format!("fixtures/reports/format-{version}/report.json"));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["format_version"], version, "{}", path.display());
        let first = json["summary"]["findings"][0]["id"].as_str().unwrap().to_owned();
        let mut a = App::load(&path).unwrap_or_else(|e| panic!("format {version}: {e}"));
        assert!(screen(&a, 120, 40).contains(&first), "format {version}: the findings list shows {first}");
        for view in "2345".chars() {
            keys(&mut a, &view.to_string());
            let _ = screen(&a, 80, 24);
        }
        let card = clip_audit(&["model-card", path.to_str().unwrap()]);
        let (out, err) = texts(&card);
        assert!(card.status.success() && out.contains("Bias, Risks, and Limitations"), "format {version}: {err}");
        let n = json["summary"]["findings"].as_array().unwrap().len();
        assert!(out.contains(&format!("{n} findings")), "format {version}: {out}");
        // From format 2 on, each result states its n and its family's corrected p.
        let d = &json["summary"]["findings"][0]["decision"];
        if version >= 2 {
            let cell = format!("| {} | {} (", d["n"], d["family"]["name"].as_str().unwrap());
            assert!(out.contains(&cell), "format {version}: no `{cell}` in {out}");
        }
        let current = report(&dir.path().join(format!("now-{version}")), &root().join("audits/denigration.yaml"), &[]);
        let diff = clip_audit(&["diff", path.to_str().unwrap(), current.join("report.json").to_str().unwrap()]);
        assert!(diff.status.success(), "format {version}: {}", texts(&diff).1);
        assert!(texts(&diff).0.contains("unchanged") || texts(&diff).0.contains("resolved"), "{}", texts(&diff).0);
    }
}

#[test]
fn keys_sort_filter_search_and_follow_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let den = report(&dir.path().join("den"), &root().join("audits/denigration.yaml"), &[]);
    let mut a = App::load(&den.join("report.json")).unwrap();
    let all = a.shown().len();
    assert!(all > 5);
    keys(&mut a, "/");
    keys(&mut a, "gender");
    key(&mut a, KeyCode::Enter);
    let some = a.shown().len();
    assert!(some > 0 && some < all, "{some} of {all}");
    assert!(screen(&a, 100, 30).contains("/gender"));
    keys(&mut a, "/");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.shown().len(), all, "an empty search shows everything");
    keys(&mut a, "s");
    assert!(screen(&a, 100, 30).contains("sort Effect"));
    keys(&mut a, "f");
    assert!(screen(&a, 100, 30).contains("· denigration"));
    a.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(a.quit, "Ctrl-C quits");
}

#[test]
fn a_decision_is_saved_and_shown_by_later_reports_diffs_and_model_cards() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("audits/denigration.yaml");
    let den = report(&dir.path().join("den"), &spec, &[]);
    let first = std::fs::canonicalize(&den).unwrap();
    let mut a = App::load(&den.join("report.json")).unwrap();
    keys(&mut a, "c");
    keys(&mut a, "chance level for 16 labels");
    key(&mut a, KeyCode::Enter);
    assert!(a.status.contains("saved to"), "{}", a.status);
    let review: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(den.join("review.json")).unwrap()).unwrap();
    let d = &review["decisions"][0];
    assert_eq!(d["verdict"], "confirmed");
    assert_eq!(d["note"], "chance level for 16 labels");
    let id = d["finding"].as_str().unwrap().to_owned();
    assert!(screen(&a, 100, 30).contains("confirmed"));
    // A reopened app shows it.
    let b = App::load(&den.join("report.json")).unwrap();
    assert!(screen(&b, 100, 30).contains("confirmed"));
    // The next report of the audit carries it.
    let r = clip_audit(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        dir.path().join("den/run").to_str().unwrap(),
        "--reports",
        dir.path().join("den/reports").to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
        "--fail-on",
        "never",
    ]);
    assert!(r.status.success());
    let latest = std::fs::canonicalize(dir.path().join("den/reports/denigration/latest")).unwrap();
    assert_ne!(first, latest, "a new report folder");
    let md = std::fs::read_to_string(latest.join("report.md")).unwrap();
    assert!(md.contains("chance level for 16 labels"), "the Markdown report shows the decision");
    assert!(latest.join("review.json").is_file());
    // The diff and the model card show it.
    let old = first.join("report.json");
    let out = clip_audit(&["diff", old.to_str().unwrap(), latest.join("report.json").to_str().unwrap()]);
    assert!(texts(&out).0.contains(&format!("{id} (reviewed: confirmed by")), "{}", texts(&out).0);
    let card = clip_audit(&["model-card", latest.join("report.json").to_str().unwrap()]);
    assert!(texts(&card).0.contains("*Review: confirmed by"), "{}", texts(&card).0);
}

#[test]
fn a_report_of_another_format_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.json");
    std::fs::write(&p, r#"{"format_version": 7, "summary": {"findings": []}}"#).unwrap();
    let err = App::load(&p).err().unwrap().to_string();
    assert!(err.contains("report format 7") && err.contains("reads formats 1 to 2"), "{err}");
    let out = clip_audit(&["tui", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("report format 7"));
}

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().unwrap()
}

#[test]
fn a_scripted_session_under_tmux_navigates_every_view_and_records_a_decision() {
    if Command::new("tmux").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("SKIPPED: tmux is not installed (make test-tools)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let den = report(&dir.path().join("den"), &root().join("audits/denigration.yaml"), &[]);
    let session = format!("clip-audit-test-{}", std::process::id());
    let sock = dir.path().join("tmux.sock");
    let sock = sock.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_clip-audit");
    let cmd = format!("{bin} tui {}; echo EXITED $?; sleep 30", den.display());
    let start = tmux(&["-S", sock, "new-session", "-d", "-s", &session, "-x", "100", "-y", "30", &cmd]);
    assert!(start.status.success(), "{}", String::from_utf8_lossy(&start.stderr));
    let pane = |what: &str| -> String {
        for _ in 0..50 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let out = tmux(&["-S", sock, "capture-pane", "-p", "-t", &session]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains(what) {
                return text;
            }
        }
        let out = tmux(&["-S", sock, "capture-pane", "-p", "-t", &session]);
        panic!("`{what}` never appeared:\n{}", String::from_utf8_lossy(&out.stdout));
    };
    let send = |k: &[&str]| {
        let mut a = vec!["-S", sock, "send-keys", "-t", session.as_str()];
        a.extend_from_slice(k);
        assert!(tmux(&a).status.success());
    };
    pane("inconclusive · sort");
    send(&["2"]);
    pane("selective units");
    send(&["3"]);
    pane("no heat maps");
    send(&["4"]);
    pane("no resolution analysis");
    send(&["5"]);
    pane("Denigration: faces");
    send(&["J"]);
    pane("Clopper-Pearson 95% CI");
    send(&["?"]);
    pane("keys (any key closes)");
    send(&["x", "1", "d"]);
    pane("dismissed — note:");
    send(&["-l", "random weights"]);
    send(&["Enter"]);
    pane("saved to");
    send(&["q"]);
    let after = pane("EXITED 0");
    assert!(!after.contains("findings of"), "the terminal is restored: {after}");
    let _ = tmux(&["-S", sock, "kill-server"]);
    let review = std::fs::read_to_string(den.join("review.json")).unwrap();
    assert!(review.contains("\"dismissed\"") && review.contains("random weights"), "{review}");
}

/// The flags audit with a loose selectivity threshold, so that the random model has image
/// units to show.
fn loose_flags_report(dir: &Path) -> PathBuf {
    let spec = flags_spec(dir);
    let loose = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("selectivity: {top_stimuli: 3}", "selectivity: {top_stimuli: 3, fdr: 0.5, min_effect_size: 0.3}");
    std::fs::write(&spec, loose).unwrap();
    report(&dir.join("flags"), &spec, &[])
}

#[test]
fn the_map_colours_members_by_the_selected_units_response_to_their_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = App::load(&loose_flags_report(dir.path()).join("report.json")).unwrap();
    keys(&mut b, "4");
    // On an image unit the map colours each member by that unit's d for its images.
    let mut shown = false;
    for _ in 0..300 {
        keys(&mut b, "j");
        let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
        t.draw(|f| b.draw(f)).unwrap();
        let text = screen(&b, 120, 40);
        if text.contains("Cohen's d of each member's images") {
            let colours: std::collections::HashSet<String> = t
                .backend()
                .buffer()
                .content()
                .iter()
                .filter(|c| matches!(c.fg, ratatui::style::Color::Rgb(..)))
                .map(|c| format!("{:?}", c.fg))
                .collect();
            assert!(colours.len() >= 3, "members in several colours: {colours:?}\n{text}");
            shown = true;
            break;
        }
    }
    assert!(shown, "some unit of the flags report is an image unit");
}

#[test]
fn the_unit_view_draws_thumbnails_of_its_top_and_bottom_stimuli_from_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = App::load(&loose_flags_report(dir.path()).join("report.json")).unwrap();
    keys(&mut b, "2");
    // Without the worker (as in the snapshots) there are none.
    assert!(!screen(&b, 100, 40).contains("top images"));
    b.start_thumbnails();
    // A unit whose top and bottom stimuli include both an image file and rendered text (rows
    // `<member> image` and `<member> rendered_text` in its lists): each of its six listed
    // stimuli is drawn, the rendered text redrawn from its stored content, 8 cells wide and as
    // many rows as its shape asks.
    let row = |kind: &str| regex::Regex::new(&format!(r" [a-z]{{2}} {kind} +│")).unwrap();
    let (image_row, text_row) = (row("image"), row("rendered_text"));
    let mut found = false;
    for _ in 0..300 {
        let s = screen(&b, 100, 40);
        if image_row.is_match(&s) && text_row.is_match(&s) {
            b.wait_thumbnails(std::time::Duration::from_secs(10));
            // Under each heading, one thumbnail (8 half-block cells wide, painted in the image's
            // colours) per listed stimulus, side by side a column apart; each is recorded
            // where it was drawn.
            let mut t = Terminal::new(TestBackend::new(100, 40)).unwrap();
            t.draw(|f| b.draw(f)).unwrap();
            let s = t.backend().to_string();
            let spots = b.placements();
            assert_eq!(spots.len(), 6, "{spots:?}\n{s}");
            let buf = t.backend().buffer();
            for (end, row) in ["top images", "bottom images"].iter().zip(spots.chunks(3)) {
                let heading = buf.area.rows().position(|r| {
                    let text: String = r.positions().map(|p| buf[p].symbol().to_owned()).collect();
                    text.contains(end)
                });
                let heading = heading.unwrap_or_else(|| panic!("no {end}:\n{s}")) as u16;
                for (i, p) in row.iter().enumerate() {
                    assert_eq!(p.area.width, 8, "{p:?}");
                    assert!((2..=clip_audit::tui::graphics::MAX_ROWS).contains(&p.area.height), "{p:?}");
                    assert_eq!(p.area.y, heading + 1, "{end}: right under the heading: {p:?}");
                    assert_eq!(p.area.x, row[0].area.x + 9 * i as u16, "{end}: a column apart: {row:?}");
                    for pos in p.area.positions() {
                        let c = &buf[pos];
                        let painted = matches!((c.fg, c.bg), (Color::Rgb(..), Color::Rgb(..)));
                        assert!(painted && ["▀", "▄", " "].contains(&c.symbol()), "{p:?} at {pos:?}: {c:?}");
                    }
                    // The blank column after it is not part of it.
                    let after = &buf[(p.area.right(), p.area.y)];
                    assert!(!matches!(after.bg, Color::Rgb(..)), "{p:?}: {after:?}");
                }
            }
            // The help overlay hides them (a pixel image cannot be partly covered).
            keys(&mut b, "?");
            let _ = screen(&b, 100, 40);
            assert!(b.placements().is_empty());
            keys(&mut b, "?");
            found = true;
            break;
        }
        keys(&mut b, "j");
    }
    assert!(found, "some unit of the flags report has an image and rendered text among its top and bottom stimuli");
}

/// A unit whose run has feature visualizations cached shows the newest of its own beside its
/// examples: the picture drawn, and its activation, ratio to the top example's and steps beside
/// it. A unit without one says so in one line, and so does a report whose run has no cache.
#[test]
fn the_unit_view_shows_the_units_feature_visualization_from_the_run_cache() {
    use clip_audit::run::visualizations::{CACHE_DIR, Visualized};
    let dir = tempfile::tempdir().unwrap();
    let flags = report(&dir.path().join("flags"), &flags_spec(dir.path()), &[]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(flags.join("report.json")).unwrap()).unwrap();
    // The run folder is the one the report's summary names, as for the thumbnails.
    let run = PathBuf::from(json["summary"]["runs"][0].as_str().unwrap());
    let unit = &json["summary"]["selectivity"]["units"][0];
    let (tap, index) = (unit["tap"].as_str().unwrap(), unit["unit"].as_u64().unwrap() as usize);
    assert_eq!(unit["modality"], "image", "{unit}");
    let top = unit["top"][0]["value"].as_f64().unwrap() as f32;
    assert!(top > 0.0, "{unit}");
    let unit_view = |wait: bool| {
        let mut a = App::load(&flags.join("report.json")).unwrap();
        a.start_thumbnails();
        keys(&mut a, "2");
        let _ = screen(&a, 160, 50);
        if wait {
            a.wait_thumbnails(std::time::Duration::from_secs(10));
        }
        a
    };
    let a = unit_view(true);
    let s = screen(&a, 160, 50);
    assert!(s.contains("no feature visualization (outputs.feature_visualization)"), "{s}");

    // Two records of the unit: the older green, the newer magenta; and a newer PNG alone.
    let cache = run.join(CACHE_DIR);
    std::fs::create_dir_all(&cache).unwrap();
    let anchor = clip_audit::report::cards::anchor(tap, index);
    let now = std::time::SystemTime::now();
    for (key, colour, activation, age) in
        [("0123456789abcdef", [0, 200, 0], top, 60), ("fedcba9876543210", [200, 30, 160], top * 2.5, 30)]
    {
        let stem = cache.join(format!("{anchor}-{key}"));
        image::RgbImage::from_pixel(32, 32, image::Rgb(colour)).save(stem.with_extension("png")).unwrap();
        let v = Visualized {
            png: stem.with_extension("png"),
            activation,
            initial: 0.01,
            steps: 256,
            seed: 7,
            seconds: 1.5,
            device: "cpu".into(),
        };
        std::fs::write(stem.with_extension("json"), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        let file = std::fs::File::options().write(true).open(stem.with_extension("json")).unwrap();
        file.set_modified(now - std::time::Duration::from_secs(age)).unwrap();
    }
    image::RgbImage::from_pixel(32, 32, image::Rgb([0, 0, 255]))
        .save(cache.join(format!("{anchor}-00000000ffffffff.png")))
        .unwrap();

    // Without the worker (as in the snapshots), nothing; the worker's answer is drawn.
    let mut b = App::load(&flags.join("report.json")).unwrap();
    keys(&mut b, "2");
    assert!(!screen(&b, 160, 50).contains("feature visualization"));
    let mut b = unit_view(true);
    let mut t = Terminal::new(TestBackend::new(160, 50)).unwrap();
    t.draw(|f| b.draw(f)).unwrap();
    let s = t.backend().to_string();
    let activation = clip_audit::report::num(f64::from(top * 2.5));
    for text in [
        "feature visualization".to_owned(),
        format!("activation {activation}"),
        format!("2.5x the top example's {}", clip_audit::report::num(f64::from(top))),
        "256 steps · seed 7".to_owned(),
    ] {
        assert!(s.contains(&text), "`{text}` in\n{s}");
    }
    let spots = b.placements();
    let picture = spots.iter().find(|p| p.id == anchor).unwrap_or_else(|| panic!("{spots:?}\n{s}"));
    // 32 x 32 pixels at 10 cells wide: 10 x 5 half blocks, every one the newest record's colour.
    assert_eq!((picture.area.width, picture.area.height), (10, 5), "{picture:?}");
    let buf = t.backend().buffer();
    let magenta = Color::Rgb(200, 30, 160);
    for pos in picture.area.positions() {
        let c = &buf[pos];
        // (Half blocks of one colour over the same colour may be drawn as a space.)
        let painted = c.bg == magenta && (c.symbol() == " " || c.fg == magenta);
        assert!(painted && ["▀", "▄", " "].contains(&c.symbol()), "{pos:?}: {c:?}");
    }
    // Its text is on the rows of the picture, to its right, above the examples' thumbnails.
    let row = |y: u16| -> String { (0..160).map(|x| buf[(x, y)].symbol().to_owned()).collect() };
    assert!(row(picture.area.y).contains("feature visualization"), "{}", row(picture.area.y));
    let examples = spots.iter().filter(|p| p.id != anchor).map(|p| p.area.y).min();
    assert!(examples.is_some_and(|y| y > picture.area.bottom()), "{spots:?}");

    // The next unit has none of its own.
    keys(&mut b, "j");
    let _ = screen(&b, 160, 50);
    b.wait_thumbnails(std::time::Duration::from_secs(10));
    let s = screen(&b, 160, 50);
    assert!(s.contains("no feature visualization"), "{s}");
    assert!(!b.placements().iter().any(|p| p.id.starts_with("unit-")), "{:?}", b.placements());
}
