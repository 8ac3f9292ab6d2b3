//! Statistics module against `fixtures/stats/reference.json` (scipy/statsmodels/numpy values;
//! conventions in `fixtures/stats/README.md`), plus property checks by example.

use clip_audit::analysis::stats::*;

use serde_json::Value;

use crate::common::{reference_cases as cases, reference_num as num};

/// Relative tolerance for values that go through the same closed form as the reference.
const REL: f64 = 1e-9;

fn fixture() -> Value {
    crate::common::stats_reference("reference.json")
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array of rows").iter().map(nums).collect()
}

fn vectors_f32(v: &Value) -> Vec<Vec<f32>> {
    matrix(v).into_iter().map(|row| row.into_iter().map(|x| x as f32).collect()).collect()
}

fn rows(m: &[Vec<f32>]) -> Vec<&[f32]> {
    m.iter().map(|v| v.as_slice()).collect()
}

fn note(case: &Value) -> String {
    case["note"].as_str().unwrap_or("").to_string()
}

/// `got` matches `want` within `abs + rel·|want|`; NaN matches NaN and infinities must match exactly.
fn close(got: f64, want: f64, rel: f64, abs: f64, what: &str) {
    if want.is_nan() {
        assert!(got.is_nan(), "{what}: got {got}, want NaN");
        return;
    }
    if want.is_infinite() {
        assert_eq!(got, want, "{what}");
        return;
    }
    let tol = abs + rel * want.abs();
    assert!((got - want).abs() <= tol, "{what}: got {got:e}, want {want:e} (diff {:e}, tol {tol:e})", got - want);
}

#[test]
fn exact_rank_sum_null_matches_scipy_permutation_test() {
    for case in cases(&fixture(), "mann_whitney_permutation") {
        let what = note(&case);
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let pooled: Vec<f64> = x.iter().chain(&y).copied().collect();
        let (ranks, _) = average_ranks(&pooled);
        let n1 = x.len() as f64;
        let r1: f64 = ranks[..x.len()].iter().sum();
        assert_eq!(r1 - n1 * (n1 + 1.0) / 2.0, num(&case["u"]), "{what}: U1");
        // Either side gives the same p: the null of the first sample's rank sum, and of the second's.
        let null = RankSumNull::new(&ranks, x.len()).expect("small enough");
        close(null.p_two_sided(r1), num(&case["p"]), REL, 0.0, &format!("{what}: p"));
        let r2: f64 = ranks[x.len()..].iter().sum();
        let other = RankSumNull::new(&ranks, y.len()).expect("small enough");
        close(other.p_two_sided(r2), num(&case["p"]), REL, 0.0, &format!("{what}: p of the other side"));
    }
}

#[test]
fn exact_rank_sum_null_equals_the_exact_test_without_ties() {
    // Without ties the conditional null is the classical exact distribution of U.
    for (n1, n2) in [(1, 5), (2, 9), (3, 3), (4, 12), (8, 8)] {
        let ranks: Vec<f64> = (1..=n1 + n2).map(|r| r as f64).collect();
        let null = RankSumNull::new(&ranks, n1).unwrap();
        let min = (n1 * (n1 + 1) / 2) as f64;
        for u in 0..=n1 * n2 {
            let want = mann_whitney_p_exact(u as f64, n1, n2);
            close(null.p_two_sided(min + u as f64), want, 1e-12, 0.0, &format!("n1 {n1}, n2 {n2}, U {u}"));
        }
    }
    // And it declines what it cannot do: an empty or whole-pool group.
    assert!(RankSumNull::new(&[1.0, 2.0], 0).is_none());
    assert!(RankSumNull::new(&[1.0, 2.0], 2).is_none());
}

#[test]
fn mann_whitney_matches_scipy() {
    for case in cases(&fixture(), "mann_whitney") {
        let what = note(&case);
        assert_eq!(case["alternative"], "two-sided", "{what}");
        assert_eq!(case["use_continuity"], true, "{what}");
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let method = match case["method"].as_str() {
            Some("asymptotic") => MwMethod::Asymptotic,
            Some("exact") => MwMethod::Exact,
            other => panic!("{what}: unknown method {other:?}"),
        };
        let (u, p) = (num(&case["u"]), num(&case["p"]));
        let r = mann_whitney_with(&x, &y, method);
        assert_eq!(r.method, method, "{what}");
        assert_eq!(r.u, u, "{what}: U1");
        close(r.p, p, REL, 0.0, &format!("{what}: p"));

        // The fast paths from pooled ranks give the same answer.
        let pooled: Vec<f64> = x.iter().chain(&y).copied().collect();
        let (ranks, tie_term) = average_ranks(&pooled);
        let n1 = x.len() as f64;
        let u1 = ranks[..x.len()].iter().sum::<f64>() - n1 * (n1 + 1.0) / 2.0;
        assert_eq!(u1, u, "{what}: U1 from average_ranks");
        assert_eq!(tie_term == 0.0, !case["has_ties"].as_bool().expect("has_ties"), "{what}: tie term");
        let fast = match method {
            MwMethod::Asymptotic => mann_whitney_p_asymptotic(u1, x.len(), y.len(), tie_term),
            MwMethod::Exact => mann_whitney_p_exact(u1, x.len(), y.len()),
        };
        close(fast, p, REL, 0.0, &format!("{what}: fast-path p"));

        // The automatic choice follows scipy's rule.
        let auto = mann_whitney(&x, &y);
        let want_exact = tie_term == 0.0 && x.len() <= 8 && y.len() <= 8;
        assert_eq!(auto.method == MwMethod::Exact, want_exact, "{what}: automatic method");
        if auto.method == method {
            close(auto.p, p, REL, 0.0, &format!("{what}: automatic p"));
        }
    }
}

#[test]
fn auroc_and_effect_sizes_match_numpy() {
    for case in cases(&fixture(), "auroc_cohen") {
        let what = note(&case);
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let (n1, n2) = (x.len(), y.len());
        let u = mann_whitney(&x, &y).u;
        assert_eq!(u, num(&case["u"]), "{what}: U1");
        close(auroc(u, n1, n2), num(&case["auroc"]), REL, 0.0, &format!("{what}: auroc"));

        let (m1, s1) = mean_sd(&x);
        let (m2, s2) = mean_sd(&y);
        let df = (n1 + n2 - 2) as f64;
        let pooled = (((n1 - 1) as f64 * s1 * s1 + (n2 - 1) as f64 * s2 * s2) / df).sqrt();
        close(pooled, num(&case["pooled_sd"]), REL, 0.0, &format!("{what}: pooled sd"));

        let want_d = num(&case["cohen_d"]);
        let d = cohen_d(&x, &y).unwrap_or_else(|| panic!("{what}: d is defined"));
        close(d, want_d, REL, 1e-15, &format!("{what}: cohen_d"));
        let d_from = cohen_d_from(m1, s1, n1, m2, s2, n2).unwrap_or_else(|| panic!("{what}: d_from is defined"));
        close(d_from, want_d, REL, 1e-15, &format!("{what}: cohen_d_from"));
        close(hedges_g(d, n1, n2), num(&case["hedges_g"]), REL, 1e-15, &format!("{what}: hedges_g"));
    }
}

#[test]
fn cohen_d_confidence_intervals_match_pingouin() {
    for case in cases(&fixture(), "cohen_d_ci") {
        let what = note(&case);
        let n = |k: &str| case[k].as_u64().unwrap() as usize;
        let got = cohen_d_ci(num(&case["d"]), n("n1"), n("n2"), 0.05);
        let want = nums(&case["ci"]);
        close(got[0], want[0], REL, 1e-14, &format!("{what}: lower"));
        close(got[1], want[1], REL, 1e-14, &format!("{what}: upper"));
    }
    assert!(cohen_d_ci(f64::NAN, 5, 5, 0.05)[0].is_nan());
    assert!(cohen_d_ci(1.0, 1, 1, 0.05)[1].is_nan(), "no degree of freedom");
    assert!(cohen_d_ci(1.0, 0, 9, 0.05)[0].is_nan());
}

#[test]
fn benjamini_hochberg_matches_statsmodels() {
    for case in cases(&fixture(), "bh") {
        let what = note(&case);
        let (p, want) = (nums(&case["p"]), nums(&case["q"]));
        let q = benjamini_hochberg(&p);
        assert_eq!(q.len(), want.len(), "{what}");
        for (i, (&g, &w)) in q.iter().zip(&want).enumerate() {
            // Relative only: the fixture has q down to 3e-323 (subnormal).
            close(g, w, REL, 0.0, &format!("{what}: q[{i}]"));
        }
    }
}

#[test]
fn binomial_intervals_match_statsmodels() {
    for case in cases(&fixture(), "binomial_ci") {
        let (k, n, alpha) = (case["k"].as_u64().expect("k"), case["n"].as_u64().expect("n"), num(&case["alpha"]));
        let what = format!("k = {k}, n = {n}");
        let (wl, wh) = wilson(k, n, alpha);
        let want = nums(&case["wilson"]);
        // Absolute 1e-15 for the k = 0 lower bound, which is rounding noise (2.2e-19) in statsmodels.
        close(wl, want[0], REL, 1e-15, &format!("{what}: wilson lo"));
        close(wh, want[1], REL, 1e-15, &format!("{what}: wilson hi"));
        let (cl, ch) = clopper_pearson(k, n, alpha);
        let want = nums(&case["clopper_pearson"]);
        close(cl, want[0], REL, 0.0, &format!("{what}: clopper-pearson lo"));
        close(ch, want[1], REL, 0.0, &format!("{what}: clopper-pearson hi"));
    }
}

#[test]
fn fisher_exact_matches_scipy() {
    for case in cases(&fixture(), "fisher") {
        let what = note(&case);
        let t = matrix(&case["table"]);
        let table = [[t[0][0] as u64, t[0][1] as u64], [t[1][0] as u64, t[1][1] as u64]];
        let (or, p) = fisher_exact(table);
        close(or, num(&case["odds_ratio"]), REL, 0.0, &format!("{what}: odds ratio"));
        close(p, num(&case["p"]), REL, 0.0, &format!("{what}: p"));
    }
}

#[test]
fn chi_square_matches_scipy() {
    for case in cases(&fixture(), "chi2") {
        let what = format!("{} (correction {})", note(&case), case["correction"]);
        let table = matrix(&case["table"]);
        let correction = case["correction"].as_bool().expect("correction");
        let r = chi_square(&table, correction).unwrap_or_else(|| panic!("{what}: defined"));
        assert_eq!(r.dof as u64, case["dof"].as_u64().expect("dof"), "{what}: dof");
        close(r.statistic, num(&case["statistic"]), REL, 1e-12, &format!("{what}: statistic"));
        close(r.p, num(&case["p"]), REL, 0.0, &format!("{what}: p"));
        let want = matrix(&case["expected"]);
        assert_eq!(r.expected.len(), want.len(), "{what}: expected rows");
        for (gr, wr) in r.expected.iter().zip(&want) {
            assert_eq!(gr.len(), wr.len(), "{what}: expected columns");
            for (&g, &w) in gr.iter().zip(wr) {
                close(g, w, REL, 0.0, &format!("{what}: expected"));
            }
        }
    }
}

#[test]
fn spearman_matches_scipy() {
    for case in cases(&fixture(), "spearman") {
        let what = note(&case);
        let (rho, p) = spearman(&nums(&case["x"]), &nums(&case["y"]));
        close(rho, num(&case["rho"]), REL, 1e-15, &format!("{what}: rho"));
        // Absolute 1e-15 for the rho = ±1 cases, where p = 0 and a last-ulp rho gives a tiny p.
        close(p, num(&case["p"]), REL, 1e-15, &format!("{what}: p"));
    }
}

#[test]
fn weat_matches_brute_force_reference() {
    for case in cases(&fixture(), "weat") {
        let what = note(&case);
        let (xv, yv, av, bv) =
            (vectors_f32(&case["X"]), vectors_f32(&case["Y"]), vectors_f32(&case["A"]), vectors_f32(&case["B"]));
        let (want_sx, want_sy) = (nums(&case["s_X"]), nums(&case["s_Y"]));
        // The API takes f32 vectors (embeddings), the reference used the f64 inputs: rounding the
        // 4-decimal inputs to f32 moves cosines by ~1e-7, hence the looser tolerance here only.
        let sx = weat_scores(&rows(&xv), &rows(&av), &rows(&bv));
        let sy = weat_scores(&rows(&yv), &rows(&av), &rows(&bv));
        assert_eq!((sx.len(), sy.len()), (want_sx.len(), want_sy.len()), "{what}");
        for (g, w) in sx.iter().chain(&sy).zip(want_sx.iter().chain(&want_sy)) {
            close(*g, *w, 0.0, 1e-6, &format!("{what}: s(w, A, B)"));
        }

        // The test itself runs on the reference scores, so it is checked at full precision.
        let n_partitions = case["n_partitions"].as_u64().expect("n_partitions");
        let n_ge = case["n_ge"].as_u64().expect("n_ge");
        let mut rng = Rng::new(7);
        let r = weat(&want_sx, &want_sy, n_partitions, 0, 0.05, &mut rng);
        close(r.effect_size, num(&case["effect_size"]), REL, 1e-15, &format!("{what}: effect size"));
        close(r.statistic, num(&case["test_statistic"]), REL, 1e-14, &format!("{what}: statistic"));
        assert!(r.exact, "{what}: enumeration expected when permutations = n_partitions");
        assert_eq!(r.permutations, n_partitions, "{what}: partitions counted");
        assert_eq!(r.p, n_ge as f64 / n_partitions as f64, "{what}: n_ge = {n_ge}");
        close(r.p, num(&case["p_exact"]), REL, 0.0, &format!("{what}: p"));
        assert!(r.ci.0.is_nan() && r.ci.1.is_nan(), "{what}: no bootstrap requested");
        // One partition fewer than the count: random partitions instead.
        let r = weat(&want_sx, &want_sy, n_partitions - 1, 0, 0.05, &mut rng);
        assert!(!r.exact && r.permutations == n_partitions - 1, "{what}: random when the cap is below the count");
    }
}

// ---- properties, by example ----

#[test]
fn average_ranks_tie_groups() {
    let (r, t) = average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0, -0.0, 0.0]);
    assert_eq!(r, vec![6.0, 3.0, 6.0, 4.0, 6.0, 1.5, 1.5]);
    assert_eq!(t, (27.0 - 3.0) + (8.0 - 2.0));
    assert_eq!(average_ranks(&[]), (vec![], 0.0));
    let (r, t) = average_ranks(&[5.0]);
    assert_eq!((r, t), (vec![1.0], 0.0));
}

#[test]
fn mann_whitney_symmetry_and_degenerate_input() {
    let x = [0.3, 1.2, -0.4, 2.2, 0.9, 1.7, 3.1, 0.0, 1.1];
    let y = [0.5, -1.0, 0.2, 0.3, -0.7, 1.0];
    let a = mann_whitney(&x, &y);
    let b = mann_whitney(&y, &x);
    assert_eq!(a.u + b.u, (x.len() * y.len()) as f64);
    assert_eq!(a.p, b.p);
    assert_eq!(a.method, MwMethod::Asymptotic, "n1 = 9 > 8");
    assert!(a.p > 0.0 && a.p < 1.0);
    for r in [mann_whitney(&[], &y), mann_whitney(&x, &[]), mann_whitney(&[f64::NAN, 1.0], &y)] {
        assert!(r.u.is_nan() && r.p.is_nan(), "{r:?}");
    }
    assert!(mann_whitney_p_asymptotic(1.0, 0, 3, 0.0).is_nan());
    assert!(mann_whitney_p_exact(f64::NAN, 3, 3).is_nan());
}

#[test]
fn exact_mann_whitney_distribution() {
    // Complete separation: p = 2 / C(n1+n2, n1).
    for (n1, n2, comb) in [(3usize, 3usize, 20.0), (5, 6, 462.0), (8, 8, 12870.0), (10, 12, 646646.0)] {
        let p = mann_whitney_p_exact((n1 * n2) as f64, n1, n2);
        assert!((p - 2.0 / comb).abs() <= 1e-15 * p, "{n1}x{n2}: {p}");
        assert_eq!(mann_whitney_p_exact(0.0, n1, n2), p, "{n1}x{n2}: both tails");
    }
    // p is non-increasing as U moves away from the mean, and 1 at the mean.
    let (n1, n2) = (7usize, 9usize);
    let mut last = f64::INFINITY;
    for u in (0..=(n1 * n2) / 2).rev() {
        let p = mann_whitney_p_exact(u as f64, n1, n2);
        assert!(p <= last && p > 0.0, "u = {u}");
        last = p;
    }
    assert_eq!(mann_whitney_p_exact((n1 * n2) as f64 / 2.0, n1, n2), 1.0);
}

#[test]
fn auroc_edge_cases() {
    assert_eq!(auroc(0.0, 3, 4), 0.0);
    assert_eq!(auroc(12.0, 3, 4), 1.0);
    assert!(auroc(0.0, 0, 4).is_nan());
}

#[test]
fn mean_sd_and_cohen_d_degenerate_input() {
    let (m, s) = mean_sd(&[]);
    assert!(m.is_nan() && s.is_nan());
    let (m, s) = mean_sd(&[2.5]);
    assert!(m == 2.5 && s.is_nan());
    assert_eq!(mean_sd(&[1.0, 2.0, 3.0, 4.0]), (2.5, (5.0f64 / 3.0).sqrt()));
    assert_eq!(cohen_d(&[1.0], &[1.0, 2.0, 3.0]), None, "a sample with one value");
    assert_eq!(cohen_d(&[], &[1.0, 2.0]), None);
    assert_eq!(cohen_d(&[2.0, 2.0], &[5.0, 5.0, 5.0]), None, "pooled sd 0");
    assert_eq!(cohen_d(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    assert_eq!(cohen_d_from(1.0, 0.0, 5, 0.0, 0.0, 5), None);
    assert_eq!(cohen_d_from(1.0, 1.0, 1, 0.0, 1.0, 5), None);
    assert_eq!(cohen_d_from(1.0, 1.0, 5, 0.0, 1.0, 5), Some(1.0));
    assert!(hedges_g(1.0, 1, 1).is_nan());
    let g = hedges_g(0.5, 10, 10);
    assert!(g > 0.0 && g < 0.5);
}

#[test]
fn bh_q_at_least_p_monotone_and_nan_aware() {
    let mut rng = Rng::new(11);
    for trial in 0..50 {
        let m = 1 + rng.below(40);
        let p: Vec<f64> =
            (0..m).map(|_| if rng.below(5) == 0 { rng.uniform() * 1e-6 } else { rng.uniform() }).collect();
        let q = benjamini_hochberg(&p);
        for i in 0..m {
            assert!(q[i] >= p[i] && q[i] <= 1.0, "trial {trial}: q {} < p {}", q[i], p[i]);
            for j in 0..m {
                if p[i] <= p[j] {
                    assert!(q[i] <= q[j], "trial {trial}: not monotone");
                }
            }
        }
    }
    // NaN stays NaN and is not counted in m.
    let q = benjamini_hochberg(&[0.01, f64::NAN, 0.04]);
    assert!(q[1].is_nan());
    let q2 = benjamini_hochberg(&[0.01, 0.04]);
    assert_eq!((q[0], q[2]), (q2[0], q2[1]));
    assert!(benjamini_hochberg(&[]).is_empty());
}

#[test]
fn binomial_intervals_contain_the_estimate() {
    for n in [1u64, 2, 3, 7, 10, 33, 100, 1000] {
        for k in 0..=n {
            let phat = k as f64 / n as f64;
            for alpha in [0.01, 0.05, 0.2] {
                let (wl, wh) = wilson(k, n, alpha);
                assert!(0.0 <= wl && wl <= phat && phat <= wh && wh <= 1.0, "wilson {k}/{n}: ({wl}, {wh})");
                let (cl, ch) = clopper_pearson(k, n, alpha);
                assert!(0.0 <= cl && cl <= phat && phat <= ch && ch <= 1.0, "cp {k}/{n}: ({cl}, {ch})");
            }
            // A smaller alpha gives a wider interval.
            let (a, b) = (wilson(k, n, 0.01), wilson(k, n, 0.1));
            assert!(a.0 <= b.0 && a.1 >= b.1, "wilson {k}/{n}");
            let (a, b) = (clopper_pearson(k, n, 0.01), clopper_pearson(k, n, 0.1));
            assert!(a.0 <= b.0 && a.1 >= b.1, "cp {k}/{n}");
        }
    }
    for (k, n, alpha) in [(0, 0, 0.05), (3, 2, 0.05), (1, 2, 0.0), (1, 2, 1.0), (1, 2, f64::NAN)] {
        let (a, b) = wilson(k, n, alpha);
        assert!(a.is_nan() && b.is_nan(), "wilson({k}, {n}, {alpha})");
        let (a, b) = clopper_pearson(k, n, alpha);
        assert!(a.is_nan() && b.is_nan(), "clopper_pearson({k}, {n}, {alpha})");
    }
}

#[test]
fn fisher_symmetries() {
    for t in [[[3u64, 7], [9, 2]], [[12, 0], [4, 9]], [[1, 1], [30, 2]]] {
        let (or, p) = fisher_exact(t);
        let (or_t, p_t) = fisher_exact([[t[0][0], t[1][0]], [t[0][1], t[1][1]]]);
        let (or_s, p_s) = fisher_exact([[t[0][1], t[0][0]], [t[1][1], t[1][0]]]);
        assert!((p - p_t).abs() <= 1e-12 * p && (p - p_s).abs() <= 1e-12 * p, "{t:?}");
        assert!(or == or_t && (or * or_s - 1.0).abs() < 1e-12 || (or == f64::INFINITY && or_s == 0.0), "{t:?}");
        assert!(p > 0.0 && p <= 1.0);
    }
}

#[test]
fn chi_square_rejects_bad_tables() {
    assert!(chi_square(&[], false).is_none());
    assert!(chi_square(&[vec![]], false).is_none());
    assert!(chi_square(&[vec![1.0, 2.0], vec![3.0]], false).is_none(), "ragged");
    assert!(chi_square(&[vec![1.0, -2.0], vec![3.0, 4.0]], false).is_none(), "negative");
    assert!(chi_square(&[vec![1.0, f64::NAN], vec![3.0, 4.0]], false).is_none(), "NaN");
    assert!(chi_square(&[vec![0.0, 0.0], vec![3.0, 4.0]], false).is_none(), "zero row");
    assert!(chi_square(&[vec![0.0, 2.0], vec![0.0, 4.0]], true).is_none(), "zero column");
    let one_row = chi_square(&[vec![1.0, 2.0, 3.0]], true).expect("a single row has dof 0");
    assert_eq!((one_row.dof, one_row.statistic, one_row.p), (0, 0.0, 1.0));
}

#[test]
fn spearman_degenerate_input() {
    for (x, y) in [
        (vec![1.0, 2.0], vec![2.0, 1.0]),
        (vec![1.0, 1.0, 1.0], vec![1.0, 2.0, 3.0]),
        (vec![1.0, 2.0, 3.0], vec![1.0, 2.0]),
        (vec![1.0, 2.0, f64::NAN], vec![1.0, 2.0, 3.0]),
    ] {
        let (rho, p) = spearman(&x, &y);
        assert!(rho.is_nan() && p.is_nan(), "{x:?} {y:?}");
    }
    let (rho, p) = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 4.0, 9.0, 16.0, 25.0]);
    assert_eq!((rho, p), (1.0, 0.0));
}

#[test]
fn rng_is_seeded_and_portable() {
    // Golden stream: xoshiro256** seeded with four splitmix64 outputs (independent Python check).
    let mut rng = Rng::new(0);
    let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
    assert_eq!(got, [0x99ec5f36cb75f2b4, 0xbf6e1f784956452a, 0x1a5f849d4933e6e0]);
    let mut rng = Rng::new(42);
    assert_eq!(rng.next_u64(), 0x15780b2e0c2ec716);

    // Same seed, same stream (through every method); different seed, different stream.
    let draw = |seed: u64| {
        let mut r = Rng::new(seed);
        let mut v: Vec<u32> = (0..20).collect();
        r.shuffle(&mut v);
        (r.next_u64(), r.uniform(), r.below(1000), r.normal(), v)
    };
    assert_eq!(draw(123), draw(123));
    assert_ne!(draw(123), draw(124));
    let mut a = Rng::new(5);
    let mut b = a.clone();
    assert_eq!(a.next_u64(), b.next_u64());
}

#[test]
fn rng_distributions_are_sane() {
    let mut rng = Rng::new(2024);
    let n = 100_000;
    let mut counts = [0usize; 6];
    let (mut sum, mut sum_sq, mut usum) = (0.0, 0.0, 0.0);
    for _ in 0..n {
        let u = rng.uniform();
        assert!((0.0..1.0).contains(&u));
        usum += u;
        counts[rng.below(6)] += 1;
        let z = rng.normal();
        sum += z;
        sum_sq += z * z;
    }
    let nf = n as f64;
    assert!((usum / nf - 0.5).abs() < 0.01);
    assert!((sum / nf).abs() < 0.02, "normal mean {}", sum / nf);
    assert!((sum_sq / nf - 1.0).abs() < 0.03, "normal variance {}", sum_sq / nf);
    for c in counts {
        assert!((c as f64 / nf - 1.0 / 6.0).abs() < 0.01, "below(6) counts {counts:?}");
    }
    assert_eq!(rng.below(0), 0);
    assert_eq!(rng.below(1), 0);

    let mut v: Vec<usize> = (0..50).collect();
    rng.shuffle(&mut v);
    assert_ne!(v, (0..50).collect::<Vec<_>>());
    v.sort_unstable();
    assert_eq!(v, (0..50).collect::<Vec<_>>(), "shuffle is a permutation");
    let mut empty: [u8; 0] = [];
    rng.shuffle(&mut empty);
}

#[test]
fn weat_random_partitions_and_bootstrap() {
    let sx = [0.31, 0.12, 0.25, 0.40, -0.05, 0.22, 0.18, 0.35];
    let sy = [0.02, -0.10, 0.11, 0.05, -0.21, 0.08, 0.15, -0.02];
    // C(16, 8) = 12870 partitions.
    let exact = weat(&sx, &sy, 20_000, 0, 0.05, &mut Rng::new(1));
    assert!(exact.exact && exact.permutations == 12870);
    let random = weat(&sx, &sy, 5_000, 2_000, 0.05, &mut Rng::new(1));
    assert!(!random.exact && random.permutations == 5_000);
    assert_eq!(random.effect_size, exact.effect_size);
    assert_eq!(random.statistic, exact.statistic);
    assert!(random.p >= 1.0 / 5_001.0 && random.p <= 1.0);
    assert!((random.p - exact.p).abs() < 0.01 + 3.0 * (exact.p * (1.0 - exact.p) / 5_000.0).sqrt());
    let (lo, hi) = random.ci;
    assert!(lo < hi && lo <= random.effect_size && random.effect_size <= hi, "ci {lo}..{hi}");
    // Same seed, same result; the observed partition always counts.
    assert_eq!(random, weat(&sx, &sy, 5_000, 2_000, 0.05, &mut Rng::new(1)));
    let strong = weat(&[10.0, 11.0, 12.0], &[-10.0, -11.0, -12.0, -13.0], 30, 0, 0.05, &mut Rng::new(3));
    assert!(!strong.exact && strong.p >= 1.0 / 31.0);
    let all = weat(&[10.0, 11.0, 12.0], &[-10.0, -11.0, -12.0, -13.0], 35, 0, 0.05, &mut Rng::new(3));
    assert!(all.exact && all.p == 1.0 / 35.0);

    // Degenerate input.
    let empty = weat(&[], &sy, 100, 100, 0.05, &mut Rng::new(1));
    assert!(empty.effect_size.is_nan() && empty.p.is_nan() && empty.ci.0.is_nan() && empty.permutations == 0);
    let bad = weat(&[f64::NAN, 1.0], &sy, 100, 100, 0.05, &mut Rng::new(1));
    assert!(bad.p.is_nan() && bad.effect_size.is_nan());
    let none = weat(&sx, &sy, 0, 0, 0.05, &mut Rng::new(1));
    assert!(none.p.is_nan() && !none.exact);
    let constant = weat(&[1.0, 1.0], &[1.0, 1.0], 10, 50, 0.05, &mut Rng::new(1));
    assert!(constant.effect_size.is_nan() && constant.ci.0.is_nan() && constant.p == 1.0);
}

#[test]
fn weat_scores_by_construction() {
    let a: Vec<&[f32]> = vec![&[1.0, 0.0], &[1.0, 0.0]];
    let b: Vec<&[f32]> = vec![&[0.0, 1.0]];
    let s = weat_scores(&[&[2.0, 0.0], &[0.0, 3.0], &[1.0, 1.0]], &a, &b);
    assert_eq!(s[0], 1.0);
    assert_eq!(s[1], -1.0);
    assert!(s[2].abs() < 1e-15);
    assert!(weat_scores(&[&[0.0, 0.0]], &a, &b)[0].is_nan(), "zero vector");
    assert!(weat_scores(&[&[1.0, 0.0]], &[], &b)[0].is_nan(), "empty A");
    assert!(weat_scores(&[], &a, &b).is_empty());
}
