//! The decision layer: its statistics against scipy/statsmodels (`fixtures/stats/decision.json`,
//! made by `scripts/make_decision_fixtures.py`), the cases that went wrong before it (each a
//! regression test named after the fault), and its calibration shown by seeded simulation:
//! under a null at the limit the false-positive rate stays at the nominal one-sided 2.5% plus
//! Monte Carlo error, and under a stated effect the power reaches 0.8. The rates these tests
//! measure are the table in docs/analyses.md.

use clip_audit::analysis::associations::{Resampling, Scores, decide_pairs, pair_test, paired_change};
use clip_audit::analysis::decision::{ALPHA, Direction, Family, Mde, Rule, Verdict, decide, holm};
use clip_audit::analysis::denigration::{Classified, GroupRates, Limits, group_rates};
use clip_audit::analysis::resolution::{GroupCoverage, compare_groups};
use clip_audit::analysis::stats::{
    Rng, TInterval, binomial_sf_ge, binomial_sf_ge_effective, clopper_pearson, clopper_pearson_effective,
    clustered_mean, design_effect, icc_oneway, newcombe_at, normal_ppf, normal_sf, ratio_score_interval, ratio_score_z,
    risk_ratio, spearman_exact, spearman_test, weat_clustered, welch,
};
use clip_audit::analysis::typographic::decide_excess;
use serde_json::Value;

use crate::common::{reference_cases, reference_cases as cases, reference_num as num};

fn fixture() -> Value {
    crate::common::stats_reference("decision.json")
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
fn risk_ratio_score_interval_and_test_match_statsmodels() {
    for c in cases(&fixture(), "ratio_score") {
        let (a, n1, k, n2) = (num(&c["a"]), num(&c["n1"]), num(&c["c"]), num(&c["n2"]));
        let ci = ratio_score_interval(a, n1, k, n2, 0.05);
        let want = [num(&c["ci95"][0]).max(0.0), num(&c["ci95"][1])];
        for (got, want) in ci.iter().zip(want) {
            if want.is_infinite() || want < 1e-12 {
                assert!(*got == want || (want < 1e-12 && *got < 1e-9), "{c}: {ci:?}");
            } else {
                close(*got, want, 1e-7, &format!("score interval {c}"));
            }
        }
        close(normal_sf(ratio_score_z(a, n1, k, n2, 2.0)), num(&c["p_above_2"]), 1e-9, &format!("score p {c}"));
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
    // The t-test MDE is the usual t_(1-a) + t_power approximation to the noncentral t:
    // within 2% of statsmodels' exact answer already at 4 degrees of freedom.
    for c in cases(&fx, "mde_t") {
        let t = TInterval { estimate: 0.0, se: 1.0, df: num(&c["df"]) };
        let got = Mde::from_t(&t, 0.0, num(&c["a"])).expect("defined");
        close(got, num(&c["shift_in_se"]), 0.02, &format!("mde t {c}"));
    }
    for c in cases(&fx, "mde_standardized") {
        let got = Mde::standardized(u(&c["n1"]), u(&c["n2"]), num(&c["limit"]), num(&c["a"])).expect("defined");
        close(got, num(&c["mde"]), 1e-6, &format!("mde d {c}"));
    }
}

/// The two-proportion MDEs (risk ratio, difference, impact ratio) follow Farrington &
/// Manning's power of the score test, and clear the rules' refusal gates (the ratio rule decides
/// only with 10 and 5 expected harmful labels, the impact rule with 5 expected misses): they
/// match statsmodels' `normal_power_het` with those variances and the gates solved in Python.
/// The fixture also holds each design's exact power of the rule (score test or Newcombe, with
/// its refusal), summed over every outcome in Python, which shows what the MDE promises: about
/// 80% where the power binds, more (conservative) where a gate does.
#[test]
fn two_proportion_mdes_match_farrington_manning_power_and_the_rules_refusal_gates() {
    let fx = fixture();
    let designs = &fx["mde_proportions"];
    let mut compared = 0;
    for kind in ["risk_ratio", "difference", "impact_ratio"] {
        for c in designs[kind].as_array().expect("cases") {
            let (n1, n2, p2, limit, a) = (u(&c["n1"]), u(&c["n2"]), num(&c["p2"]), num(&c["limit"]), num(&c["a"]));
            let got = match kind {
                "risk_ratio" => Mde::risk_ratio(n1, n2, p2, limit, a, (10.0, 5.0)),
                "difference" => Mde::difference(n1, n2, p2, limit, a),
                _ => Mde::impact_ratio(n1, n2, p2, limit, a, 5.0),
            };
            compared += 1;
            let Value::Number(_) = &c["mde"] else {
                assert_eq!(got, None, "{kind} {c}: no effect the rule can detect");
                continue;
            };
            close(got.expect("detectable"), num(&c["mde"]), 1e-6, &format!("mde {kind} {c}"));
            // The fixture's own claim, checked so that a regenerated fixture cannot drift.
            let exact = num(&c["exact_power"]);
            let promised = if c["gate_binds"] == true { 0.78..=1.0 } else { 0.75..=0.85 };
            assert!(promised.contains(&exact), "{kind} {c}: the rule's exact power at the MDE is {exact}");
        }
    }
    assert_eq!(compared, 14);
    // A reference rate of 0 (no event in the rest) stands in as 0.5/n2; an impossible design
    // has no MDE.
    assert!(Mde::risk_ratio(1000, 1000, 0.0, 2.0, 0.025, (10.0, 5.0)).is_some());
    assert_eq!(Mde::difference(5, 5, 0.9, 0.25, 0.025), None);
    assert_eq!(Mde::impact_ratio(3, 3, 0.5, 0.8, 0.025, 5.0), None);
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
    let GroupRates { groups, rate, ratio, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "denigration/x");
    let a = &groups[0];
    assert_eq!((a.group.as_str(), a.rest_n, a.rest_harmful), ("a", 60, 3));
    close(a.ratio, 8.0, 1e-12, "risk ratio");
    // The issue's Katz interval, and the score interval the rule decides on (statsmodels).
    let katz = risk_ratio(24, 60, 3, 60).unwrap().interval(0.05);
    close(katz[0], num(&want["katz_ci"][0]), 1e-9, "Katz lower");
    close(katz[1], num(&want["katz_ci"][1]), 1e-9, "Katz upper");
    let score = &reference_cases(&fx, "ratio_score")[0];
    assert_eq!((score["a"].as_u64(), score["c"].as_u64()), (Some(24), Some(3)));
    close(a.ratio_ci[0], num(&score["ci95"][0]), 1e-7, "score lower");
    close(a.ratio_ci[1], num(&score["ci95"][1]), 1e-7, "score upper");
    close(a.p, num(&want["fisher_p"]), 1e-9, "Fisher p");
    assert_eq!(ratio[0].verdict, Verdict::Fail, "{:?}", ratio[0]);
    assert_eq!(ratio[0].family.size, 2);
    assert_eq!(ratio[1].verdict, Verdict::Pass, "b's ratio 1/8 is wholly below 2");
    // The rate rule: 24/60 against 0.5 is on the allowed side but not decided; 3/60 passes.
    assert_eq!(rate[0].verdict, Verdict::Inconclusive);
    assert_eq!(rate[1].verdict, Verdict::Pass);
}

#[test]
fn a_risk_ratio_against_a_rest_without_harmful_labels_is_decided_on_its_interval() {
    let (b, harmful, labels) = breakdown(&[("a", 60, 30), ("b", 60, 0)]);
    let limits = Limits { max_rate: 0.5, ..Limits::default() };
    let GroupRates { groups, ratio, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "d");
    assert!(groups[0].ratio.is_infinite());
    assert!(groups[0].ratio_ci[0] > 2.0, "{:?}", groups[0].ratio_ci);
    // Decided on the score interval, whose upper bound is infinite here, not "undefined".
    assert_eq!(ratio[0].verdict, Verdict::Fail, "{}", ratio[0].reason);
    assert!(groups[0].ratio_ci[1].is_infinite());
}

#[test]
fn ratios_of_rare_events_in_small_groups_are_inconclusive() {
    // Ten images against a thousand at a rest rate of 0.02: at the limit the group would have
    // 0.4 harmful labels on average, too few for the score test; the rate rule still decides.
    let (b, harmful, labels) = breakdown(&[("small", 10, 9), ("rest", 1000, 20)]);
    let GroupRates { groups, rate, ratio, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &Limits::default(), "d");
    let i = groups.iter().position(|g| g.group == "small").unwrap();
    assert_eq!(ratio[i].verdict, Verdict::Inconclusive);
    assert!(ratio[i].reason.contains("normal approximation needs"), "{}", ratio[i].reason);
    assert_eq!(rate[i].verdict, Verdict::Fail);
}

#[test]
fn one_person_in_many_photos_counts_once() {
    // 30 photos of one person, all labelled harmful: with cluster_by, one observation.
    let (b, harmful, labels) = breakdown(&[("one", 30, 30), ("rest", 200, 2)]);
    let clusters: Vec<usize> = (0..230).map(|i| if i < 30 { 0 } else { i }).collect();
    let c = Classified { harmful: &harmful, label: &labels, clusters: Some(&clusters) };
    let GroupRates { groups, rate, .. } = group_rates(&b, &c, &Limits::default(), "d");
    let i = groups.iter().position(|g| g.group == "one").unwrap();
    assert_eq!(groups[i].design_effect, 30.0);
    assert_eq!(rate[i].n, 1);
    assert_eq!(rate[i].verdict, Verdict::Inconclusive, "{}", rate[i].reason);
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
    let GroupRates { groups, left_out, .. } = group_rates(
        &b,
        &Classified { harmful: &harmful, label: &labels, clusters: None },
        &Limits::default(),
        "denigration/x",
    );
    assert_eq!(left_out, vec![("member".to_owned(), 20)]);
    assert_eq!((groups[0].rest_n, groups[0].rest_harmful), (40, 2));
    close(groups[0].ratio, 5.0, 1e-12, "ratio against b only");
}

#[test]
fn one_harmful_label_out_of_one_image_is_inconclusive_not_an_error() {
    let fx = fixture();
    let (b, harmful, labels) = breakdown(&[("lone", 1, 1), ("many", 100, 1)]);
    let GroupRates { groups, rate, .. } = group_rates(
        &b,
        &Classified { harmful: &harmful, label: &labels, clusters: None },
        &Limits::default(),
        "denigration/x",
    );
    assert_eq!(groups[0].group, "lone");
    close(groups[0].clopper_pearson[0], num(&fx["cases"]["rate_1_of_1"]["clopper_pearson_lower"]), 1e-9, "CP");
    assert_eq!(rate[0].verdict, Verdict::Inconclusive);
    assert!(rate[0].reason.contains("below the minimum"), "{}", rate[0].reason);
    assert_eq!(rate[0].mde, Mde::rate(1, 0.05, 0.025));
    // Even above the minimum n, the exact test, not Wilson's bound, decides: 1 of 10 at 5%.
    let (b, harmful, labels) = breakdown(&[("ten", 10, 1), ("rest", 100, 1)]);
    let GroupRates { rate, .. } = group_rates(
        &b,
        &Classified { harmful: &harmful, label: &labels, clusters: None },
        &Limits::default(),
        "denigration/x",
    );
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
            refuse: None,
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
    let GroupRates { rate, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "d");
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
    let GroupRates { ratio, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &Limits::default(), "d");
    ratio[0].verdict == Verdict::Fail
}

#[test]
fn calibration_ratio_rule() {
    let reps = 2000;
    for (n1, n2, p2) in [
        (10, 1000, 0.02),
        (10, 200, 0.25),
        (10, 100, 0.4),
        (30, 1000, 0.01),
        (30, 300, 0.1),
        (60, 600, 0.05),
        (60, 60, 0.1),
        (200, 2000, 0.02),
        (300, 3000, 0.02),
        (100, 1000, 0.06),
    ] {
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
        let GroupRates { rate, .. } =
            group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &Limits::default(), "d");
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

// ---- Cluster-aware inference -------------------------------------------------------------------

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("integer") as usize).collect()
}

#[test]
fn welch_matches_scipy_ttest_ind() {
    for c in cases(&fixture(), "welch") {
        let t = welch(&f64s(&c["x"]), &f64s(&c["y"])).expect("two values a side");
        close(t.estimate, num(&c["estimate"]), 1e-12, "estimate");
        close(t.df, num(&c["df"]), 1e-9, "df");
        for (level, key) in [(0.05, "ci95"), (0.10, "ci90")] {
            let ci = t.interval(level);
            close(ci[0], num(&c[key][0]), 1e-9, &format!("{key} lower {c}"));
            close(ci[1], num(&c[key][1]), 1e-9, &format!("{key} upper {c}"));
        }
        close(t.p_above(0.2), num(&c["p_above_0.2"]), 1e-9, "one-sided p");
    }
}

#[test]
fn cluster_robust_mean_matches_statsmodels_cluster_ols() {
    for c in cases(&fixture(), "clustered_mean") {
        let t = clustered_mean(&f64s(&c["v"]), &usizes(&c["clusters"])).expect("two clusters");
        close(t.estimate, num(&c["mean"]), 1e-9, "mean");
        close(t.se, num(&c["se"]), 1e-9, "se");
        let ci = t.interval(0.05);
        close(ci[0], num(&c["ci95"][0]), 1e-9, "lower");
        close(ci[1], num(&c["ci95"][1]), 1e-9, "upper");
    }
}

#[test]
fn intraclass_correlation_matches_pingouin_and_the_anova_estimator() {
    for c in cases(&fixture(), "icc") {
        let (v, k) = (f64s(&c["v"]), usizes(&c["clusters"]));
        let (icc, m0) = icc_oneway(&v, &k);
        close(icc, num(&c["icc"]), 1e-9, &format!("icc ({})", c["source"]));
        close(m0, num(&c["m0"]), 1e-12, "m0");
        close(design_effect(&v, &k), 1.0 + (m0 - 1.0) * icc, 1e-12, "design effect");
    }
    assert_eq!(design_effect(&[1.0, 2.0, 3.0], &[0, 1, 2]), 1.0, "singleton clusters");
}

#[test]
fn clopper_pearson_on_effective_counts_matches_scipy_beta() {
    for c in cases(&fixture(), "cp_effective") {
        let (k, n) = (num(&c["k"]), num(&c["n"]));
        let (lo, hi) = clopper_pearson_effective(k, n, 0.05);
        close(lo, num(&c["ci"][0]), 1e-9, &format!("lower {c}"));
        close(hi, num(&c["ci"][1]), 1e-9, &format!("upper {c}"));
        close(binomial_sf_ge_effective(k, n, 0.05), num(&c["p_above_0.05"]), 1e-9, "p");
    }
}

#[test]
fn clustered_weat_permutes_whole_clusters() {
    for c in cases(&fixture(), "cluster_permutation") {
        let sums = f64s(&c["sums"]);
        let kx = c["kx"].as_u64().unwrap() as usize;
        // Each cluster as two images of half its sum: only moving both together gives the
        // reference p.
        let side = |range: std::ops::Range<usize>| -> (Vec<f64>, Vec<usize>) {
            range.flat_map(|i| [(sums[i] / 2.0, i), (sums[i] / 2.0, i)]).unzip()
        };
        let (sx, cx) = side(0..kx);
        let (sy, cy) = side(kx..sums.len());
        let w = weat_clustered(&sx, &cx, &sy, &cy, 1_000_000, &mut Rng::new(1));
        assert!(w.exact);
        close(w.p, num(&c["p"]), 1e-12, "cluster permutation p");
        assert_eq!(w.clusters, (kx, sums.len() - kx));
    }
}

#[test]
fn clustered_weat_permutes_cluster_means_when_clusters_differ_in_size() {
    for c in cases(&fixture(), "cluster_permutation_unequal") {
        let side = |v: &Value, first: usize| -> (Vec<f64>, Vec<usize>) {
            v.as_array()
                .unwrap()
                .iter()
                .enumerate()
                .flat_map(|(i, c)| f64s(c).into_iter().map(move |s| (s, first + i)))
                .unzip()
        };
        let (sx, cx) = side(&c["x"], 0);
        let (sy, cy) = side(&c["y"], 1000);
        let w = weat_clustered(&sx, &cx, &sy, &cy, 1_000_000, &mut Rng::new(1));
        assert!(w.exact);
        close(w.p, num(&c["p"]), 1e-12, "unequal-size cluster permutation p");
    }
}

/// With clusters of 1 to 12 images and scores whose mean is far from 0, no association: the
/// permutation p is at most its nominal level (a p of cluster sums would follow the sizes).
#[test]
fn clustered_weat_permutation_p_is_calibrated_with_unequal_cluster_sizes() {
    let mut rng = Rng::new(29);
    let (reps, level) = (1000, 0.05);
    let mut rejections = 0;
    for _ in 0..reps {
        let (mut sx, mut cx, mut sy, mut cy) = (vec![], vec![], vec![], vec![]);
        for k in 0..12 {
            // X's clusters are the big ones: a sum statistic would always call X "higher".
            let size = if k < 5 { 8 + rng.below(5) } else { 1 + rng.below(3) };
            let effect = 2.0 + 0.5 * rng.normal();
            for _ in 0..size {
                let v = effect + rng.normal();
                if k < 5 {
                    sx.push(v);
                    cx.push(k);
                } else {
                    sy.push(v);
                    cy.push(k);
                }
            }
        }
        let w = weat_clustered(&sx, &cx, &sy, &cy, 10_000, &mut rng);
        assert!(w.exact, "792 partitions are enumerated");
        if w.p <= level {
            rejections += 1;
        }
    }
    let rate = f64::from(rejections) / f64::from(reps);
    let mc = 2.0 * (level * (1.0 - level) / f64::from(reps)).sqrt();
    assert!(rate <= level + mc, "false-positive rate {rate} at a nominal {level}");
    assert!(rate >= level - 2.0 * mc, "{rate}: the test is not so conservative it never fires");
}

/// Scores of `members` members with `per` images each: member effects N(shift, tau²), images
/// N(member effect, 1); clusters numbered from `first`.
fn clustered_scores(rng: &mut Rng, members: usize, per: usize, shift: f64, tau: f64, first: usize) -> Scores {
    let mut s = Scores::default();
    for m in 0..members {
        let effect = shift + tau * rng.normal();
        for _ in 0..per {
            s.scores.push(effect + rng.normal());
            s.clusters.push(first + m);
        }
    }
    s
}

/// Fraction of `reps` clustered draws whose association fails against `limit`: `kx` against
/// `ky` members of `per` images.
fn association_fail_rate(
    reps: usize,
    (kx, ky, per): (usize, usize, usize),
    shift: f64,
    tau: f64,
    limit: f64,
    clustered: bool,
) -> f64 {
    let how = Resampling { clustered, permutations: 1, bootstrap: 400 };
    fail_rate(reps, |rng| {
        let x = clustered_scores(rng, kx, per, shift, tau, 0);
        let y = clustered_scores(rng, ky, per, 0.0, tau, kx);
        let (t, s) = pair_test("g", "a", &x, &y, &how, rng);
        let (mut tests, spreads) = (vec![t], vec![s]);
        decide_pairs(&mut tests, &spreads, limit, "member", Family::bh("a", ALPHA))[0].verdict == Verdict::Fail
    })
}

#[test]
fn calibration_clustered_associations() {
    let reps = 1000;
    // The issue's clustered null: 4 against 16 members of 10 images, no effect. Images
    // resampled one by one fail far more often than 2.5%; clusters do not (and with four
    // clusters the group is below the minimum: inconclusive, never failed).
    for tau in [0.5, 1.0] {
        let naive = association_fail_rate(reps / 2, (4, 16, 10), 0.0, tau, 0.0, false);
        let fpr4 = association_fail_rate(reps, (4, 16, 10), 0.0, tau, 0.0, true);
        eprintln!(
            "calibration associations, clustered null 4 vs 16 members, member sd {tau}: images resampled {naive:.4}, clusters {fpr4:.4}"
        );
        assert!(
            naive > ALPHA / 2.0 + mc(ALPHA / 2.0, reps / 2),
            "the image-level bootstrap should show the inflation: {naive}"
        );
        assert_eq!(fpr4, 0.0);
        for kx in [6, 10] {
            let fpr = association_fail_rate(reps, (kx, 16, 10), 0.0, tau, 0.0, true);
            eprintln!(
                "calibration associations, clustered null {kx} vs 16 members, member sd {tau}: false-positive rate {fpr:.4}"
            );
            assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{kx} members, tau {tau}: {fpr}");
        }
    }
    // Independent images (no `level:`), a true effect size exactly at the limit 0.5: the shift
    // δ with δ / sd(X ∪ Y) = 0.5, sd² = 1 + δ²·w(1 − w) for a group share w.
    for (nx, ny) in [(5, 50), (10, 40), (30, 30)] {
        let w = nx as f64 / (nx + ny) as f64;
        let shift = 0.5 / (1.0 - 0.25 * w * (1.0 - w)).sqrt();
        let fpr = association_fail_rate(reps, (nx, ny, 1), shift, 0.0, 0.5, false);
        eprintln!(
            "calibration associations, independent images, effect size at the limit 0.5, {nx} vs {ny}: false-positive rate {fpr:.4}"
        );
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{nx} vs {ny}: {fpr}");
    }
    // Planted: members of the group shifted by 1.5 score sd (WEAT effect size about 1.2)
    // against a limit of 0.5, 10 against 16 members, member sd 0.5.
    let power = association_fail_rate(reps, (10, 16, 10), 1.5, 0.5, 0.5, true);
    eprintln!("calibration associations, shift 1.5 (d about 1.2) against 0.5, 10 vs 16 members: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

/// Composites of `bases` base images, two each: the base image's label flips with
/// probability 0.02, each composite's with a probability shared by the base image (0.02 +
/// excess ± 0.03), so composites of one base are correlated.
fn typographic_fails(rng: &mut Rng, bases: usize, excess: f64, limit: f64) -> bool {
    let (mut diff, mut clusters) = (Vec::new(), Vec::new());
    for b in 0..bases {
        let q = 0.02 + excess + if rng.uniform() < 0.5 { 0.03 } else { -0.03 };
        let base_flip = f64::from(u8::from(rng.uniform() < 0.02));
        for _ in 0..2 {
            diff.push(f64::from(u8::from(rng.uniform() < q)) - base_flip);
            clusters.push(b);
        }
    }
    decide_excess(&diff, &clusters, limit, "t").verdict == Verdict::Fail
}

#[test]
fn calibration_typographic_excess_paired_and_clustered() {
    let reps = 2000;
    for bases in [50, 300] {
        let fpr = fail_rate(reps, |r| typographic_fails(r, bases, 0.05, 0.05));
        eprintln!(
            "calibration typographic, excess = limit 0.05, {bases} base images x 2: false-positive rate {fpr:.4}"
        );
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{bases}: {fpr}");
    }
    let power = fail_rate(reps, |r| typographic_fails(r, 500, 0.10, 0.05));
    eprintln!("calibration typographic, excess 0.10 against 0.05, 500 base images x 2: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

/// A group of `people` identities with 5 photos each whose harmful probability varies by
/// person (0 or 2·rate, half each: strongly clustered, design effect about 2 at rate 0.2),
/// against a rest of 300 independent images, decided against a `max_rate` of `limit`.
fn clustered_rate_fails(rng: &mut Rng, people: usize, rate: f64, limit: f64, use_clusters: bool) -> bool {
    let (mut harmful, mut clusters, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for p in 0..people {
        let q = if rng.uniform() < 0.5 { 0.0 } else { 2.0 * rate };
        for _ in 0..5 {
            harmful.push(rng.uniform() < q);
            clusters.push(p);
            values.push("g".to_owned());
        }
    }
    for i in 0..300 {
        harmful.push(rng.uniform() < 0.01);
        clusters.push(people + i);
        values.push("rest".to_owned());
    }
    let labels = vec!["thief"; harmful.len()];
    let c = use_clusters.then_some(clusters.as_slice());
    let b = vec![("member".to_owned(), values)];
    let limits = Limits { max_rate: limit, ..Limits::default() };
    let GroupRates { groups, rate: decided, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: c }, &limits, "d");
    groups.iter().zip(decided).any(|(g, d)| g.group == "g" && d.verdict == Verdict::Fail)
}

#[test]
fn calibration_clustered_denigration_rate() {
    let reps = 2000;
    let naive = fail_rate(reps, |r| clustered_rate_fails(r, 60, 0.2, 0.2, false));
    let fpr = fail_rate(reps, |r| clustered_rate_fails(r, 60, 0.2, 0.2, true));
    eprintln!(
        "calibration denigration rate, 60 people x 5 photos at the limit 0.2: images as independent {naive:.4}, cluster_by {fpr:.4}"
    );
    assert!(naive > ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "independent images should show the inflation: {naive}");
    assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{fpr}");
    let power = fail_rate(reps, |r| clustered_rate_fails(r, 150, 0.3, 0.2, true));
    eprintln!("calibration denigration rate, 150 people x 5 photos at rate 0.3 against 0.2: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

#[test]
fn ablation_changes_are_paired_so_a_small_shift_on_the_same_images_is_resolved() {
    // Ten clusters a side; the ablation lowers every score of the group by 0.1 and leaves
    // the rest alone. Measured on the same images, the change is known almost exactly;
    // treated as two independent measurements its interval would be as wide as the effect's.
    let mut rng = Rng::new(3);
    let side = |rng: &mut Rng, shift: f64, drop: f64| -> Vec<Vec<(f64, f64)>> {
        (0..10)
            .map(|_| {
                let m = shift + 0.5 * rng.normal();
                (0..8).map(|_| m + rng.normal()).map(|v| (v, v - drop)).collect()
            })
            .collect()
    };
    let (x, y) = (side(&mut rng, 1.0, 0.1), side(&mut rng, 0.0, 0.0));
    let (before, after, ci) = paired_change(&x, &y, 2000, &mut Rng::new(9));
    let change = after - before;
    assert!(change < 0.0 && ci[0] <= change && change <= ci[1], "{before} {after} {ci:?}");
    let flat = |v: &[Vec<(f64, f64)>], pick: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        v.iter().flat_map(|c| c.iter().map(pick)).collect()
    };
    let xs = flat(&x, |p| p.0);
    let xc: Vec<usize> = (0..10).flat_map(|c| std::iter::repeat_n(c, 8)).collect();
    let ys = flat(&y, |p| p.0);
    let yc: Vec<usize> = (10..20).flat_map(|c| std::iter::repeat_n(c, 8)).collect();
    let unpaired = weat_clustered(&xs, &xc, &ys, &yc, 1, &mut Rng::new(1)).cluster_level.unwrap().interval(ALPHA);
    let (paired_half, unpaired_half) = ((ci[1] - ci[0]) / 2.0, (unpaired[1] - unpaired[0]) / 2.0);
    assert!(paired_half < unpaired_half / 5.0, "paired {paired_half} vs one measurement's {unpaired_half}");
    assert!(ci[1] < 0.0, "the paired interval resolves the drop: {ci:?}");
}

#[test]
fn the_null_baseline_compares_statistics_with_every_copy_and_leaves_zero_shot_findings_out() {
    use clip_audit::analysis::null::{NullSummary, mark_structural};
    use clip_audit::analysis::{Evidence, StimulusCounts, Subject, Summary, Threshold};
    use clip_audit::spec::analyses::Severity;
    let rule = Rule {
        estimand: "rate".into(),
        estimate: 0.5,
        interval: Box::new(|a| {
            let (lo, hi) = clopper_pearson(50, 100, a);
            [lo, hi]
        }),
        ci_method: "Clopper-Pearson".into(),
        limit: 0.05,
        direction: Direction::Above,
        p: None,
        test: "inverted".into(),
        n: 100,
        min_n: 10,
        mde: None,
        refuse: None,
    };
    let decision = decide(&[rule], Family::bh("f", ALPHA)).remove(0);
    assert_eq!(decision.verdict, Verdict::Fail);
    let finding = |id: &str, analysis: &'static str| {
        let threshold = Threshold { name: "limit".into(), value: 0.05, position: None };
        let subject = Subject { id: id.into(), analysis, severity: Severity::Error, what: "x".into(), threshold };
        subject.finding("s".into(), decision.clone(), Evidence::default())
    };
    let empty = |findings: Vec<clip_audit::analysis::Finding>| Summary {
        format_version: 2,
        audit: "a".into(),
        description: None,
        spec: "a.yaml".into(),
        model: "m".into(),
        runs: Vec::new(),
        seed: 0,
        stimuli: StimulusCounts::default(),
        selectivity: None,
        multimodality: None,
        resolution: Vec::new(),
        associations: Vec::new(),
        denigration: None,
        typographic: None,
        null_baseline: None,
        ablation: None,
        findings,
        inconclusive: Vec::new(),
        notes: Vec::new(),
        estimates: Default::default(),
    };
    let null = || NullSummary {
        model: "random".into(),
        seed: Some(0),
        run: "null".into(),
        copies: Vec::new(),
        findings: 0,
        finding_ids: Vec::new(),
        structural: 0,
        rule: String::new(),
    };
    // Two copies: the zero-shot check is extreme in both, the resolution check reaches the
    // real estimate (0.5) in the first copy only, the other resolution check in neither.
    let mut copies = vec![empty(Vec::new()), empty(Vec::new())];
    for (copy, (zero_shot, reached, below)) in copies.iter_mut().zip([(0.9, 0.5, 0.2), (0.95, 0.3, f64::NAN)]) {
        copy.estimates.insert("denigration/x/rate".into(), (zero_shot, Direction::Above));
        copy.estimates.insert("resolution/x".into(), (reached, Direction::Above));
        copy.estimates.insert("resolution/y".into(), (below, Direction::Above));
    }
    let mut summary = empty(vec![
        finding("denigration/x/rate", "denigration"),
        finding("resolution/x", "resolution"),
        finding("resolution/y", "resolution"),
        finding("resolution/z", "resolution"),
    ]);
    mark_structural(&mut summary, null(), &copies);
    let f = &summary.findings;
    assert!(!f[0].structural && f[0].null.is_none(), "a zero-shot finding is not compared with random weights");
    assert!(f[1].structural, "a copy reaches its estimate (a tie counts)");
    assert_eq!(f[1].null.as_ref().unwrap().exceeded, 1);
    assert_eq!(f[1].null.as_ref().unwrap().p, 2.0 / 3.0);
    // The other copy's estimate is undefined: no evidence either way, left out.
    assert!(!f[2].structural, "it exceeds the one copy compared");
    assert_eq!((f[2].null.as_ref().unwrap().compared, f[2].null.as_ref().unwrap().p), (1, 0.5));
    assert!(!f[3].structural && f[3].null.is_none(), "no copy has the check: not compared");
    assert!(summary.notes.iter().any(|n| n.contains("resolution/z not compared")), "{:?}", summary.notes);
    assert_eq!(summary.null_baseline.as_ref().unwrap().structural, 1);
    assert!(summary.notes.iter().any(|n| n.contains("zero-shot")), "{:?}", summary.notes);
}

#[test]
fn impact_ratio_score_interval_and_test_match_statsmodels() {
    for c in cases(&fixture(), "impact_ratio") {
        let (x1, n1, x2, n2) = (num(&c["x1"]), num(&c["n1"]), num(&c["x2"]), num(&c["n2"]));
        let ci = ratio_score_interval(x1, n1, x2, n2, 0.05);
        close(ci[0], num(&c["ci95"][0]), 1e-7, &format!("impact interval {c}"));
        close(ci[1], num(&c["ci95"][1]), 1e-7, &format!("impact interval {c}"));
        close(normal_sf(-ratio_score_z(x1, n1, x2, n2, 0.8)), num(&c["p_below_0_8"]), 1e-9, &format!("impact p {c}"));
    }
    // A best-off group without a harmful label (its favourable rate 1), where statsmodels'
    // roots divide by zero: the interval still holds the estimate and the test agrees with it.
    let ci = ratio_score_interval(45.0, 50.0, 50.0, 50.0, 0.05);
    assert!(ci[0] < 0.9 && 0.9 < ci[1], "{ci:?}");
    let p = normal_sf(-ratio_score_z(45.0, 50.0, 50.0, 50.0, 0.8));
    assert!(p > 0.5, "0.9 is above 0.8, so the one-sided p is over a half: {p}");
}

/// The four-fifths rule: 30 of 60 images of one group get a harmful label, 6 of 60 of the
/// other; their harmless rates are 0.5 and 0.9, an impact ratio of 0.56 (score 95% CI 0.41 to
/// 0.71, statsmodels), under 0.8: a failure. The best-off group passes against itself.
#[test]
fn denigration_impact_ratio_against_the_best_off_group_is_the_four_fifths_rule() {
    let (b, harmful, labels) = breakdown(&[("a", 60, 30), ("b", 60, 6)]);
    let limits = Limits { max_rate: 1.0, max_ratio: 100.0, ..Limits::default() };
    let GroupRates { groups, impact, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "d");
    let want = &cases(&fixture(), "impact_ratio")[0];
    assert_eq!((groups[0].group.as_str(), groups[0].best_group.as_str()), ("a", "b"));
    close(groups[0].impact_ratio, 0.5 / 0.9, 1e-12, "impact ratio");
    close(groups[0].impact_ratio_ci[0], num(&want["ci95"][0]), 1e-7, "lower");
    close(groups[0].impact_ratio_ci[1], num(&want["ci95"][1]), 1e-7, "upper");
    assert_eq!(impact[0].verdict, Verdict::Fail);
    assert_eq!(impact[0].direction, Direction::Below);
    assert_eq!((impact[1].verdict, impact[1].estimate), (Verdict::Pass, 1.0));
    // 54 against 60 harmless in both groups: the ratio is 1, its interval above 0.8.
    let (b, harmful, labels) = breakdown(&[("a", 200, 20), ("b", 200, 18)]);
    let GroupRates { impact, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "d");
    assert!(impact.iter().all(|d| d.verdict == Verdict::Pass), "{impact:?}");
}

/// Whether the first group fails the impact rule in a breakdown of groups given as (images,
/// harmful rate).
fn impact_fails(rng: &mut Rng, groups: &[(u64, f64)]) -> bool {
    let names: Vec<String> = (0..groups.len()).map(|i| format!("g{i:02}")).collect();
    let drawn: Vec<(&str, u64, u64)> =
        groups.iter().zip(&names).map(|((n, p), name)| (name.as_str(), *n, binomial(rng, *n, *p))).collect();
    let (b, harmful, labels) = breakdown(&drawn);
    let limits = Limits { max_rate: 1.0, max_ratio: 100.0, ..Limits::default() };
    let GroupRates { impact, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: None }, &limits, "d");
    impact[0].verdict == Verdict::Fail
}

/// Group 0 at the limit (its harmless rate 0.8 times `p_best`'s), then the others.
fn at_limit(n: u64, best_harmful: f64, others: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut g = vec![(n, 1.0 - 0.8 * (1.0 - best_harmful))];
    g.extend_from_slice(others);
    g
}

#[test]
fn calibration_impact_ratio_rule() {
    let reps = 2000;
    let cases: Vec<(&str, Vec<(u64, f64)>)> = vec![
        ("10 vs 10 at harmful 0.1", at_limit(10, 0.1, &[(10, 0.1)])),
        ("20 vs 20 at 0", at_limit(20, 0.0, &[(20, 0.0)])),
        ("30 vs 300 at 0.05", at_limit(30, 0.05, &[(300, 0.05)])),
        ("60 vs 60 at 0.3", at_limit(60, 0.3, &[(60, 0.3)])),
        ("200 vs 200 at 0.1", at_limit(200, 0.1, &[(200, 0.1)])),
        ("20 vs 200 at 0.5", at_limit(20, 0.5, &[(200, 0.5)])),
        ("10 vs 1000 at 0.01", at_limit(10, 0.01, &[(1000, 0.01)])),
        ("30 vs 1000 at 0.01", at_limit(30, 0.01, &[(1000, 0.01)])),
        ("50 vs 4 groups of 50 at 0.1", at_limit(50, 0.1, &[(50, 0.1); 4])),
        ("100 vs 6 groups of 30 at 0.2", at_limit(100, 0.2, &[(30, 0.2); 6])),
        ("50 vs 12 groups of 30 at 0.1", at_limit(50, 0.1, &[(30, 0.1); 12])),
        // Clear failures elsewhere in the family (impact ratio 0.3) and two best-off groups.
        ("50 vs 2 of 50 at 0.1, with 5 of 50 failing", {
            let mut g = at_limit(50, 0.1, &[(50, 0.1), (50, 0.1)]);
            g.extend([(50, 1.0 - 0.3 * 0.9); 5]);
            g
        }),
    ];
    for (name, groups) in &cases {
        // Many groups make many comparisons a replicate: fewer replicates keep this in seconds.
        let reps = if groups.len() > 7 { 500 } else { reps };
        let fpr = fail_rate(reps, |r| impact_fails(r, groups));
        eprintln!("calibration impact rule: null impact ratio = limit 0.8, {name}: false-positive rate {fpr:.4}");
        assert!(fpr <= ALPHA / 2.0 + mc(ALPHA / 2.0, reps), "{name}: {fpr}");
    }
    // A fair model: one group of 300 and thirty of 5, all at 0.6. The small groups are under
    // min_n and set no bar, so the large one has nothing to be compared with: never a failure.
    let mut fair = vec![(300, 0.6)];
    fair.extend([(5, 0.6); 30]);
    assert_eq!(fail_rate(200, |r| impact_fails(r, &fair)), 0.0);
    let power = fail_rate(reps, |r| impact_fails(r, &[(100, 0.55), (100, 0.1)]));
    eprintln!("calibration impact rule: impact ratio 0.5 against 0.8, 100 vs 100, harmful 0.1: power {power:.4}");
    assert!(power >= 0.8, "{power}");
}

/// With clusters, a best-off group without any harmful label has no ICC to estimate: it counts
/// as if every photo of an identity were the same (ICC 1), not as independent images.
#[test]
fn a_cluster_without_harmful_labels_counts_once_per_identity() {
    let (b, harmful, labels) = breakdown(&[("a", 100, 40), ("b", 100, 0)]);
    // Five identities of twenty photos in b, one identity per photo in a.
    let clusters: Vec<usize> = (0..200).map(|i| if i < 100 { i } else { 1000 + (i - 100) / 20 }).collect();
    let limits = Limits { max_rate: 1.0, max_ratio: 100.0, ..Limits::default() };
    let GroupRates { groups, .. } =
        group_rates(&b, &Classified { harmful: &harmful, label: &labels, clusters: Some(&clusters) }, &limits, "d");
    assert_eq!(groups[1].design_effect, 20.0, "100 photos of 5 identities");
}

/// Both groups without a harmful label (favourable rates 1 and 1): the score interval of the
/// ratio still reaches above 1. At r > 1 the constrained fit is p2 = 1/r, p1 = 1, so
/// z(r) = (1 − r)/sqrt((r − 1)·N/(n2·(N − 1))) and the upper bound is
/// 1 + 1.96²·N/(n2·(N − 1)): 1.540 for 1 against 8 (the score at r = 1 is 0/0, and the
/// search's first step lands there).
#[test]
fn the_score_interval_of_a_ratio_of_two_full_rates_reaches_above_one() {
    let z = normal_ppf(0.975);
    for (n1, n2) in [(1.0, 8.0), (3000.0, 3000.0), (50.0, 4000.0)] {
        let ci = ratio_score_interval(n1, n1, n2, n2, 0.05);
        let n = n1 + n2;
        close(ci[1], 1.0 + z * z * n / (n2 * (n - 1.0)), 1e-6, &format!("upper bound {n1} vs {n2}"));
        assert!(ci[0] < 1.0, "{ci:?}");
    }
    // Close to 1 on both sides: the interval holds the estimate.
    let ci = ratio_score_interval(2500.0, 2500.0, 2399.0, 2400.0, 0.05);
    let estimate = 1.0 / (2399.0 / 2400.0);
    assert!(ci[0] < estimate && estimate < ci[1], "{ci:?}");
}
