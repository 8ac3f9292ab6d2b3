#!/usr/bin/env python3
"""Reference values for clip-audit's decision layer (fixtures/stats/decision.json).

The decision layer (src/analysis/decision.rs) turns an estimate, an interval and a spec limit
into a verdict. The statistics it rests on are computed here with scipy and statsmodels, so the
Rust side is checked against independent, widely used implementations:

  binomial_greater  scipy.stats.binomtest(k, n, p0, alternative="greater").pvalue: the exact
                    one-sided test that the Clopper-Pearson lower bound inverts (rate rule).
  clopper_pearson   statsmodels proportion_confint(method="beta") at several levels.
  risk_ratio        statsmodels confint_proportions_2indep(compare="ratio", method="log")
                    (Katz) and method="log-adjusted" (0.5 added, for zero counts), at several
                    levels; the one-sided Wald p of H0: ln RR <= ln limit with scipy.stats.norm.
  ratio_score       statsmodels confint_proportions_2indep(compare="ratio", method="score") and
                    score_test_proportions_2indep(compare="ratio", alternative="larger"):
                    the Miettinen-Nurminen score interval and test of a risk ratio margin.
  impact_ratio      the same interval, and the test with alternative="smaller" at 0.8, for the
                    four-fifths rule: favourable rates, a group against the best-off group.
  newcombe          statsmodels confint_proportions_2indep(compare="diff", method="newcomb")
                    at several levels (resolution and typographic rules).
  spearman_exact    scipy.stats.permutation_test over every pairing (permutation_type=
                    "pairings", n_resamples=inf, alternative="two-sided") of Spearman's rho,
                    ties included: the exact p that scipy's spearmanr docs recommend for n <= 10.
  holm              statsmodels multipletests(method="holm").
  mde_rate          the smallest rate with power 0.8 for the exact one-sided binomial test at
                    level a: scipy.stats.binom.sf and scipy.optimize.brentq.
  mde_standardized  statsmodels NormalIndPower().solve_power(alternative="larger") plus the
                    limit: the smallest standardised effect detected with power 0.8.
  mde_proportions   the MDEs of the two-proportion rules (risk ratio, difference, impact ratio):
                    the effect at which statsmodels' normal_power_het(alternative="larger")
                    gives power 0.8 with Farrington & Manning's (1990) variances (under the
                    null at the restricted maximum-likelihood proportions, found here by
                    numerical maximisation; under the alternative at the true ones), solved
                    with scipy.optimize.brentq; and, to show what the approximation is worth,
                    the exact power at that effect of the test the rule actually runs (score
                    test of the margin, or Newcombe's bound, with the rule's refusal when too
                    few events are expected), summed over every outcome of the two binomials.
                    Where a refusal gate binds, the MDE is where the expected count clears it by
                    its Poisson spread at power 0.8 (`gate_binds`).
  mde_t             statsmodels TTestPower().solve_power(alternative="larger") (noncentral t):
                    the detectable shift in standard errors of a one-sample t test with df =
                    nobs - 1, which clip-audit approximates by t_(1-a) + t_power.
  welch             scipy.stats.ttest_ind(equal_var=False): estimate, df and
                    confidence_interval() at 95% and 90% (the cluster-level associations rule).
  clustered_mean    statsmodels OLS(v, 1).fit(cov_type="cluster", use_t=True): the CR1
                    cluster-robust mean, its se and t(G - 1) interval (typographic excess).
  icc               pingouin.intraclass_corr ICC(1,1) on balanced clusters; the one-way ANOVA
                    estimator with Donner's m0 written out in numpy for unbalanced ones.
  cp_effective      scipy.stats.beta quantiles at real-valued (effective) counts (Korn &
                    Graubard's Clopper-Pearson for clustered samples).
  cluster_permutation
                    the one-sided permutation p moving whole clusters: of sum_X - sum_Y over
                    equal-size clusters, by enumerating every partition in Python; and, for
                    clusters of unequal sizes, of the difference of the sides' mean cluster
                    means with scipy.stats.permutation_test(permutation_type="independent",
                    n_resamples=inf, alternative="greater") on the cluster means.
  cases             the issue's worked cases: 24/60 vs 3/60 (risk ratio 8.0, Katz CI, Fisher p),
                    Clopper-Pearson and Wilson lower bounds of 1/1, exact Spearman p at n = 3,
                    4, 5 and Newcombe's interval of 8/10 vs 2/10.

Run (from the repository root; numpy, scipy and statsmodels, e.g. in .venv-scripts):
    python scripts/make_decision_fixtures.py           # writes fixtures/stats/decision.json
    python scripts/make_decision_fixtures.py --check   # compares, writes nothing
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

import numpy as np
import scipy
import statsmodels
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "stats" / "decision.json"


def f(x: float) -> float | str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def binomial_greater():
    cases = [(0, 10, 0.05), (1, 1, 0.05), (1, 3, 0.05), (3, 10, 0.05), (24, 60, 0.5), (12, 60, 0.1), (50, 200, 0.2), (7, 7, 0.9), (0, 1, 0.5)]
    return [{"k": k, "n": n, "p0": p0, "p": f(stats.binomtest(k, n, p0, alternative="greater").pvalue)} for k, n, p0 in cases]


def clopper_pearson():
    out = []
    for k, n in [(0, 10), (1, 1), (3, 10), (24, 60), (199, 200)]:
        for alpha in [0.05, 0.01, 0.2, 0.0125]:
            lo, hi = proportion_confint(k, n, alpha=alpha, method="beta")
            out.append({"k": k, "n": n, "alpha": alpha, "ci": [f(0.0 if k == 0 else lo), f(1.0 if k == n else hi)]})
    return out


def risk_ratio():
    out = []
    for a, n1, c, n2 in [(24, 60, 3, 60), (3, 60, 24, 60), (10, 100, 10, 100), (5, 20, 40, 400), (0, 30, 5, 30), (4, 12, 0, 50)]:
        method = "log-adjusted" if a == 0 or c == 0 else "log"
        for alpha in [0.05, 0.01, 0.1]:
            lo, hi = confint_proportions_2indep(a, n1, c, n2, method=method, compare="ratio", alpha=alpha)
            out.append({"a": a, "n1": n1, "c": c, "n2": n2, "alpha": alpha, "method": method, "ci": [f(lo), f(hi)]})
        if method == "log":
            se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
            rr = (a / n1) / (c / n2)
            for limit in [1.0, 2.0, 4.0]:
                out.append({"a": a, "n1": n1, "c": c, "n2": n2, "limit": limit, "p_above": f(stats.norm.sf((math.log(rr) - math.log(limit)) / se))})
    return out


def ratio_score():
    from statsmodels.stats.proportion import score_test_proportions_2indep

    out = []
    for a, n1, c, n2 in [(24, 60, 3, 60), (9, 10, 20, 1000), (0, 30, 5, 30), (20, 60, 0, 60), (3, 12, 10, 200), (150, 400, 60, 800)]:
        lo, hi = confint_proportions_2indep(a, n1, c, n2, method="score", compare="ratio")
        p = score_test_proportions_2indep(a, n1, c, n2, value=2.0, compare="ratio", alternative="larger").pvalue
        out.append({"a": a, "n1": n1, "c": c, "n2": n2, "ci95": [f(lo), f(hi)], "p_above_2": f(p)})
    return out


def impact_ratio():
    """The four-fifths rule: the ratio of favourable (harmless) rates, a group against the
    best-off group, its score interval and the one-sided score test of H0: ratio >= 0.8."""
    from statsmodels.stats.proportion import score_test_proportions_2indep

    out = []
    # statsmodels 0.15 gives an interval that misses the estimate when x2 == n2 (a division
    # by zero in its score roots), so the cases keep x2 < n2; the Rust tests check that case
    # against the interval's definition instead.
    for x1, n1, x2, n2 in [(30, 60, 54, 60), (45, 50, 49, 50), (8, 12, 95, 100), (150, 200, 190, 200), (70, 100, 90, 100)]:
        lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="score", compare="ratio")
        p = score_test_proportions_2indep(x1, n1, x2, n2, value=0.8, compare="ratio", alternative="smaller").pvalue
        out.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "ci95": [f(lo), f(hi)], "p_below_0_8": f(p)})
    return out


def newcombe():
    out = []
    for k1, n1, k2, n2 in [(8, 10, 2, 10), (10, 10, 0, 10), (5, 9, 0, 10), (30, 100, 20, 100), (3, 4, 1, 6)]:
        for alpha in [0.05, 0.01, 0.2]:
            lo, hi = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=alpha)
            out.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "alpha": alpha, "ci": [f(lo), f(hi)]})
    return out


def spearman_exact():
    rng = np.random.default_rng(20261130)
    samples = [
        ([1, 2, 3], [1, 2, 3]),
        ([1, 2, 3, 4], [1, 2, 3, 4]),
        ([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]),
        ([0.0, 0.0, 1.0, 2.0, 3.0, 3.0], [0.5, 0.0, 0.0, 2.0, 1.0, 4.0]),
        ([0.0, 0.0, 0.0, 1.5, 2.5, 0.3, 0.7], [0.0, 1.0, 0.0, 2.0, 2.0, 0.0, 3.0]),
    ]
    for n in [6, 8, 9]:
        x = np.round(rng.normal(size=n), 4)
        y = np.round(x + rng.normal(size=n), 4)
        samples.append((x.tolist(), y.tolist()))
    x = np.round(rng.normal(size=8), 1)
    y = np.round(rng.normal(size=8), 1)
    x[:3] = 0.0
    samples.append((x.tolist(), y.tolist()))
    out = []
    for x, y in samples:
        rx = stats.rankdata(x)
        ry = stats.rankdata(y)

        def statistic(yp, axis=-1):
            a = rx - rx.mean()
            b = yp - yp.mean(axis=axis, keepdims=True)
            return (a * b).sum(axis=axis) / np.sqrt((a * a).sum() * (b * b).sum(axis=axis))

        res = stats.permutation_test((ry,), statistic, permutation_type="pairings", vectorized=True, n_resamples=np.inf, alternative="two-sided")
        rho = stats.spearmanr(x, y).statistic
        out.append({"x": list(map(float, x)), "y": list(map(float, y)), "rho": f(rho), "p": f(res.pvalue)})
    return out


def holm():
    ps = [[0.01, 0.04, 0.03, 0.005], [0.5, 0.2, 0.9], [1e-6, 0.02, 0.02, 0.5, 0.049]]
    return [{"p": p, "q": [f(v) for v in multipletests(p, method="holm")[1]]} for p in ps]


def mde_rate():
    out = []
    for n, limit, a in [(10, 0.05, 0.025), (60, 0.05, 0.025), (200, 0.1, 0.0125), (1000, 0.05, 0.025), (3, 0.05, 0.025)]:
        k = next((k for k in range(n + 1) if stats.binom.sf(k - 1, n, limit) <= a), None)
        if k is None:
            out.append({"n": n, "limit": limit, "a": a, "mde": None})
            continue
        mde = optimize.brentq(lambda p: stats.binom.sf(k - 1, n, p) - 0.8, limit, 1.0, xtol=1e-14)
        out.append({"n": n, "limit": limit, "a": a, "mde": f(mde)})
    return out


def mde_standardized():
    out = []
    for n1, n2, limit, a in [(20, 80, 0.5, 0.025), (10, 10, 0.0, 0.025), (100, 900, 0.5, 0.0125)]:
        es = NormalIndPower().solve_power(effect_size=None, nobs1=n1, alpha=a, power=0.8, ratio=n2 / n1, alternative="larger")
        out.append({"n1": n1, "n2": n2, "limit": limit, "a": a, "mde": f(limit + es)})
    return out


def _exact_power(n1, p1, n2, p2, rejects):
    """P(rejects(x1, x2)) for x1 ~ Bin(n1, p1), x2 ~ Bin(n2, p2), over the outcomes that carry
    probability (the rest, under 1e-12 in all, is left out)."""
    def support(n, p):
        xs = np.arange(n + 1)
        pmf = stats.binom.pmf(xs, n, p)
        keep = pmf > 1e-14
        return xs[keep], pmf[keep]

    x1s, w1 = support(n1, p1)
    x2s, w2 = support(n2, p2)
    return float(sum(a * b for x1, a in zip(x1s, w1) for x2, b in zip(x2s, w2) if rejects(int(x1), int(x2))))


def _restricted_mle(p1h, n1, p2h, n2, constrain, top):
    """The binomial maximum-likelihood (p1, p2) under p1 = constrain(p2), p2 in (0, top), given
    the observed proportions, by numerical maximisation (independent of clip-audit's closed
    forms)."""
    def nll(q):
        r = constrain(q)
        return -(n1 * (p1h * math.log(r) + (1 - p1h) * math.log(1 - r)) + n2 * (p2h * math.log(q) + (1 - p2h) * math.log(1 - q)))

    q = optimize.minimize_scalar(nll, bounds=(1e-13, top - 1e-13), method="bounded", options={"xatol": 1e-15}).x
    return constrain(q), q


def _ratio_null_closed(x1, n1, x2, n2, r):
    """Farrington & Manning's (1990) restricted MLE (p1, p2) under p1 = r * p2, the root of
    their quadratic, for the refusal gates evaluated at every outcome of the exact power."""
    n = n1 + n2
    qa, qb, qc = n * r, -(n1 * r + x1 + n2 + x2 * r), x1 + x2
    p2 = (-qb - math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))) / (2 * qa)
    return p2 * r, p2


def mde_proportions():
    from statsmodels.stats.power import normal_power_het
    from statsmodels.stats.proportion import score_test_proportions_2indep

    z80 = stats.norm.ppf(0.8)

    def fm_power(effect, n1, p1, n2, p2, w, a, constrain, top):
        # Farrington & Manning (1990): the score statistic's numerator `effect` against its null
        # se at the restricted MLE (of the expected proportions) and its se at the alternative.
        q1, q2 = _restricted_mle(p1, n1, p2, n2, constrain, top)
        s0 = math.sqrt(q1 * (1 - q1) / n1 + w * w * q2 * (1 - q2) / n2)
        s1 = math.sqrt(p1 * (1 - p1) / n1 + w * w * p2 * (1 - p2) / n2)
        return normal_power_het(effect, 1, a, std_null=s0, std_alternative=s1, alternative="larger")

    def clears(expected, minimum):
        # A refusal gate on an expected count, cleared with its Poisson spread at power 0.8.
        return expected - z80 * math.sqrt(max(expected, 0.0)) - minimum

    def solve(gap, lo, hi):
        return optimize.brentq(gap, lo, hi, xtol=1e-13)

    out = {"risk_ratio": [], "difference": [], "impact_ratio": []}
    # The ratio rule decides only when, at the limit, the group expects 10 harmful labels and
    # the rest 5 (MIN_EXPECTED_EVENTS); the MDE must clear that gate too.
    for n1, n2, p2, limit, a in [(60, 600, 0.05, 2.0, 0.025), (200, 2000, 0.02, 2.0, 0.025), (100, 100, 0.1, 1.5, 0.0125), (300, 3000, 0.02, 2.0, 0.025), (10, 200, 0.1, 2.0, 0.025)]:
        top = min(1.0, 1 / limit)

        def power_gap(r):
            return fm_power(r * p2 - limit * p2, n1, r * p2, n2, p2, limit, a, lambda q: limit * q, top) - 0.8

        def gate_gap(r):
            q1, q2 = _restricted_mle(r * p2, n1, p2, n2, lambda q: limit * q, top)
            return min(clears(n1 * q1, 10.0), clears(n2 * q2, 5.0))

        hi = 1 / p2 - 1e-9
        if gate_gap(hi) < 0:
            out["risk_ratio"].append({"n1": n1, "n2": n2, "p2": p2, "limit": limit, "a": a, "mde": None})
            continue
        by_power = solve(power_gap, limit * (1 + 1e-9), hi)
        by_gate = solve(gate_gap, limit * (1 + 1e-9), hi) if gate_gap(limit * (1 + 1e-9)) < 0 else limit
        mde = max(by_power, by_gate)

        def rejects(x1, x2):
            q1, q2 = _ratio_null_closed(x1, n1, x2, n2, limit)
            if n1 * q1 < 10 or n2 * q2 < 5:
                return False
            return score_test_proportions_2indep(x1, n1, x2, n2, value=limit, compare="ratio", alternative="larger").pvalue <= a

        exact = _exact_power(n1, mde * p2, n2, p2, rejects)
        out["risk_ratio"].append({"n1": n1, "n2": n2, "p2": p2, "limit": limit, "a": a, "mde": f(mde), "gate_binds": by_gate > by_power, "exact_power": f(exact)})
    for n1, n2, p2, limit, a in [(20, 20, 0.3, 0.25, 0.025), (50, 50, 0.4, 0.25, 0.0125), (10, 30, 0.2, 0.1, 0.025), (10, 10, 0.2, 0.25, 0.025), (6, 20, 0.1, 0.25, 0.025)]:
        mde = solve(lambda d: fm_power(d - limit, n1, p2 + d, n2, p2, 1.0, a, lambda q: q + limit, 1 - limit) - 0.8, limit + 1e-9, 1 - p2 - 1e-9)

        def newcombe_rejects(k1, k2):
            lo, _ = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=2 * a)
            return lo > limit

        exact = _exact_power(n1, p2 + mde, n2, p2, newcombe_rejects)
        out["difference"].append({"n1": n1, "n2": n2, "p2": p2, "limit": limit, "a": a, "mde": f(mde), "gate_binds": False, "exact_power": f(exact)})
    # Favourable (harmless) rates: the group at r * p2 against the best-off group at p2. The
    # rule decides only when the group would miss 5 harmless labels at the limit.
    for n1, n2, p2, limit, a in [(100, 100, 0.9, 0.8, 0.025), (200, 50, 0.95, 0.8, 0.0125), (60, 60, 0.7, 0.8, 0.025 / 3), (15, 200, 0.99, 0.8, 0.025)]:

        def power_gap(r):
            return fm_power(limit * p2 - r * p2, n1, r * p2, n2, p2, limit, a, lambda q: limit * q, 1.0) - 0.8

        def gate_gap(r):
            q1, _ = _restricted_mle(r * p2, n1, p2, n2, lambda q: limit * q, 1.0)
            return clears(n1 * (1 - q1), 5.0)

        lo = 1e-6
        if min(power_gap(lo), gate_gap(lo)) < 0:
            out["impact_ratio"].append({"n1": n1, "n2": n2, "p2": p2, "limit": limit, "a": a, "mde": None})
            continue
        by_power = solve(power_gap, lo, limit * (1 - 1e-9))
        by_gate = solve(gate_gap, lo, limit * (1 - 1e-9)) if gate_gap(limit * (1 - 1e-9)) < 0 else limit
        mde = min(by_power, by_gate)

        def rejects(x1, x2):
            q1, _ = _ratio_null_closed(x1, n1, x2, n2, limit)
            if n1 * (1 - q1) < 5:
                return False
            return score_test_proportions_2indep(x1, n1, x2, n2, value=limit, compare="ratio", alternative="smaller").pvalue <= a

        exact = _exact_power(n1, mde * p2, n2, p2, rejects)
        out["impact_ratio"].append({"n1": n1, "n2": n2, "p2": p2, "limit": limit, "a": a, "mde": f(mde), "gate_binds": by_gate < by_power, "exact_power": f(exact)})
    return out


def mde_t():
    from statsmodels.stats.power import TTestPower

    out = []
    for nobs in [5, 10, 30, 200]:
        es = TTestPower().solve_power(effect_size=None, nobs=nobs, alpha=0.025, power=0.8, alternative="larger")
        out.append({"df": nobs - 1, "a": 0.025, "shift_in_se": f(es * math.sqrt(nobs))})
    return out


def welch():
    rng = np.random.default_rng(7)
    out = []
    for nx, ny, shift in [(5, 16, 0.3), (6, 26, 1.0), (2, 3, 0.0), (12, 12, -0.5)]:
        x = np.round(rng.normal(shift, 1.0, nx), 4)
        y = np.round(rng.normal(0.0, 1.5, ny), 4)
        r = stats.ttest_ind(x, y, equal_var=False)
        lo95, hi95 = r.confidence_interval(0.95)
        lo90, hi90 = r.confidence_interval(0.90)
        out.append({"x": x.tolist(), "y": y.tolist(), "estimate": f(x.mean() - y.mean()), "df": f(r.df), "ci95": [f(lo95), f(hi95)], "ci90": [f(lo90), f(hi90)], "p_above_0.2": f(stats.t.sf((x.mean() - y.mean() - 0.2) / ((x.mean() - y.mean()) / r.statistic), r.df))})
    return out


def clustered_mean():
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    out = []
    for clusters, per in [(6, 2), (40, 3), (5, 1)]:
        g = np.repeat(np.arange(clusters), per)
        v = rng.choice([-1.0, 0.0, 0.0, 1.0, 1.0], size=g.size)
        if per == 1:
            g = np.arange(clusters)
        res = sm.OLS(v, np.ones(v.size)).fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)
        lo, hi = res.conf_int(0.05)[0]
        out.append({"v": v.tolist(), "clusters": g.tolist(), "mean": f(res.params[0]), "se": f(res.bse[0]), "ci95": [f(lo), f(hi)]})
    return out


def icc():
    import pandas as pd
    import pingouin as pg

    rng = np.random.default_rng(5)
    out = []
    # Balanced: pingouin's ICC1 (targets = clusters, raters = position in the cluster).
    for k, m in [(6, 4), (10, 3)]:
        effect = rng.normal(0, 1, k)
        v = np.round((effect[:, None] + rng.normal(0, 1, (k, m))).ravel(), 4)
        df = pd.DataFrame({"cluster": np.repeat(np.arange(k), m), "rater": np.tile(np.arange(m), k), "v": v})
        icc1 = pg.intraclass_corr(df, targets="cluster", raters="rater", ratings="v").set_index("Type").loc["ICC(1,1)", "ICC"]
        out.append({"v": v.tolist(), "clusters": df["cluster"].tolist(), "icc": f(icc1), "m0": float(m), "source": "pingouin ICC(1,1)"})
    # Unbalanced: the one-way ANOVA estimator, Donner (1986).
    sizes = [1, 3, 5, 2, 4]
    g = np.repeat(np.arange(len(sizes)), sizes)
    v = np.round(rng.normal(0, 1, len(sizes))[g] + rng.normal(0, 1, g.size), 4)
    n, k = g.size, len(sizes)
    means = np.array([v[g == i].mean() for i in range(k)])
    ssb = sum(sizes[i] * (means[i] - v.mean()) ** 2 for i in range(k))
    ssw = sum(((v[g == i] - means[i]) ** 2).sum() for i in range(k))
    msb, msw = ssb / (k - 1), ssw / (n - k)
    m0 = (n - sum(s * s for s in sizes) / n) / (k - 1)
    out.append({"v": v.tolist(), "clusters": g.tolist(), "icc": f((msb - msw) / (msb + (m0 - 1) * msw)), "m0": f(m0), "source": "one-way ANOVA, Donner 1986"})
    return out


def cp_effective():
    out = []
    for k, n in [(2.5, 14.2), (0.0, 7.5), (9.1, 9.1), (30.3, 120.7)]:
        lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
        hi = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
        out.append({"k": k, "n": n, "ci": [f(lo), f(hi)], "p_above_0.05": f(1.0 if k == 0 else stats.beta.cdf(0.05, k, n - k + 1))})
    return out


def cluster_permutation():
    import itertools

    rng = np.random.default_rng(3)
    out = []
    for kx, ky in [(3, 5), (4, 6)]:
        sizes = rng.integers(1, 4, kx + ky)
        sums = [float(np.round(rng.normal(0.3 if i < kx else 0.0, 1.0, s).sum(), 4)) for i, s in enumerate(sizes)]
        total = sum(sums)
        obs = 2 * sum(sums[:kx]) - total
        count = 0
        combos = list(itertools.combinations(range(kx + ky), kx))
        for c in combos:
            if 2 * sum(sums[i] for i in c) - total >= obs - 1e-10:
                count += 1
        out.append({"sums": sums, "kx": kx, "p": count / len(combos)})
    return out


def cluster_permutation_unequal():
    # Scores with a mean far from 0 and clusters of 1 to 9 images: a permutation of cluster sums
    # would be driven by the sizes; the p is over the cluster means.
    rng = np.random.default_rng(11)
    out = []
    for kx, ky, shift in [(3, 6, 0.0), (4, 5, 0.8), (5, 7, -0.3)]:
        sizes = rng.integers(1, 10, kx + ky)
        clusters = [np.round(rng.normal(2.0 + (shift if i < kx else 0.0), 1.0, s), 4) for i, s in enumerate(sizes)]
        means = np.array([c.mean() for c in clusters])
        r = stats.permutation_test(
            (means[:kx], means[kx:]),
            lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
            permutation_type="independent",
            vectorized=True,
            n_resamples=np.inf,
            alternative="greater",
        )
        out.append({"x": [c.tolist() for c in clusters[:kx]], "y": [c.tolist() for c in clusters[kx:]], "p": f(r.pvalue)})
    return out


def cases():
    lo, hi = confint_proportions_2indep(24, 60, 3, 60, method="log", compare="ratio")
    cp = proportion_confint(1, 1, alpha=0.05, method="beta")
    wi = proportion_confint(1, 1, alpha=0.05, method="wilson")
    nl, nh = confint_proportions_2indep(8, 10, 2, 10, method="newcomb", compare="diff")
    return {
        "denigration_24_of_60_vs_3_of_60": {"risk_ratio": 8.0, "katz_ci": [f(lo), f(hi)], "fisher_p": f(stats.fisher_exact([[24, 36], [3, 57]]).pvalue)},
        "rate_1_of_1": {"clopper_pearson_lower": f(cp[0]), "wilson_lower": f(wi[0])},
        "resolution_8_of_10_vs_2_of_10": {"newcombe_ci": [f(nl), f(nh)]},
    }


def build():
    return {
        "generator": "scripts/make_decision_fixtures.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "binomial_greater": binomial_greater(),
        "clopper_pearson": clopper_pearson(),
        "risk_ratio": risk_ratio(),
        "ratio_score": ratio_score(),
        "impact_ratio": impact_ratio(),
        "newcombe": newcombe(),
        "spearman_exact": spearman_exact(),
        "holm": holm(),
        "mde_rate": mde_rate(),
        "mde_standardized": mde_standardized(),
        "mde_proportions": mde_proportions(),
        "mde_t": mde_t(),
        "welch": welch(),
        "clustered_mean": clustered_mean(),
        "icc": icc(),
        "cp_effective": cp_effective(),
        "cluster_permutation": cluster_permutation(),
        "cluster_permutation_unequal": cluster_permutation_unequal(),
        "cases": cases(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    args = ap.parse_args()
    data = build()
    text = json.dumps(data, indent=1) + "\n"
    if args.check:
        old = json.loads(OUT.read_text())
        old.pop("versions", None)
        data.pop("versions", None)
        if old != data:
            sys.exit(f"{OUT} differs from what this script computes")
        print(f"{OUT}: up to date")
        return
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
