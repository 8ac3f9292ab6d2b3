//! The decision layer: its statistics against scipy/statsmodels (`fixtures/stats/decision.json`,
//! made by `scripts/make_decision_fixtures.py`), the cases that went wrong before it (each a
//! regression test named after the fault), and its calibration shown by seeded simulation:
//! under a null at the limit the false-positive rate stays at the nominal one-sided 2.5% plus
//! Monte Carlo error, and under a stated effect the power reaches 0.8. The rates these tests
//! measure are the table in docs/analyses.md.

use clip_audit::analysis::decision::{ALPHA, Direction, Family, Mde, Rule, Verdict, decide, holm};
use clip_audit::analysis::denigration::{GroupRates, Limits, group_rates};
use clip_audit::analysis::resolution::{GroupCoverage, compare_groups};
use clip_audit::analysis::stats::{
    Rng, binomial_sf_ge, clopper_pearson, newcombe_at, risk_ratio, spearman_exact, spearman_test,
};
use serde_json::Value;

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stats/decision.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("decision.json parses")
}

fn cases(fx: &Value, section: &str) -> Vec<Value> {
    let list = fx[section].as_array().unwrap_or_else(|| panic!("section {section} missing")).clone();
    assert!(!list.is_empty(), "section {section} is empty");
    list
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("integer")
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-300) + 1e-15, "{what}: got {got}, want {want}");
}

#[test]
fn exact_binomial_test_matches_scipy_binomtest() {
    for c in cases(&fixture(), "binomial_greater") {
        let got = binomial_sf_ge(u(&c["k"]), u(&c["n"]), num(&c["p0"]));
        close(got, num(&c["p"]), 1e-9, &format!("binomtest {c}"));
    }
}

#[test]
fn clopper_pearson_at_any_level_matches_statsmodels() {
    for c in cases(&fixture(), "clopper_pearson") {
        let (lo, hi) = clopper_pearson(u(&c["k"]), u(&c["n"]), num(&c["alpha"]));
        close(lo, num(&c["ci"][0]), 1e-9, &format!("lower {c}"));
        close(hi, num(&c["ci"][1]), 1e-9, &format!("upper {c}"));
    }
}

#[test]
fn katz_risk_ratio_matches_statsmodels_log_and_log_adjusted() {
    for c in cases(&fixture(), "risk_ratio") {
        let rr = risk_ratio(u(&c["a"]), u(&c["n1"]), u(&c["c"]), u(&c["n2"])).expect("defined");
        if let Some(alpha) = c.get("alpha") {
            assert_eq!(rr.adjusted, c["method"] == "log-adjusted", "{c}");
            let ci = rr.interval(num(alpha));
            close(ci[0], num(&c["ci"][0]), 1e-9, &format!("lower {c}"));
            close(ci[1], num(&c["ci"][1]), 1e-9, &format!("upper {c}"));
        } else {
            close(rr.p_above(num(&c["limit"])), num(&c["p_above"]), 1e-9, &format!("p {c}"));
        }
    }
}

#[test]
fn newcombe_at_any_level_matches_statsmodels() {
    for c in cases(&fixture(), "newcombe") {
        let ci = newcombe_at(u(&c["k1"]), u(&c["n1"]), u(&c["k2"]), u(&c["n2"]), num(&c["alpha"]));
        close(ci[0], num(&c["ci"][0]), 1e-9, &format!("lower {c}"));
        close(ci[1], num(&c["ci"][1]), 1e-9, &format!("upper {c}"));
    }
}

#[test]
fn exact_spearman_p_matches_scipy_permutation_test() {
    for c in cases(&fixture(), "spearman_exact") {
        let x: Vec<f64> = c["x"].as_array().unwrap().iter().map(num).collect();
        let y: Vec<f64> = c["y"].as_array().unwrap().iter().map(num).collect();
        let (rho, p) = spearman_exact(&x, &y).expect("3 <= n <= 10");
        close(rho, num(&c["rho"]), 1e-12, &format!("rho {c}"));
        close(p, num(&c["p"]), 1e-9, &format!("p {c}"));
    }
}

#[test]
fn holm_matches_statsmodels() {
    for c in cases(&fixture(), "holm") {
        let p: Vec<f64> = c["p"].as_array().unwrap().iter().map(num).collect();
        for (got, want) in holm(&p).iter().zip(c["q"].as_array().unwrap()) {
            close(*got, num(want), 1e-12, &format!("holm {c}"));
        }
    }
}

#[test]
fn minimum_detectable_effects_match_scipy_and_statsmodels_power() {
    let fx = fixture();
    for c in cases(&fx, "mde_rate") {
        let got = Mde::rate(u(&c["n"]), num(&c["limit"]), num(&c["a"]));
        match &c["mde"] {
            Value::Null => assert_eq!(got, None, "{c}"),
            want => close(got.expect("detectable"), num(want), 1e-9, &format!("mde rate {c}")),
        }
    }
    for c in cases(&fx, "mde_standardized") {
        let got = Mde::standardized(u(&c["n1"]), u(&c["n2"]), num(&c["limit"]), num(&c["a"])).expect("defined");
        close(got, num(&c["mde"]), 1e-6, &format!("mde d {c}"));
    }
}

// ---- The cases that went wrong before the decision layer -------------------------------------

/// One breakdown's values per image, whether each image got a harmful label, and which.
type Images = (Vec<(String, Vec<String>)>, Vec<bool>, Vec<&'static str>);

/// Images of groups given as (name, images, harmful ones).
fn breakdown(groups: &[(&str, u64, u64)]) -> Images {
    let mut values = Vec::new();
    let mut harmful = Vec::new();
    for &(g, n, h) in groups {
        for i in 0..n {
            values.push(g.to_owned());
            harmful.push(i < h);
        }
    }
    let labels = vec!["thief"; harmful.len()];
    (vec![("member".to_owned(), values)], harmful, labels)
}

#[test]
fn denigration_ratio_is_against_the_rest_so_two_equal_groups_can_fail_max_ratio_2() {
    let fx = fixture();
    let want = &fx["cases"]["denigration_24_of_60_vs_3_of_60"];
    let (b, harmful, labels) = breakdown(&[("a", 60, 24), ("b", 60, 3)]);
    let limits = Limits { max_rate: 0.5, max_ratio: 2.0, ..Limits::default() };
    let GroupRates { groups, rate, ratio, .. } = group_rates(&b, &harmful, &labels, &limits, "denigration/x");
    let a = &groups[0];
    assert_eq!((a.group.as_str(), a.rest_n, a.rest_harmful), ("a", 60, 3));
    close(a.ratio, 8.0, 1e-12, "risk ratio");
    close(a.ratio_ci[0], num(&want["katz_ci"][0]), 1e-9, "Katz lower");
    close(a.ratio_ci[1], num(&want["katz_ci"][1]), 1e-9, "Katz upper");
    close(a.p, num(&want["fisher_p"]), 1e-9, "Fisher p");
    assert_eq!(ratio[0].verdict, Verdict::Fail, "{:?}", ratio[0]);
    assert_eq!(ratio[0].family.size, 2);
    assert_eq!(ratio[1].verdict, Verdict::Pass, "b's ratio 1/8 is wholly below 2");
    // The rate rule: 24/60 against 0.5 is on the allowed side but not decided; 3/60 passes.
    assert_eq!(rate[0].verdict, Verdict::Inconclusive);
    assert_eq!(rate[1].verdict, Verdict::Pass);
}

#[test]
fn denigration_rest_excludes_images_the_breakdown_leaves_out() {
    let (mut b, mut harmful, mut labels) = breakdown(&[("a", 40, 10), ("b", 40, 2)]);
    // Twenty images without a value for this breakdown, all harmful: they count nowhere.
    for _ in 0..20 {
        b[0].1.push(String::new());
        harmful.push(true);
        labels.push("thief");
    }
    let GroupRates { groups, left_out, .. } = group_rates(&b, &harmful, &labels, &Limits::default(), "denigration/x");
    assert_eq!(left_out, vec![("member".to_owned(), 20)]);
    assert_eq!((groups[0].rest_n, groups[0].rest_harmful), (40, 2));
    close(groups[0].ratio, 5.0, 1e-12, "ratio against b only");
}

#[test]
fn one_harmful_label_out_of_one_image_is_inconclusive_not_an_error() {
    let fx = fixture();
    let (b, harmful, labels) = breakdown(&[("lone", 1, 1), ("many", 100, 1)]);
    let GroupRates { groups, rate, .. } = group_rates(&b, &harmful, &labels, &Limits::default(), "denigration/x");
    assert_eq!(groups[0].group, "lone");
    close(groups[0].clopper_pearson[0], num(&fx["cases"]["rate_1_of_1"]["clopper_pearson_lower"]), 1e-9, "CP");
    assert_eq!(rate[0].verdict, Verdict::Inconclusive);
    assert!(rate[0].reason.contains("below the minimum"), "{}", rate[0].reason);
    assert_eq!(rate[0].mde, Mde::rate(1, 0.05, 0.025));
    // Even above the minimum n, the exact test, not Wilson's bound, decides: 1 of 10 at 5%.
    let (b, harmful, labels) = breakdown(&[("ten", 10, 1), ("rest", 100, 1)]);
    let GroupRates { rate, .. } = group_rates(&b, &harmful, &labels, &Limits::default(), "denigration/x");
    assert_eq!(rate[0].verdict, Verdict::Inconclusive, "CP lower bound of 1/10 is 0.0025 < 0.05");
}

#[test]
fn spearman_over_few_concepts_uses_the_exact_permutation_p() {
    let (_, p, exact) = spearman_test(&[1.0, 2.0, 3.0], &[2.0, 4.0, 9.0]);
    assert!(exact);
    close(p, 1.0 / 3.0, 1e-12, "n = 3, rho = 1");
    let (_, p, _) = spearman_test(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]);
    close(p, 1.0 / 12.0, 1e-12, "n = 4, rho = 1");
    let (rho, p, _) = spearman_test(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, 3.0, 5.0, 4.0]);
    close(rho, 0.9, 1e-12, "rho");
    close(p, 1.0 / 12.0, 1e-12, "n = 5, rho = 0.9 (t approximation said 0.037)");
    let x: Vec<f64> = (0..11).map(f64::from).collect();
    assert!(!spearman_test(&x, &x).2, "beyond ten concepts: the t approximation");
}

fn coverage(group: &str, members: usize, covered: usize) -> GroupCoverage {
    GroupCoverage {
        group: group.into(),
        members,
        covered,
        coverage: if members > 0 { covered as f64 / members as f64 } else { f64::NAN },
        ci: [f64::NAN; 2],
        weighted_coverage: None,
        dedicated_units: covered,
        group_units: 0,
        uncovered_members: Vec::new(),
    }
}

#[test]
fn resolution_disparity_needs_newcombes_bound_beyond_the_limit_not_fishers_q() {
    let fx = fixture();
    let (d, decisions) = compare_groups(&[coverage("Europe", 10, 8), coverage("Africa", 10, 2)], 0.25, 0.05, "r");
    assert_eq!(d.len(), 1);
    let want = &fx["cases"]["resolution_8_of_10_vs_2_of_10"]["newcombe_ci"];
    close(d[0].ci[0], num(&want[0]), 1e-9, "Newcombe lower");
    close(d[0].ci[1], num(&want[1]), 1e-9, "Newcombe upper");
    assert!(d[0].p < 0.05, "Fisher says a difference exists");
    assert_eq!(decisions[0].verdict, Verdict::Inconclusive, "but 0.16 < 0.25 does not show it exceeds the limit");
    let (_, decisions) = compare_groups(&[coverage("Europe", 10, 10), coverage("Africa", 10, 0)], 0.25, 0.05, "r");
    assert_eq!(decisions[0].verdict, Verdict::Fail);
}

#[test]
fn resolution_groups_without_members_stay_out_of_the_family() {
    let covs = [coverage("Europe", 10, 10), coverage("Africa", 10, 0), coverage("Antarctica", 0, 0)];
    let (d, decisions) = compare_groups(&covs, 0.25, 0.05, "r");
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d.iter().all(|x| x.higher != "Antarctica" && x.lower != "Antarctica"));
    assert_eq!(decisions[0].family.size, 1);
    assert!(decisions.iter().all(|x| x.p.is_finite()));
}

#[test]
fn a_failed_check_in_a_family_carries_its_fcr_adjusted_interval() {
    let rules: Vec<Rule<'_>> = [(40u64, 50u64), (5, 50), (6, 50), (4, 50)]
        .iter()
        .map(|&(k, n)| Rule {
            estimand: "rate".into(),
            estimate: k as f64 / n as f64,
            interval: Box::new(move |a| {
                let (lo, hi) = clopper_pearson(k, n, a);
                [lo, hi]
            }),
            ci_method: "Clopper-Pearson".into(),
            limit: 0.2,
            direction: Direction::Above,
            p: None,
            test: "inverted".into(),
            n,
            min_n: 10,
            mde: None,
        })
        .collect();
    let d = decide(&rules, Family::bh("f", 0.05));
    assert_eq!(d[0].verdict, Verdict::Fail);
    // One failure of four: the FCR-adjusted interval is at 1 - 1·0.05/4.
    close(d[0].ci_adjusted_level.unwrap(), 1.0 - 0.05 / 4.0, 1e-12, "level");
    let (lo, _) = clopper_pearson(40, 50, 0.05 / 4.0);
    close(d[0].ci_adjusted.unwrap()[0], lo, 1e-12, "adjusted lower bound");
    assert!(lo > 0.2);
    // The p found by inverting Clopper-Pearson is the exact binomial test's.
    close(d[0].p, binomial_sf_ge(40, 50, 0.2), 1e-6, "inverted p");
    assert!(d[1..].iter().all(|x| x.verdict != Verdict::Fail));
}

// ---- Calibration by seeded simulation --------------------------------------------------------

/// Monte Carlo allowance: three standard errors of a rate `p` estimated from `reps` draws.
fn mc(p: f64, reps: usize) -> f64 {
    3.0 * (p * (1.0 - p) / reps as f64).sqrt()
}

fn binomial(rng: &mut Rng, n: u64, p: f64) -> u64 {
    (0..n).filter(|_| rng.uniform() < p).count() as u64
}

/// Fraction of `reps` simulated families in which the rule fails at least one check.
fn fail_rate(reps: usize, mut one: impl FnMut(&mut Rng) -> bool) -> f64 {
    let mut rng = Rng::new(20261130);
    (0..reps).filter(|_| one(&mut rng)).count() as f64 / reps as f64
}

fn rate_fails(rng: &mut Rng, n: u64, truth: f64) -> bool {
    let (b, harmful, labels) = breakdown(&[("g", n, binomial(rng, n, truth)), ("rest", 200, 2)]);
    let limits = Limits { min_n: 1, ..Limits::default() };
    let GroupRates { rate, .. } = group_rates(&b, &harmful, &labels, &limits, "d");
    rate[0].verdict == Verdict::Fail
}

#[test]
fn calibration_rate_rule() {
    let reps = 2000;
    for n in [3, 10, 50, 200] {
        let fpr = fail_rate(reps, |r| rate_fails(r, n, 0.05));
        eprintln!("calibration rate rule: null rate = limit 0.05, n = {n}: false-positive rate {fpr:.4}");
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "n = {n}: {fpr}");
    }
    let power = fail_rate(reps, |r| rate_fails(r, 200, 0.12));
    eprintln!("calibration rate rule: true rate 0.12 against 0.05, n = 200: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

fn ratio_fails(rng: &mut Rng, n1: u64, p1: f64, n2: u64, p2: f64) -> bool {
    let (b, harmful, labels) = breakdown(&[("g", n1, binomial(rng, n1, p1)), ("rest", n2, binomial(rng, n2, p2))]);
    let GroupRates { ratio, .. } = group_rates(&b, &harmful, &labels, &Limits::default(), "d");
    ratio[0].verdict == Verdict::Fail
}

#[test]
fn calibration_ratio_rule() {
    let reps = 2000;
    for (n1, n2, p2) in [(30, 300, 0.05), (60, 60, 0.1), (200, 2000, 0.02)] {
        let fpr = fail_rate(reps, |r| ratio_fails(r, n1, 2.0 * p2, n2, p2));
        eprintln!(
            "calibration ratio rule: null RR = limit 2, n = {n1} vs {n2}, rest rate {p2}: false-positive rate {fpr:.4}"
        );
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{n1} vs {n2}: {fpr}");
    }
    let power = fail_rate(reps, |r| ratio_fails(r, 300, 0.25, 300, 0.05));
    eprintln!("calibration ratio rule: RR 5 against 2, 300 vs 300, rest rate 0.05: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

fn disparity_fails(rng: &mut Rng, n1: u64, p1: f64, n2: u64, p2: f64) -> bool {
    let k1 = binomial(rng, n1, p1) as usize;
    let k2 = binomial(rng, n2, p2) as usize;
    let covs = [coverage("a", n1 as usize, k1), coverage("b", n2 as usize, k2)];
    let (d, decisions) = compare_groups(&covs, 0.25, 0.05, "r");
    d.iter().zip(&decisions).any(|(d, x)| d.higher == "a" && x.verdict == Verdict::Fail)
}

#[test]
fn calibration_resolution_rule() {
    let reps = 2000;
    for (n1, n2, p2) in [(10, 10, 0.25), (6, 20, 0.1), (50, 50, 0.5)] {
        let fpr = fail_rate(reps, |r| disparity_fails(r, n1, p2 + 0.25, n2, p2));
        eprintln!(
            "calibration resolution rule: null difference = limit 0.25, {n1} vs {n2} members, lower coverage {p2}: false-positive rate {fpr:.4}"
        );
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{n1} vs {n2}: {fpr}");
    }
    let power = fail_rate(reps, |r| disparity_fails(r, 20, 0.9, 20, 0.2));
    eprintln!("calibration resolution rule: difference 0.7 against 0.25, 20 vs 20 members: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

#[test]
fn calibration_benjamini_hochberg_family_under_the_global_null() {
    // Twenty groups of one breakdown, every one at the limit: the chance of any failure stays
    // within the family's one-sided level.
    let reps = 1000;
    let fpr = fail_rate(reps, |rng| {
        let groups: Vec<(String, u64, u64)> = (0..20).map(|g| (format!("g{g}"), 40, binomial(rng, 40, 0.05))).collect();
        let refs: Vec<(&str, u64, u64)> = groups.iter().map(|(g, n, h)| (g.as_str(), *n, *h)).collect();
        let (b, harmful, labels) = breakdown(&refs);
        let GroupRates { rate, .. } = group_rates(&b, &harmful, &labels, &Limits::default(), "d");
        rate.iter().any(|d| d.verdict == Verdict::Fail)
    });
    eprintln!(
        "calibration rate rule, 20 groups of 40 at the limit (BH family): family-wise false-positive rate {fpr:.4}"
    );
    assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{fpr}");
}

#[test]
fn calibration_exact_spearman() {
    let reps = 2000;
    let mut rng = Rng::new(7);
    for n in [4usize, 6, 8] {
        let mut rejections = 0;
        for _ in 0..reps {
            let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            if spearman_exact(&x, &y).is_some_and(|(_, p)| p <= ALPHA) {
                rejections += 1;
            }
        }
        let fpr = rejections as f64 / reps as f64;
        eprintln!("calibration exact Spearman: independent samples, n = {n}: false-positive rate {fpr:.4} at 0.05");
        assert!(fpr <= ALPHA + mc(ALPHA, reps), "n = {n}: {fpr}");
    }
    let mut hits = 0;
    for _ in 0..reps {
        let x: Vec<f64> = (0..10).map(|_| rng.normal()).collect();
        let y: Vec<f64> = x.iter().map(|v| v + 0.5 * rng.normal()).collect();
        if spearman_exact(&x, &y).is_some_and(|(_, p)| p <= ALPHA) {
            hits += 1;
        }
    }
    let power = hits as f64 / reps as f64;
    eprintln!("calibration exact Spearman: n = 10, correlation 0.89: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}
