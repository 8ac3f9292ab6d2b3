#!/usr/bin/env python3
"""Generate reference values for clip-audit's statistics (fixtures/stats/reference.json).

clip-audit implements its statistics in Rust. To check them against an independent,
widely used implementation, this script computes the same quantities with scipy and
statsmodels (plus a few lines of numpy where neither library has the statistic) on
small, deterministic, deliberately awkward inputs (ties, tiny samples, extreme values,
zero counts) and writes inputs and expected outputs at full float64 precision.

Sections of the output (all two-sided unless noted, alpha = 0.05):
  mann_whitney  scipy.stats.mannwhitneyu, method "asymptotic" (tie-corrected normal
                approximation with continuity correction) and "exact" (no ties only).
  auroc_cohen   AUROC = U1 / (n1 n2), Cohen's d (pooled sd, ddof=1), Hedges' g.
  bh            statsmodels multipletests(method="fdr_bh") q-values.
  binomial_ci   statsmodels proportion_confint, methods "wilson" and "beta"
                (Clopper-Pearson), 95 %.
  fisher        scipy.stats.fisher_exact on 2x2 tables (sample odds ratio, p).
  chi2          scipy.stats.chi2_contingency, correction=False, and correction=True
                (Yates, which scipy applies only when dof == 1).
  spearman      scipy.stats.spearmanr (average ranks for ties; t-distribution p).
  weat          WEAT effect size (Caliskan et al. 2017) and the exact one-sided
                permutation p-value over all equal-size partitions of X u Y (brute force).
  mann_whitney_permutation
                scipy.stats.permutation_test(statistic=U1, permutation_type="independent",
                alternative="two-sided", n_resamples=inf): the exact two-sided permutation p of
                the Mann-Whitney U over every split of the pooled sample, ties included (what
                clip-audit's selectivity grid uses when a group has at most 8 stimuli).
  cohen_d_ci    pingouin.compute_esci(eftype="cohen"): the 95 % CI of an independent-samples
                Cohen's d, d +- t(0.975, n1+n2-2) * sqrt((n1+n2)/(n1 n2) + d^2/(2(n1+n2)))
                (Hedges & Olkin's standard error; R effsize cohen.d with noncentral=FALSE).
No bootstrap fixture: the bootstrap is random.

Non-finite outputs are written as the strings "inf", "-inf", "nan" (JSON has no
such numbers). Random inputs are rounded to 4 decimals so that they parse exactly
(short decimals) in any JSON reader; expected outputs are Python's shortest
round-trip repr of the float64 result. The conventions the Rust side must reproduce
are listed in the output under "conventions" and in fixtures/stats/README.md.

Run (from the repository root; needs numpy, scipy, statsmodels, pingouin in .venv-scripts):
    .venv-scripts/bin/python scripts/make_stats_fixtures.py
    .venv-scripts/bin/python scripts/make_stats_fixtures.py --check   # verify, don't write
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.special
import scipy.stats as st
import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "fixtures" / "stats" / "reference.json"
SEED = 0
ALPHA = 0.05
DECIMALS = 4
# WEAT permutation counting: a partition counts when stat >= observed - WEAT_TIE_TOL.
WEAT_TIE_TOL = 1e-10

CONVENTIONS = {
    "json": (
        "Non-finite values are the strings 'inf', '-inf', 'nan'. Random inputs are rounded "
        "to 4 decimals. Expected values are float64 written with Python's shortest "
        "round-trip repr; parse them with a correctly rounding parser (serde_json's "
        "'float_roundtrip' feature) if you compare bit for bit."
    ),
    "mann_whitney": (
        "u is scipy's statistic: U1 of the FIRST sample x, U1 = R1 - n1(n1+1)/2 with R1 "
        "the sum of x's average ranks in the pooled sample, i.e. #(x>y) + 0.5 #(x==y). "
        "Two-sided p uses U = max(U1, n1 n2 - U1). asymptotic: mu = n1 n2/2, "
        "sigma = sqrt(n1 n2/12 * ((n+1) - sum(t^3 - t)/(n(n-1)))) with t the tie-group "
        "sizes of the pooled sample; z = (U - mu - 0.5)/sigma (continuity correction always "
        "subtracts 0.5 because U >= mu); p = 2 * Phi(-z), clipped to [0, 1] (so U == mu "
        "gives p = 1; all values tied gives sigma = 0, z = -inf, p = 1). exact: p = "
        "2 * P(U' >= U) under the exact null distribution of U (mass at U included), "
        "clipped to 1; used only without ties (scipy makes no tie correction there)."
    ),
    "auroc_cohen": (
        "auroc = u / (n1 n2) = P(x > y) + 0.5 P(x == y). cohen_d = (mean_x - mean_y) / "
        "s_p, s_p = sqrt(((n1-1) var_x + (n2-1) var_y) / (n1+n2-2)), var with ddof=1. "
        "hedges_g = cohen_d * (1 - 3/(4(n1+n2) - 9)) (Hedges & Olkin approximation, as in "
        "pingouin); hedges_g_exact = cohen_d * J(df), J(df) = Gamma(df/2) / "
        "(sqrt(df/2) Gamma((df-1)/2)), df = n1+n2-2."
    ),
    "bh": (
        "statsmodels fdr_bh: sort p ascending, q_(i) = p_(i) / (i/m) (divided by the "
        "float i/m, not multiplied by m/i - may differ by 1 ulp), then running minimum "
        "from the largest p downwards, then values > 1 set to 1; q is returned in the "
        "input order. Tied p get equal q."
    ),
    "binomial_ci": (
        "alpha = 0.05 two-sided, z = norm.isf(0.025). wilson: center = (p + z^2/(2n)) / "
        "(1 + z^2/n), half = z sqrt(p(1-p)/n + z^2/(4n^2)) / (1 + z^2/n), both bounds "
        "clipped to [0, 1]; no special case for k = 0 or k = n, so the bound there is "
        "whatever the formula rounds to (k = 0, n = 1000 gives lo = 2.2e-19, not 0: compare "
        "with an absolute tolerance). clopper_pearson: lo = "
        "beta.ppf(0.025, k, n-k+1), hi = beta.isf(0.025, k+1, n-k), with lo = 0 when "
        "k = 0 and hi = 1 when k = n."
    ),
    "fisher": (
        "table [[a, b], [c, d]]. odds_ratio = (a d)/(b c) (sample, unconditional - not "
        "R's conditional MLE); 'inf' when b == 0 or c == 0; 'nan' with p = 1 when any row "
        "or column sum is 0. p two-sided = sum of hypergeometric pmf(x) over all x with "
        "pmf(x) <= pmf(a) * (1 + 1e-14) (relative tolerance as in scipy 1.17; in symmetric "
        "tables such as [[1, 4], [4, 1]] the mirror-image term ties with pmf(a) exactly, and "
        "a pmf computed another way may be an ulp off), and p = 1 "
        "when pmf(a) equals the mode's pmf within relative 1e-14; capped at 1."
    ),
    "chi2": (
        "Pearson chi-square on expected = row_sum col_sum / total. dof = (r-1)(c-1). "
        "correction=True changes anything only when dof == 1 (2x2): each observed cell "
        "moves towards its expected value by min(0.5, |O - E|) (so |O - E| < 0.5 gives a 0 "
        "contribution, scipy gh-13875), then Pearson's statistic. p = chi2.sf(stat, dof). "
        "Tables with a zero row or column sum are invalid in scipy (not included)."
    ),
    "spearman": (
        "rho = Pearson correlation of the average ranks (ties get the mean of their "
        "ranks). p two-sided from Student t with n-2 dof: t = rho sqrt((n-2) / "
        "((1+rho)(1-rho))) (the fraction clipped at 0), p = 2 t.sf(|t|). |rho| = 1 gives "
        "t = inf and p = 0 (if rho rounds to exactly +-1)."
    ),
    "weat": (
        "cos(u, v) = u.v / (|u| |v|). s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b). "
        "effect_size = (mean_{x in X} s - mean_{y in Y} s) / std_{w in X u Y} s, std with "
        "ddof=1 over the |X|+|Y| values. test_statistic s(X, Y) = sum_X s - sum_Y s. "
        "p_exact (one-sided) = #{partitions (Xi, Yi) of X u Y with |Xi| = |X|: "
        "s(Xi, Yi) >= s(X, Y)} / C(|X|+|Y|, |X|); the observed partition counts. Partitions "
        "are compared with a tolerance (stat >= observed - 1e-10); every case except the "
        "one marked has no other partition within 1e-9 of the observed statistic, so any "
        "tolerance in [0, 1e-9] reproduces it. The case with duplicated vectors "
        "(has_tied_partitions) has a partition whose statistic equals the observed one in "
        "exact arithmetic; here the float sums come out bit-equal, but another summation "
        "order may differ by an ulp, so count with a small tolerance."
    ),
}


# ----------------------------------------------------------------------------- helpers


def num(v):
    """Python float / int for JSON; non-finite floats become strings."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f


def nums(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return num(a[()])
    return [nums(x) for x in a]


def rnd(a):
    """Round random inputs to DECIMALS decimals (exactly parseable short decimals)."""
    return np.round(np.asarray(a, dtype=np.float64), DECIMALS)


def has_ties(*arrays) -> bool:
    v = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays])
    return len(np.unique(v)) < len(v)


# ----------------------------------------------------------------------------- sections


def mann_whitney_cases(rng):
    cases = []

    def add(x, y, method, note):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ties = has_ties(x, y)
        if method == "exact":
            assert not ties, note
        r = st.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided", method=method)
        u = float(r.statistic)
        # independent check of which U scipy reports: pair count for the first sample
        pairs = float(np.sum(x[:, None] > y[None, :]) + 0.5 * np.sum(x[:, None] == y[None, :]))
        assert u == pairs, (note, u, pairs)
        cases.append(
            {
                "note": note,
                "x": nums(x),
                "y": nums(y),
                "method": method,
                "alternative": "two-sided",
                "use_continuity": True,
                "has_ties": ties,
                "u": num(u),
                "p": num(r.pvalue),
            }
        )

    # asymptotic
    add(rnd(rng.normal(0.0, 1.0, 12)), rnd(rng.normal(0.8, 1.0, 15)), "asymptotic",
        "continuous, shifted, 12 vs 15")
    add(rng.integers(1, 6, 20).astype(float), rng.integers(2, 6, 18).astype(float), "asymptotic",
        "Likert 1-5, many ties, 20 vs 18")
    add(rng.integers(0, 2, 10).astype(float), (rng.random(12) < 0.8).astype(float), "asymptotic",
        "binary 0/1 values, two tie groups, 10 vs 12")
    add(rnd(rng.normal(1.0, 1.0, 3)), rnd(rng.normal(0.0, 1.0, 30)), "asymptotic",
        "very unequal sizes, 3 vs 30")
    add([1e300, -1e300, 1e-300, 3.5e200, -2.0, 7.0], [-1e-300, 0.0, 2.5e-310, -5e299, 1e308, -1e308, 4.0],
        "asymptotic", "extreme magnitudes incl. subnormal and 0.0, 6 vs 7")
    add(rnd(rng.uniform(10, 11, 8)), rnd(rng.uniform(0, 1, 9)), "asymptotic",
        "complete separation x > y, 8 vs 9")
    add([2.5] * 5, [2.5] * 4, "asymptotic", "all values tied: sigma = 0, p = 1")
    add([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], "asymptotic", "identical samples: U = mu, p clipped to 1")
    add([0.5], [0.1, 0.7, 0.9, 1.3], "asymptotic", "n1 = 1")
    add([1.0, 1.0, 2.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0], "asymptotic",
        "small with heavy ties, 6 vs 7")
    # exact (no ties)
    xe = rnd(rng.normal(0.0, 1.0, 5))
    ye = rnd(rng.normal(1.0, 1.0, 6))
    add(xe, ye, "exact", "continuous, 5 vs 6")
    add(xe, ye, "asymptotic", "same data as the previous exact case")
    add([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], "exact", "3 vs 3 complete separation, p = 2/20")
    add([0.25], [0.5, 0.1, 0.9, 0.3, 0.7], "exact", "1 vs 5")
    add(rnd(rng.normal(0.0, 1.0, 8)), rnd(rng.normal(0.5, 1.0, 8)), "exact", "8 vs 8")
    add(rnd(rng.normal(0.0, 1.0, 7)), rnd(rng.normal(-0.7, 1.0, 10)), "exact", "7 vs 10")
    add([1.0, 4.0], [2.0, 3.0], "exact", "U = mu: p = 2 P(U >= mu) > 1, clipped to 1")
    add([-1e300, 1e-300, 5e-324], [1e300, 2.0, -3.0, 1e-200], "exact", "extreme magnitudes, 3 vs 4")
    return cases


def auroc_cohen_cases(rng):
    cases = []

    def add(x, y, note):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n1, n2 = len(x), len(y)
        u = float(st.mannwhitneyu(x, y, method="asymptotic").statistic)
        auroc = u / (n1 * n2)
        pairs = (np.sum(x[:, None] > y[None, :]) + 0.5 * np.sum(x[:, None] == y[None, :])) / (n1 * n2)
        assert auroc == pairs
        vx, vy = np.var(x, ddof=1), np.var(y, ddof=1)
        df = n1 + n2 - 2
        sp = math.sqrt(((n1 - 1) * vx + (n2 - 1) * vy) / df)
        assert sp > 0, note
        d = (np.mean(x) - np.mean(y)) / sp
        j_approx = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)
        j_exact = math.exp(scipy.special.gammaln(df / 2) - scipy.special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
        cases.append(
            {
                "note": note,
                "x": nums(x),
                "y": nums(y),
                "u": num(u),
                "auroc": num(auroc),
                "pooled_sd": num(sp),
                "cohen_d": num(d),
                "hedges_g": num(d * j_approx),
                "hedges_g_exact": num(d * j_exact),
            }
        )

    add(rnd(rng.normal(0.3, 1.0, 15)), rnd(rng.normal(0.0, 1.0, 12)), "continuous, 15 vs 12")
    add(rng.integers(1, 6, 14).astype(float), rng.integers(1, 6, 11).astype(float), "Likert, many ties")
    add(rnd(rng.uniform(5, 6, 6)), rnd(rng.uniform(0, 1, 7)), "complete separation: auroc = 1")
    add(rnd(rng.uniform(0, 1, 7)), rnd(rng.uniform(5, 6, 6)), "reversed separation: auroc = 0")
    add([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0], "identical samples: auroc = 0.5, d = 0")
    add([0.1, 0.9], [0.4, 0.35], "tiny: 2 vs 2 (df = 2)")
    add(rnd(rng.normal(0.0, 1.0, 3)), rnd(rng.normal(0.0, 1.0, 40)), "very unequal sizes, 3 vs 40")
    add(1e8 + rnd(rng.normal(0.0, 1e-3, 10)), 1e8 + rnd(rng.normal(1e-3, 1e-3, 10)),
        "large offset (1e8) with tiny spread: naive sum-of-squares variance loses precision")
    add([0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0, 1.0], "binary values, two tie groups")
    return cases


def mann_whitney_permutation_cases(rng):
    def u1(x, y, axis=-1):
        return st.mannwhitneyu(x, y, axis=axis).statistic

    cases = []

    def add(x, y, note):
        x, y = rnd(x), rnd(y)
        r = st.permutation_test((x, y), u1, permutation_type="independent", alternative="two-sided",
                                n_resamples=np.inf, vectorized=True)
        cases.append({"note": note, "x": nums(x), "y": nums(y), "u": num(float(u1(x, y))), "p": num(float(r.pvalue)),
                      "asymptotic_p": num(float(st.mannwhitneyu(x, y, method="asymptotic").pvalue))})

    add([1.0, 1.2], [0.0] * 20 + [0.3, 0.5], "ReLU unit: two renderings above 20 zeros")
    add([0.0, 0.7], [0.0] * 18 + [0.3, 0.5, 0.9], "one rendering tied with the zeros")
    add([0.0, 0.0, 0.0], [0.0] * 15, "everything tied")
    add(rng.normal(1.0, 1.0, 3), rng.normal(0.0, 1.0, 17), "no ties, 3 vs 17")
    add(np.round(rng.normal(0.0, 1.0, 12), 0), np.round(rng.normal(2.0, 1.0, 4), 0), "heavy ties, small second sample")
    add(rng.normal(0.5, 1.0, 8), np.concatenate([np.zeros(6), rng.normal(0.0, 1.0, 8)]), "8 vs 14 with a tie group")
    add([5.0, 7.5], [1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 7.5], "two stimuli, one tied with the rest")
    return cases


def cohen_d_ci_cases():
    import pingouin

    cases = []
    for d, n1, n2, note in [
        (0.0, 10, 10, "no effect, 10 vs 10"),
        (0.8, 8, 232, "one concept's 8 images against the rest of a 30-concept family"),
        (-1.3, 20, 40, "negative d"),
        (3.5, 5, 5, "large d, tiny samples (df = 8)"),
        (0.25, 2, 2, "smallest defined case (df = 2)"),
        (1.1, 500, 9500, "large samples"),
    ]:
        ci = pingouin.compute_esci(stat=d, nx=n1, ny=n2, eftype="cohen", confidence=0.95, decimals=15)
        cases.append({"note": note, "d": num(d), "n1": n1, "n2": n2, "ci": nums(ci)})
    return cases


def bh_cases(rng):
    vectors = [
        ("unsorted, typical", [0.04, 0.001, 0.3, 0.012, 0.5, 0.0005, 0.049, 0.9, 0.02, 0.07]),
        ("ties", [0.01, 0.03, 0.01, 0.03, 0.2, 1.0, 0.03, 1.0]),
        ("all p = 1", [1.0, 1.0, 1.0, 1.0]),
        ("very small p", [1e-300, 0.5, 1e-20, 2.220446049250313e-16, 0.03, 5e-324]),
        ("single p", [0.04]),
        ("random 20, unsorted", nums(rnd(rng.random(20) ** 3))),
        ("all equal", [0.3, 0.3, 0.3, 0.3, 0.3]),
        ("contains p = 0", [0.0, 0.5, 0.01, 0.0]),
        ("raw q > 1 clipped / running min", [0.9, 0.95, 0.99]),
        ("descending input", [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]),
    ]
    cases = []
    for note, p in vectors:
        p = np.asarray(p, dtype=np.float64)
        _, q, _, _ = multipletests(p, alpha=ALPHA, method="fdr_bh")
        # independent cross-check (p * m / rank, running min) to 1e-15 relative
        m = len(p)
        order = np.argsort(p, kind="stable")
        raw = p[order] * m / np.arange(1, m + 1)
        chk = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
        inv = np.empty(m, dtype=float)
        inv[order] = chk
        assert np.allclose(q, inv, rtol=1e-15, atol=0), note
        cases.append({"note": note, "p": nums(p), "q": nums(q)})
    return cases


def binomial_ci_cases():
    pairs = [(0, 1), (1, 1), (0, 10), (10, 10), (1, 10), (5, 10), (3, 7), (0, 1000), (1000, 1000),
             (17, 1000), (999, 1000), (1, 100000), (50, 100), (2, 3)]
    cases = []
    for k, n in pairs:
        w = proportion_confint(k, n, alpha=ALPHA, method="wilson")
        cp = proportion_confint(k, n, alpha=ALPHA, method="beta")
        cases.append({"k": k, "n": n, "alpha": ALPHA, "wilson": nums(w), "clopper_pearson": nums(cp)})
    return cases


def fisher_cases():
    tables = [
        ("classic", [[1, 9], [11, 3]]),
        ("a = d = 0: odds ratio 0", [[0, 5], [5, 0]]),
        ("b = c = 0: odds ratio inf", [[5, 0], [0, 5]]),
        ("zero row sum: odds ratio nan, p = 1", [[0, 0], [3, 4]]),
        ("zero column sum: odds ratio nan, p = 1", [[0, 6], [0, 2]]),
        ("symmetric table: pmf ties at x and n - x", [[1, 4], [4, 1]]),
        ("balanced: odds ratio 1, p = 1", [[10, 10], [10, 10]]),
        ("strong association: tiny p", [[100, 2], [3, 90]]),
        ("one zero cell: odds ratio 0", [[0, 7], [2, 5]]),
        ("one zero cell: odds ratio inf", [[8, 2], [0, 5]]),
        ("larger counts", [[250, 230], [210, 260]]),
        ("single observation", [[1, 0], [0, 0]]),
        ("asymmetric margins", [[3, 1], [1, 3]]),
    ]
    cases = []
    for note, t in tables:
        r = st.fisher_exact(t, alternative="two-sided")
        cases.append({"note": note, "table": t, "odds_ratio": num(r.statistic), "p": num(r.pvalue)})
    return cases


def chi2_cases(rng):
    tables = [
        ("2x2", [[10, 20], [30, 25]]),
        ("2x2 with a zero cell", [[0, 5], [6, 3]]),
        ("2x2 observed == expected", [[1, 1], [1, 1]]),
        ("2x2 with |O - E| < 0.5: Yates gives 0", [[3, 4], [4, 4]]),
        ("2x2 large counts, tiny p", [[900, 100], [300, 700]]),
        ("2x3", [[12, 5, 9], [7, 14, 3]]),
        ("3x3 with zeros", [[0, 4, 9], [3, 0, 6], [8, 2, 0]]),
        ("3x4 random counts", rng.integers(0, 25, (3, 4)).tolist()),
        ("2x5", [[5, 8, 2, 0, 11], [9, 3, 7, 4, 1]]),
        ("5x2", [[20, 1], [15, 3], [9, 9], [4, 12], [1, 30]]),
    ]
    cases = []
    for note, t in tables:
        arr = np.asarray(t)
        assert np.all(arr.sum(0) > 0) and np.all(arr.sum(1) > 0), note
        for correction in (False, True):
            if correction and arr.shape != (2, 2) and note != "2x3":
                continue  # keep one r x c case with correction=True to show it's a no-op
            r = st.chi2_contingency(t, correction=correction)
            cases.append(
                {
                    "note": note,
                    "table": [[int(v) for v in row] for row in t],
                    "correction": correction,
                    "statistic": num(r.statistic),
                    "p": num(r.pvalue),
                    "dof": int(r.dof),
                    "expected": nums(r.expected_freq),
                }
            )
    return cases


def spearman_cases(rng):
    cases = []

    def add(x, y, note):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        r = st.spearmanr(x, y)
        cases.append({"note": note, "x": nums(x), "y": nums(y), "rho": num(r.statistic), "p": num(r.pvalue)})

    x = rnd(rng.normal(size=10))
    add(x, rnd(0.6 * x + rng.normal(size=10)), "continuous, n = 10")
    add(rng.integers(1, 5, 15).astype(float), rng.integers(1, 4, 15).astype(float), "ties in both, n = 15")
    add([1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0], [10.0, 20.0, 20.0, 30.0, 40.0, 40.0, 50.0],
        "perfect monotone with matching ties: rho = 1")
    add([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [6.0, 5.0, 4.0, 3.0, 2.0, 1.0], "perfect negative")
    add([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], "n = 3 (1 dof)")
    add([1.0, 1.0, 2.0, 3.0], [4.0, 2.0, 2.0, 1.0], "n = 4 with ties")
    add([1e300, -1e300, 1e-300, 0.0, 5e-324, 7.0], [3.0, -1e200, 2.0, 1e308, -4.0, 0.5],
        "extreme magnitudes (ranks only)")
    add((rng.random(30) < 0.5).astype(float), (rng.random(30) < 0.4).astype(float), "binary, n = 30")
    xs = rnd(rng.normal(size=25))
    add(xs, rnd(np.exp(xs)), "monotone nonlinear, no ties, n = 25")
    return cases


def weat_stat(X, Y, A, B):
    def cos(u, v):
        return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))

    def s(w):
        return float(np.mean([cos(w, a) for a in A]) - np.mean([cos(w, b) for b in B]))

    sx = np.array([s(w) for w in X])
    sy = np.array([s(w) for w in Y])
    allv = np.concatenate([sx, sy])
    effect = (sx.mean() - sy.mean()) / np.std(allv, ddof=1)
    observed = sx.sum() - sy.sum()
    nx = len(X)
    n_all = len(allv)
    stats = []
    for comb in itertools.combinations(range(n_all), nx):
        mask = np.zeros(n_all, dtype=bool)
        mask[list(comb)] = True
        stats.append(allv[mask].sum() - allv[~mask].sum())
    stats = np.array(stats)
    n_ge = int(np.sum(stats >= observed - WEAT_TIE_TOL))
    # how close is the nearest other partition? (the identity partition is combination 0)
    others = np.abs(stats[1:] - observed)
    return sx, sy, effect, observed, len(stats), n_ge, float(others.min()) if len(others) else math.inf


def weat_cases(rng):
    cases = []

    def add(X, Y, A, B, note, allow_ties=False):
        X, Y, A, B = (rnd(v) for v in (X, Y, A, B))
        sx, sy, effect, observed, n_part, n_ge, gap = weat_stat(X, Y, A, B)
        assert n_part == math.comb(len(X) + len(Y), len(X))
        if not allow_ties:
            assert gap > 1e-9, (note, gap)
        cases.append(
            {
                "note": note,
                "X": nums(X),
                "Y": nums(Y),
                "A": nums(A),
                "B": nums(B),
                "s_X": nums(sx),
                "s_Y": nums(sy),
                "test_statistic": num(observed),
                "effect_size": num(effect),
                "n_partitions": n_part,
                "n_ge": n_ge,
                "p_exact": num(n_ge / n_part),
                "has_tied_partitions": bool(gap <= 1e-9),
            }
        )

    def g(n, d=8):
        return rng.normal(size=(n, d))

    add(g(5), g(5), g(5), g(5), "random, 5+5 targets (252 partitions), 5/5 attributes, dim 8")
    add(g(4), g(4), g(4), g(6), "random, 4+4 (70), |A| = 4, |B| = 6")
    add(g(6), g(6), g(5), g(5), "random, 6+6 (924)")
    add(g(3), g(3), g(4), g(4), "random, 3+3 (20)")
    a_dir, b_dir = rng.normal(size=8), rng.normal(size=8)
    add(a_dir + 0.3 * g(5), b_dir + 0.3 * g(5), a_dir + 0.3 * g(5), b_dir + 0.3 * g(5),
        "strong bias X~A, Y~B: p = 1/252")
    add(b_dir + 0.3 * g(5), a_dir + 0.3 * g(5), a_dir + 0.3 * g(5), b_dir + 0.3 * g(5),
        "reversed bias: negative effect, p = 1")
    add(g(5, 16), g(5, 16), g(6, 16), g(4, 16), "random, dim 16")
    add(g(2), g(2), g(3), g(3), "tiny: 2+2 (6 partitions)")
    Xd = g(4)
    Yd = g(4)
    Yd[0] = Xd[0]  # a word vector in both target sets: swapping them ties exactly
    add(Xd, Yd, g(4), g(4), "duplicated vector in X and Y: tied partitions, needs tolerant >=", allow_ties=True)
    return cases


# ----------------------------------------------------------------------------- output


def dumps(obj, indent=0) -> str:
    """JSON with lists of scalars on one line (keeps the file readable and small)."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(json.dumps(v, allow_nan=False) for v in obj) + "]"
        if all(isinstance(v, list) and all(not isinstance(w, (dict, list)) for w in v) for v in obj):
            return "[" + ", ".join(dumps(v) for v in obj) + "]"
        items = [pad + " " + dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False)


def build() -> dict:
    rng = np.random.default_rng(SEED)
    import pandas
    import pingouin

    producer = (
        f"scripts/make_stats_fixtures.py (numpy seed {SEED}); python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, "
        f"pandas {pandas.__version__}, pingouin {pingouin.__version__}"
    )
    out = {"producer": producer, "conventions": CONVENTIONS}
    # one generator, consumed in this fixed order
    out["mann_whitney"] = mann_whitney_cases(rng)
    out["auroc_cohen"] = auroc_cohen_cases(rng)
    out["bh"] = bh_cases(rng)
    out["binomial_ci"] = binomial_ci_cases()
    out["fisher"] = fisher_cases()
    out["chi2"] = chi2_cases(rng)
    out["spearman"] = spearman_cases(rng)
    out["weat"] = weat_cases(rng)
    out["cohen_d_ci"] = cohen_d_ci_cases()
    out["mann_whitney_permutation"] = mann_whitney_permutation_cases(np.random.default_rng([SEED, 9]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default: {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with --out instead of writing")
    args = ap.parse_args()

    text = dumps(build()) + "\n"
    json.loads(text)  # sanity
    if args.check:
        old = args.out.read_text() if args.out.exists() else ""
        if old != text:
            print(f"{args.out}: differs from a fresh run", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
