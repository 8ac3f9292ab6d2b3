//! Statistics shared by clip-audit's analyses: rank tests, effect sizes, multiple-testing
//! correction, binomial intervals, contingency tests, rank correlation, WEAT and a seeded PRNG.
//!
//! Why this module exists: every analysis reports p-values, effect sizes and intervals that
//! readers will compare with scipy and statsmodels. Keeping the definitions in one place, pinned
//! to those libraries' conventions (documented in `fixtures/stats/README.md` and checked against
//! `fixtures/stats/reference.json`), keeps the analyses consistent with each other and makes
//! their numbers reproducible outside Rust. Randomised procedures (permutations, bootstrap) draw
//! from [`Rng`], so their results depend only on the audit's seed, never on a crate version.
//!
//! Conventions: functions never panic on user data. Empty or degenerate input gives `NaN` (or
//! `None` where the signature has an `Option`), as documented on each item.

pub use crate::rng::Rng;
use serde::Serialize;
use statrs::function::beta::{beta_reg, inv_beta_reg};
use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::gamma::{checked_gamma_ur, ln_gamma};

/// Average ranks (1-based) of values in pooled order, and the tie term Σ(t³−t) over tie groups.
///
/// Values equal under `==` share the mean of the ranks they occupy (so `-0.0` ties with `0.0`).
/// Sorting uses IEEE total order, so a `NaN` never ties and gets a rank at one end; filter
/// `NaN` out first if that matters. Empty input gives `(vec![], 0.0)`.
pub fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < n {
        let v = values[order[start]];
        let mut end = start + 1;
        while end < n && values[order[end]] == v {
            end += 1;
        }
        // Sorted positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2.
        let avg = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = avg;
        }
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    (ranks, tie_term)
}

/// Which p-value method Mann-Whitney uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MwMethod {
    /// Normal approximation with tie correction and continuity correction.
    Asymptotic,
    /// Exact null distribution of U (meant for samples without ties).
    Exact,
}

/// Result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MannWhitney {
    /// U1, the U statistic of the first sample: #(x > y) + 0.5·#(x == y).
    #[serde(deserialize_with = "crate::json::f64")]
    pub u: f64,
    /// Two-sided p-value.
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// The method that produced `p`.
    pub method: MwMethod,
}

/// U1 of the first sample and the pooled tie term; `None` when a sample is empty or has a NaN.
fn u1_and_ties(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, tie_term) = average_ranks(&pooled);
    let r1: f64 = ranks[..x.len()].iter().sum();
    let n1 = x.len() as f64;
    Some((r1 - n1 * (n1 + 1.0) / 2.0, tie_term))
}

/// Two-sided Mann-Whitney U test, method chosen automatically with scipy's rule: `Exact` when
/// there are no ties in the pooled sample and both n1 <= 8 and n2 <= 8, else `Asymptotic` with
/// tie correction and continuity correction.
///
/// scipy's rule is kept as is (not extended to larger tie-free samples) so that every p-value can
/// be reproduced with `scipy.stats.mannwhitneyu(x, y)`. A sample that is empty or contains `NaN`
/// gives `u = NaN` and `p = NaN`.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> MannWhitney {
    match u1_and_ties(x, y) {
        None => MannWhitney { u: f64::NAN, p: f64::NAN, method: MwMethod::Asymptotic },
        Some((u1, tie_term)) => {
            let (n1, n2) = (x.len(), y.len());
            if tie_term == 0.0 && n1 <= 8 && n2 <= 8 {
                MannWhitney { u: u1, p: mann_whitney_p_exact(u1, n1, n2), method: MwMethod::Exact }
            } else {
                let p = mann_whitney_p_asymptotic(u1, n1, n2, tie_term);
                MannWhitney { u: u1, p, method: MwMethod::Asymptotic }
            }
        }
    }
}

/// Same as [`mann_whitney`] with the method forced (for tests against scipy).
///
/// `Exact` ignores ties (as scipy does); see [`mann_whitney_p_exact`].
pub fn mann_whitney_with(x: &[f64], y: &[f64], method: MwMethod) -> MannWhitney {
    match u1_and_ties(x, y) {
        None => MannWhitney { u: f64::NAN, p: f64::NAN, method },
        Some((u1, tie_term)) => {
            let (n1, n2) = (x.len(), y.len());
            let p = match method {
                MwMethod::Asymptotic => mann_whitney_p_asymptotic(u1, n1, n2, tie_term),
                MwMethod::Exact => mann_whitney_p_exact(u1, n1, n2),
            };
            MannWhitney { u: u1, p, method }
        }
    }
}

/// Fast path: asymptotic two-sided p from U1 of the first sample, sizes and the pooled tie term
/// (when ranks were computed once for many tests).
///
/// With U = max(U1, n1·n2 − U1): z = (U − n1·n2/2 − 0.5)/σ, σ² = n1·n2/12·((n+1) − Σ(t³−t)/(n(n−1))),
/// p = 2·Φ(−z) = erfc(z/√2), clipped to [0, 1]. U at the mean, or all values tied (σ = 0), give
/// p = 1. NaN when a size is 0 or an input is not finite.
pub fn mann_whitney_p_asymptotic(u1: f64, n1: usize, n2: usize, tie_term: f64) -> f64 {
    if n1 == 0 || n2 == 0 || !u1.is_finite() || !tie_term.is_finite() {
        return f64::NAN;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let mu = a * b / 2.0;
    let u = u1.max(a * b - u1);
    let var = a * b / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let sigma = var.max(0.0).sqrt();
    let z = (u - mu - 0.5) / sigma;
    if z.is_nan() {
        return f64::NAN;
    }
    if z <= 0.0 {
        return 1.0;
    }
    erfc(z / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Exact two-sided p from U1 (no ties), sizes: p = 2·P(U' ≥ U) with U = max(U1, n1·n2 − U1), the
/// mass at U included, clipped to 1.
///
/// A non-integer U (ties) is rounded up. The null distribution is counted exactly in integers
/// while C(n1+n2, n1) < 2¹²⁷ (cost O(min(n1,n2)·n1·n2)); beyond that a floating-point
/// recurrence is used (cost O(n1·n2·min(n1,n2)·max(n1,n2)), memory O(min(n1,n2)·n1·n2)), and
/// beyond 2²⁴ table entries (e.g. n1 = n2 = 250) the result is NaN: use the asymptotic test for
/// large samples. NaN also when a size is 0 or U1 is not finite.
pub fn mann_whitney_p_exact(u1: f64, n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 || !u1.is_finite() {
        return f64::NAN;
    }
    let total_u = n1 as f64 * n2 as f64;
    let u = u1.max(total_u - u1);
    if u > total_u {
        return 0.0;
    }
    // u >= n1 n2 / 2 >= 0 and u <= n1 n2 here, so the cast is in range.
    let k = u.ceil() as usize;
    let tail = mw_upper_tail(n1, n2, k);
    // f64::min would turn a NaN tail (table too large) into 1.
    if tail.is_nan() { f64::NAN } else { (2.0 * tail).min(1.0) }
}

/// P(U' >= k) under the null distribution of U for sizes n1, n2 (no ties).
fn mw_upper_tail(n1: usize, n2: usize, k: usize) -> f64 {
    match mw_null_counts(n1, n2) {
        Some(counts) => {
            let total: u128 = counts.iter().sum();
            let upper: u128 = counts.iter().skip(k).sum();
            upper as f64 / total as f64
        }
        None => match mw_null_probs(n1, n2) {
            Some(probs) => probs.iter().skip(k).sum::<f64>().min(1.0),
            None => f64::NAN,
        },
    }
}

/// Largest table (rows × columns of f64) the floating-point exact recurrence may allocate: 128 MiB.
const MW_MAX_TABLE: usize = 1 << 24;

/// Exact counts of U = 0..=n1·n2 (the Gaussian binomial coefficients of [n1+n2 choose n1]), or
/// `None` when C(n1+n2, n1) may not fit below 2¹²⁷.
///
/// Uses the product Π_{i=1..a} (1 − q^{b+i})/(1 − q^i) truncated to degree a·b, in wrapping
/// u128 arithmetic: intermediate coefficients may be negative, but the ring operations are exact
/// modulo 2¹²⁸ and the final coefficients are non-negative and below 2¹²⁷.
fn mw_null_counts(n1: usize, n2: usize) -> Option<Vec<u128>> {
    let (a, b) = (n1.min(n2), n1.max(n2));
    let ln_total = ln_choose((a + b) as f64, a as f64);
    if ln_total.is_nan() || ln_total >= 126.0 * std::f64::consts::LN_2 {
        return None;
    }
    let deg = a.checked_mul(b)?;
    let mut c = vec![0u128; deg + 1];
    c[0] = 1;
    for i in 1..=a {
        let m = b + i;
        if m <= deg {
            for j in (m..=deg).rev() {
                c[j] = c[j].wrapping_sub(c[j - m]);
            }
        }
        for j in i..=deg {
            c[j] = c[j].wrapping_add(c[j - i]);
        }
    }
    Some(c)
}

/// Null probabilities of U = 0..=n1·n2 by the recurrence
/// p_{m,n}(u) = m/(m+n)·p_{m−1,n}(u−n) + n/(m+n)·p_{m,n−1}(u) (all terms positive, so stable).
/// `None` when the table would exceed [`MW_MAX_TABLE`] entries.
fn mw_null_probs(n1: usize, n2: usize) -> Option<Vec<f64>> {
    let (a, b) = (n1.min(n2), n1.max(n2));
    let deg = a.checked_mul(b)?;
    if (a + 1).checked_mul(deg + 1)? > MW_MAX_TABLE {
        return None;
    }
    // f[m][u] = p_{m,n}(u) for the current n; at n = 0, U = 0 with certainty.
    let mut f = vec![vec![0.0f64; deg + 1]; a + 1];
    for row in f.iter_mut() {
        row[0] = 1.0;
    }
    for n in 1..=b {
        for m in 1..=a {
            let (lo, hi) = f.split_at_mut(m);
            let prev = &lo[m - 1];
            let cur = &mut hi[0];
            let w_prev = m as f64 / (m + n) as f64;
            let w_cur = n as f64 / (m + n) as f64;
            for u in 0..=deg {
                let from_prev = if u >= n { prev[u - n] } else { 0.0 };
                cur[u] = w_prev * from_prev + w_cur * cur[u];
            }
        }
    }
    f.pop()
}

/// Largest amount of work (group × chosen × rank-sum cells) [`RankSumNull::new`] takes on.
const RANK_SUM_MAX_WORK: usize = 1 << 25;

/// Exact permutation null of the rank sum of `m` stimuli drawn without replacement from a pooled
/// sample, conditional on its ties: the Mann-Whitney test for a small group where the normal
/// approximation fails.
///
/// Why: with few stimuli in one group and many tied values in the pool (ReLU units are zero on
/// most stimuli), the tie-corrected normal approximation is anti-conservative by orders of
/// magnitude: two renderings of a name above 62 other stimuli, 60 of them zero, give p = 1.6e-8
/// where the exact permutation p is 9.9e-4. Counting the C(N, m) equally likely subsets by tie
/// group gives the exact p at a cost of O(groups · m · m · N), so one null per unit and group
/// size serves every concept of a block. With ties the distribution is not symmetric, so the
/// two-sided p is scipy's `permutation_test(..., alternative="two-sided")`: twice the smaller
/// tail, the observed value included, clipped to 1.
#[derive(Debug, Clone)]
pub struct RankSumNull {
    /// P(2·rank sum = s), s = 0..=2·m·N.
    probs: Vec<f64>,
}

impl RankSumNull {
    /// The null for groups of `m` drawn from the pooled sample whose mid-ranks are `ranks` (as
    /// [`average_ranks`] gives them). `None` when `m` is 0 or not below the pool size, a rank is
    /// not a finite multiple of 1/2, or the work would exceed about 3·10⁷ cells (use the
    /// asymptotic test then).
    pub fn new(ranks: &[f64], m: usize) -> Option<Self> {
        let n = ranks.len();
        if m == 0 || m >= n {
            return None;
        }
        // Tie groups: doubled mid-rank -> size.
        let mut doubled: Vec<usize> = Vec::with_capacity(n);
        for &r in ranks {
            let d = 2.0 * r;
            if !d.is_finite() || d < 2.0 || (d - d.round()).abs() > 1e-6 {
                return None;
            }
            doubled.push(d.round() as usize);
        }
        doubled.sort_unstable();
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for d in doubled {
            match groups.last_mut() {
                Some((w, t)) if *w == d => *t += 1,
                _ => groups.push((d, 1)),
            }
        }
        let max_sum = 2 * m * n;
        if groups.len().checked_mul(m + 1)?.checked_mul(max_sum + 1)? > RANK_SUM_MAX_WORK {
            return None;
        }
        // ways[k][s]: weighted count of k-subsets of the groups seen so far with doubled sum s.
        let mut ways = vec![vec![0.0f64; max_sum + 1]; m + 1];
        ways[0][0] = 1.0;
        let mut reach = 0usize; // largest doubled sum reached so far
        for &(w, t) in &groups {
            for k in (0..m).rev() {
                for c in 1..=t.min(m - k) {
                    let weight = choose_u128(t as u64, c as u64)? as f64;
                    let shift = c * w;
                    let (lo, hi) = ways.split_at_mut(k + c);
                    let (from, to) = (&lo[k], &mut hi[0]);
                    for s in 0..=reach.min(max_sum - shift) {
                        if from[s] != 0.0 {
                            to[s + shift] += from[s] * weight;
                        }
                    }
                }
            }
            reach = (reach + w * t.min(m)).min(max_sum);
        }
        let mut probs = ways.pop()?;
        let total: f64 = probs.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        probs.iter_mut().for_each(|p| *p /= total);
        Some(Self { probs })
    }

    /// Two-sided p of a group of `m` whose ranks sum to `rank_sum`: twice the smaller tail, the
    /// observed value included, clipped to 1. NaN when `rank_sum` is not finite.
    pub fn p_two_sided(&self, rank_sum: f64) -> f64 {
        let d = 2.0 * rank_sum;
        if !d.is_finite() || d < 0.0 {
            return f64::NAN;
        }
        let d = (d.round() as usize).min(self.probs.len());
        let lower: f64 = self.probs.iter().take(d + 1).sum();
        let upper: f64 = self.probs.iter().skip(d).sum();
        (2.0 * lower.min(upper)).min(1.0)
    }
}

/// ln C(n, k) through ln Γ.
fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

/// AUROC = U1/(n1 n2), i.e. P(x > y) + 0.5·P(x = y). NaN when a size is 0.
pub fn auroc(u1: f64, n1: usize, n2: usize) -> f64 {
    u1 / (n1 as f64 * n2 as f64)
}

/// Mean and sample variance (ddof = 1), two-pass; NaN as in [`mean_sd`].
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, ss / (n - 1) as f64)
}

/// Mean and sample sd (ddof=1; sd NaN when n<2, mean NaN when empty).
///
/// Two-pass (deviations from the mean), so a large common offset does not cost precision.
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let (mean, var) = mean_var(x);
    (mean, var.sqrt())
}

/// Cohen's d from means, sample variances and sizes; see [`cohen_d_from`] for the `None` cases.
fn cohen_d_var(m1: f64, v1: f64, n1: usize, m2: f64, v2: f64, n2: usize) -> Option<f64> {
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let df = (n1 + n2 - 2) as f64;
    let pooled = (((n1 - 1) as f64 * v1 + (n2 - 1) as f64 * v2) / df).sqrt();
    if !(pooled.is_finite() && pooled > 0.0) {
        return None;
    }
    let d = (m1 - m2) / pooled;
    d.is_finite().then_some(d)
}

/// Cohen's d = (mean_x − mean_y)/s_p with the pooled sd
/// s_p = sqrt(((n1−1)s1² + (n2−1)s2²)/(n1+n2−2)), sample variances with ddof = 1.
///
/// `None` when a sample has fewer than 2 values, when the pooled sd is 0 or not finite (e.g. both
/// samples constant, or a NaN in the data), or when d itself is not finite.
pub fn cohen_d(x: &[f64], y: &[f64]) -> Option<f64> {
    let (m1, v1) = mean_var(x);
    let (m2, v2) = mean_var(y);
    cohen_d_var(m1, v1, x.len(), m2, v2, y.len())
}

/// Cohen's d from summary statistics (mean, sd, n) of two samples; same `None` cases as
/// [`cohen_d`] (n < 2 in either sample, pooled sd 0 or not finite, d not finite).
pub fn cohen_d_from(m1: f64, s1: f64, n1: usize, m2: f64, s2: f64, n2: usize) -> Option<f64> {
    cohen_d_var(m1, s1 * s1, n1, m2, s2 * s2, n2)
}

/// Hedges' g, Hedges & Olkin approximation d·(1 − 3/(4(n1+n2) − 9)) (as in pingouin).
///
/// NaN when n1 + n2 < 3 (fewer than one degree of freedom).
pub fn hedges_g(d: f64, n1: usize, n2: usize) -> f64 {
    let n = n1 as f64 + n2 as f64;
    if n < 3.0 {
        return f64::NAN;
    }
    d * (1.0 - 3.0 / (4.0 * n - 9.0))
}

/// The (1 − `alpha`) CI of an independent-samples Cohen's d: d ± t(1 − α/2, n1+n2−2)·se with
/// Hedges & Olkin's standard error se = sqrt((n1+n2)/(n1·n2) + d²/(2(n1+n2))), as pingouin's
/// `compute_esci` and R's `effsize::cohen.d(noncentral = FALSE)`.
///
/// NaN bounds when d is not finite or a sample is empty or there is no degree of freedom.
pub fn cohen_d_ci(d: f64, n1: usize, n2: usize, alpha: f64) -> [f64; 2] {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (a, b) = (n1 as f64, n2 as f64);
    let Ok(t) = StudentsT::new(0.0, 1.0, a + b - 2.0) else {
        return [f64::NAN; 2];
    };
    if !d.is_finite() || n1 == 0 || n2 == 0 {
        return [f64::NAN; 2];
    }
    let se = ((a + b) / (a * b) + d * d / (2.0 * (a + b))).sqrt();
    let half = t.inverse_cdf(1.0 - alpha / 2.0) * se;
    [d - half, d + half]
}

/// Benjamini-Hochberg q-values in input order (NaN p stays NaN and is not counted in m).
///
/// statsmodels `fdr_bh`: sort ascending, q_(i) = p_(i)/(i/m), running minimum from the largest p
/// downwards, values above 1 set to 1. Tied p get equal q. Inputs are assumed to lie in [0, 1].
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut q = vec![f64::NAN; p.len()];
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let m = idx.len() as f64;
    let mut running = f64::INFINITY;
    for (rank, &i) in idx.iter().enumerate().rev() {
        let frac = (rank + 1) as f64 / m;
        running = running.min(p[i] / frac);
        q[i] = running.min(1.0);
    }
    q
}

/// The two-sided normal critical value z = Φ⁻¹(1 − alpha/2) (scipy `norm.isf(alpha/2)`).
fn z_two_sided(alpha: f64) -> f64 {
    std::f64::consts::SQRT_2 * erfc_inv(alpha)
}

/// Whether a binomial interval can be computed: n > 0, k <= n, 0 < alpha < 1.
fn binomial_args_ok(k: u64, n: u64, alpha: f64) -> bool {
    n > 0 && k <= n && alpha > 0.0 && alpha < 1.0
}

/// Wilson score interval (two-sided, level 1−alpha).
///
/// statsmodels `proportion_confint(method="wilson")` with bounds clipped to [0, 1], except that
/// the lower bound is exactly 0 when k = 0 and the upper exactly 1 when k = n (statsmodels leaves
/// rounding noise there, e.g. 2.2e−19 or 1 − 1e−16), so the interval always contains k/n.
/// `(NaN, NaN)` when n = 0, k > n or alpha is not in (0, 1).
pub fn wilson(k: u64, n: u64, alpha: f64) -> (f64, f64) {
    if !binomial_args_ok(k, n, alpha) {
        return (f64::NAN, f64::NAN);
    }
    let z = z_two_sided(alpha);
    let z2 = z * z;
    let nf = n as f64;
    let p = k as f64 / nf;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let dist = z * (p * (1.0 - p) / nf + z2 / (4.0 * (nf * nf))).sqrt() / denom;
    // The exact bounds at k = 0 and k = n are 0 and 1; the formula leaves rounding noise there.
    let lo = if k == 0 { 0.0 } else { (center - dist).clamp(0.0, 1.0) };
    let hi = if k == n { 1.0 } else { (center + dist).clamp(0.0, 1.0) };
    (lo, hi)
}

/// Clopper-Pearson exact interval (two-sided, level 1−alpha).
///
/// lower = Beta⁻¹(alpha/2; k, n−k+1) (0 when k = 0), upper = Beta⁻¹(1−alpha/2; k+1, n−k) (1 when
/// k = n), as statsmodels `method="beta"`. `(NaN, NaN)` when n = 0, k > n or alpha is not in (0, 1).
pub fn clopper_pearson(k: u64, n: u64, alpha: f64) -> (f64, f64) {
    if !binomial_args_ok(k, n, alpha) {
        return (f64::NAN, f64::NAN);
    }
    clopper_pearson_effective(k as f64, n as f64, alpha)
}

/// [`clopper_pearson`] on real-valued counts: with a design effect d, k/d of n/d (Korn &
/// Graubard 1998's interval for clustered samples, on the effective sample size). The caller
/// checks 0 ≤ k ≤ n, n > 0.
pub fn clopper_pearson_effective(k: f64, n: f64, alpha: f64) -> (f64, f64) {
    let half = alpha / 2.0;
    let lo = if k <= 0.0 { 0.0 } else { inv_beta_reg(k, n - k + 1.0, half) };
    let hi = if k >= n { 1.0 } else { inv_beta_reg(k + 1.0, n - k, 1.0 - half) };
    (lo, hi)
}

/// Fisher's exact test on [[a, b], [c, d]]: (sample odds ratio, two-sided p).
///
/// scipy `fisher_exact` semantics: the odds ratio is (a·d)/(b·c), `inf` when b = 0 or c = 0, and
/// `(NaN, 1.0)` when a row or column sums to 0. p sums the hypergeometric pmf over every table
/// with pmf ≤ pmf(observed)·(1 + 1e−14), is 1 when the observed table is (within 1e−14) the mode,
/// and is capped at 1. Cost is linear in the support size min(a+b, a+c).
pub fn fisher_exact(table: [[u64; 2]; 2]) -> (f64, f64) {
    let [[a, b], [c, d]] = table;
    let (a, b, c, d) = (a as u128, b as u128, c as u128, d as u128);
    let (r1, r2, c1, c2) = (a + b, c + d, a + c, b + d);
    if r1 == 0 || r2 == 0 || c1 == 0 || c2 == 0 {
        return (f64::NAN, 1.0);
    }
    let odds_ratio = if b == 0 || c == 0 { f64::INFINITY } else { (a as f64 * d as f64) / (b as f64 * c as f64) };
    let n = r1 + r2;
    // ln pmf(x) = ln r1! + ln r2! + ln c1! + ln c2! − ln n! − Σ ln(cell!), cells of the table with
    // top-left x. Summing the cell terms in sorted order makes mirror-image tables bit-identical.
    let ln_fact = |v: u128| ln_gamma(v as f64 + 1.0);
    let ln_const = ln_fact(r1) + ln_fact(r2) + ln_fact(c1) + ln_fact(c2) - ln_fact(n);
    let ln_pmf = |x: u128| {
        let mut cells = [x, r1 - x, c1 - x, r2 + x - c1];
        cells.sort_unstable();
        ln_const - cells.iter().map(|&v| ln_fact(v)).sum::<f64>()
    };
    let lo = c1.saturating_sub(r2);
    let hi = r1.min(c1);
    let p_obs = ln_pmf(a).exp();
    let p_mode = (lo..=hi).map(|x| ln_pmf(x).exp()).fold(0.0, f64::max);
    if (p_obs - p_mode).abs() / p_obs.max(p_mode) <= 1e-14 {
        return (odds_ratio, 1.0);
    }
    let threshold = p_obs * (1.0 + 1e-14);
    let p: f64 = (lo..=hi).map(|x| ln_pmf(x).exp()).filter(|&v| v <= threshold).sum();
    (odds_ratio, p.min(1.0))
}

/// Chi-square test of independence.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ChiSquare {
    /// Pearson's statistic Σ(O−E)²/E (after Yates' correction when it applied).
    #[serde(deserialize_with = "crate::json::f64")]
    pub statistic: f64,
    /// Upper-tail p-value of the statistic under χ²(dof).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// Degrees of freedom (r−1)(c−1).
    pub dof: usize,
    /// Expected counts row_sum·col_sum/total, same shape as the table.
    #[serde(deserialize_with = "crate::json::matrix")]
    pub expected: Vec<Vec<f64>>,
}

/// Pearson chi-square on an r x c table of counts, with Yates' correction when `correction` and
/// dof = 1 (scipy chi2_contingency semantics). None when a row or column sums to 0.
///
/// Yates moves each cell towards its expected count by min(0.5, |O−E|). Also `None` for an empty
/// or ragged table, or one with a negative or non-finite entry. dof = 0 (a single row or column)
/// gives statistic 0 and p = 1, as scipy.
pub fn chi_square(table: &[Vec<f64>], correction: bool) -> Option<ChiSquare> {
    let r = table.len();
    let c = table.first()?.len();
    if c == 0 || table.iter().any(|row| row.len() != c || row.iter().any(|v| !v.is_finite() || *v < 0.0)) {
        return None;
    }
    let row_sums: Vec<f64> = table.iter().map(|row| row.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..c).map(|j| table.iter().map(|row| row[j]).sum()).collect();
    if row_sums.iter().chain(&col_sums).any(|&s| s <= 0.0) {
        return None;
    }
    let total: f64 = table.iter().flatten().sum();
    let expected: Vec<Vec<f64>> =
        row_sums.iter().map(|&rs| col_sums.iter().map(|&cs| rs * cs / total).collect()).collect();
    let dof = (r - 1) * (c - 1);
    if dof == 0 {
        return Some(ChiSquare { statistic: 0.0, p: 1.0, dof, expected });
    }
    let yates = correction && dof == 1;
    let mut statistic = 0.0;
    for (row, exp_row) in table.iter().zip(&expected) {
        for (&o, &e) in row.iter().zip(exp_row) {
            let o = if yates {
                let diff = e - o;
                o + diff.abs().min(0.5) * sign(diff)
            } else {
                o
            };
            statistic += (o - e) * (o - e) / e;
        }
    }
    let p = chi2_sf(statistic, dof as f64);
    Some(ChiSquare { statistic, p, dof, expected })
}

/// numpy's sign: −1, 0 or 1.
fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Upper tail of χ²(dof) at x: Q(dof/2, x/2).
fn chi2_sf(x: f64, dof: f64) -> f64 {
    if x.is_nan() || dof.is_nan() {
        f64::NAN
    } else if x <= 0.0 {
        1.0
    } else if x == f64::INFINITY {
        0.0
    } else {
        checked_gamma_ur(dof / 2.0, x / 2.0).unwrap_or(f64::NAN)
    }
}

/// Spearman rank correlation and two-sided p (t approximation). NaN when n < 3 or a sample is
/// constant.
///
/// rho is the Pearson correlation of the average ranks; t = rho·sqrt((n−2)/((1+rho)(1−rho))) with
/// n−2 dof, p = 2·P(T ≥ |t|); rho = ±1 gives p = 0 (scipy `spearmanr`). Also `(NaN, NaN)` when
/// the lengths differ or a value is NaN.
pub fn spearman(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len();
    if n != y.len() || n < 3 || x.iter().chain(y).any(|v| v.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    let (rx, _) = average_ranks(x);
    let (ry, _) = average_ranks(y);
    let rho = pearson(&rx, &ry);
    if rho.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    let rho = rho.clamp(-1.0, 1.0);
    if rho.abs() == 1.0 {
        return (rho, 0.0);
    }
    let df = (n - 2) as f64;
    let t = rho * (df / ((1.0 + rho) * (1.0 - rho))).sqrt();
    // 2·t.sf(|t|) = I_{df/(df+t²)}(df/2, 1/2).
    let p = beta_reg(df / 2.0, 0.5, df / (df + t * t));
    (rho, p.clamp(0.0, 1.0))
}

/// Pearson correlation (NaN when either sample is constant).
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    // sqrt of the product (not the product of square roots): identical rankings give exactly ±1.
    sxy / (sxx * syy).sqrt()
}

/// Mean cosine of `w` with each vector of `set` (NaN when `set` is empty).
fn mean_cosine(w: &[f32], set: &[&[f32]]) -> f64 {
    set.iter().map(|v| crate::vectors::cosine(w, v)).sum::<f64>() / set.len() as f64
}

/// WEAT/iEAT (Caliskan et al. 2017) on vectors (rows): association scores s(w,A,B) for each target.
///
/// s(w, A, B) = mean_a cos(w, a) − mean_b cos(w, b), computed in f64. A score is NaN when A or B
/// is empty, a vector is all zeros, or lengths differ.
pub fn weat_scores(targets: &[&[f32]], a: &[&[f32]], b: &[&[f32]]) -> Vec<f64> {
    targets.iter().map(|w| mean_cosine(w, a) - mean_cosine(w, b)).collect()
}

/// Result of a WEAT test.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Weat {
    /// (mean_X s − mean_Y s)/sd_{X∪Y} s, sd with ddof = 1.
    #[serde(deserialize_with = "crate::json::f64")]
    pub effect_size: f64,
    /// Σ_X s − Σ_Y s.
    #[serde(deserialize_with = "crate::json::f64")]
    pub statistic: f64,
    /// One-sided permutation p-value (large statistic = X more associated with A).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// Whether `p` comes from enumerating every partition.
    pub exact: bool,
    /// Partitions evaluated: C(|X|+|Y|, |X|) when exact, else the random draws.
    pub permutations: u64,
    /// Percentile bootstrap interval of the effect size; (NaN, NaN) without bootstrap.
    pub ci: (f64, f64),
    /// The bootstrap effect sizes, sorted (the percentile interval at any level).
    #[serde(deserialize_with = "crate::json::vec")]
    pub bootstrap: Vec<f64>,
}

impl Weat {
    /// The percentile bootstrap interval at level 1 − alpha; NaN without bootstrap.
    pub fn interval(&self, alpha: f64) -> [f64; 2] {
        percentile_interval(&self.bootstrap, alpha)
    }
}

/// Percentile interval of sorted bootstrap replicates at level 1 − alpha (NaN when empty).
pub fn percentile_interval(sorted: &[f64], alpha: f64) -> [f64; 2] {
    if sorted.is_empty() || !(alpha > 0.0 && alpha < 1.0) {
        return [f64::NAN; 2];
    }
    [quantile_sorted(sorted, alpha / 2.0), quantile_sorted(sorted, 1.0 - alpha / 2.0)]
}

/// WEAT effect size: difference of means over the ddof=1 sd of the pooled scores.
pub fn weat_effect(sx: &[f64], sy: &[f64]) -> f64 {
    let mx = sx.iter().sum::<f64>() / sx.len() as f64;
    let my = sy.iter().sum::<f64>() / sy.len() as f64;
    let pooled: Vec<f64> = sx.iter().chain(sy).copied().collect();
    let (_, var) = mean_var(&pooled);
    (mx - my) / var.sqrt()
}

/// C(n, k) exactly, or `None` on u128 overflow.
fn choose_u128(n: u64, k: u64) -> Option<u128> {
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 1..=u128::from(k) {
        // c·(n−k+i) is divisible by i, since the running value is C(n−k+i, i).
        c = c.checked_mul(u128::from(n - k) + i)? / i;
    }
    Some(c)
}

/// Linear-interpolation quantile (numpy's default) of sorted, non-empty data.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    match v.get(lo + 1) {
        Some(&next) => v[lo] + (h - lo as f64) * (next - v[lo]),
        None => v[lo],
    }
}

/// WEAT from the association scores of X and Y: effect size (ddof=1 over X∪Y), test statistic
/// Σ_X s − Σ_Y s, one-sided permutation p = (#partitions with statistic >= observed − 1e-10,
/// observed included) / #partitions — exact enumeration of all C(|X|+|Y|, |X|) partitions when
/// that count <= `permutations`, otherwise `permutations` random partitions drawn with `rng` plus
/// the observed one, p = (n_ge + 1)/(permutations + 1); and a percentile bootstrap CI (level
/// 1−alpha) of the effect size, resampling X and Y separately with replacement `bootstrap` times
/// (ci = (NaN, NaN) when bootstrap = 0).
///
/// Details: `rng` is used first for the random partitions, then for the bootstrap; the exact
/// enumeration draws nothing. Bootstrap replicates whose effect size is NaN (all resampled scores
/// equal) are dropped; the percentiles interpolate linearly (numpy's default); the CI is (NaN,
/// NaN) when no replicate is finite or alpha is not in (0, 1). When X or Y is empty, or a score
/// is not finite, every field is NaN except `statistic` (still computed) and `permutations` = 0.
/// `permutations` = 0 with a non-trivial partition count gives p = NaN (no test was run).
pub fn weat(sx: &[f64], sy: &[f64], permutations: u64, bootstrap: u64, alpha: f64, rng: &mut Rng) -> Weat {
    let statistic = sx.iter().sum::<f64>() - sy.iter().sum::<f64>();
    let nan = Weat {
        effect_size: f64::NAN,
        statistic,
        p: f64::NAN,
        exact: false,
        permutations: 0,
        ci: (f64::NAN, f64::NAN),
        bootstrap: Vec::new(),
    };
    if sx.is_empty() || sy.is_empty() || sx.iter().chain(sy).any(|v| !v.is_finite()) {
        return nan;
    }
    let effect_size = weat_effect(sx, sy);
    let all: Vec<f64> = sx.iter().chain(sy).copied().collect();
    let (p, exact, evaluated) = partition_p(&all, sx.len(), statistic, permutations, rng);
    let boot = bootstrap_effects(sx, sy, bootstrap, rng);
    let [lo, hi] = percentile_interval(&boot, alpha);
    Weat { effect_size, statistic, p, exact, permutations: evaluated, ci: (lo, hi), bootstrap: boot }
}

/// One-sided permutation p of Σ_X − Σ_Y ≥ `statistic` over the partitions of `all` into its
/// first `nx` values and the rest (see [`weat`]): (p, exact, partitions evaluated).
fn partition_p(all: &[f64], nx: usize, statistic: f64, permutations: u64, rng: &mut Rng) -> (f64, bool, u64) {
    let n = all.len();
    let threshold = statistic - 1e-10;
    let partitions = choose_u128(n as u64, nx as u64);
    match partitions {
        Some(total) if total <= u128::from(permutations) => {
            let n_ge = enumerate_partitions(all, nx, threshold);
            (n_ge as f64 / total as f64, true, total as u64)
        }
        _ if permutations == 0 => (f64::NAN, false, 0),
        _ => {
            let mut idx: Vec<usize> = (0..n).collect();
            let mut n_ge: u64 = 0;
            // O(|X|) per partition: a partial shuffle draws X, and Y's sum is the rest.
            let total: f64 = all.iter().sum();
            for _ in 0..permutations {
                for i in 0..nx {
                    let j = i + rng.below(n - i);
                    idx.swap(i, j);
                }
                let sum_x: f64 = idx[..nx].iter().map(|&i| all[i]).sum();
                let sum_y = total - sum_x;
                if sum_x - sum_y >= threshold {
                    n_ge += 1;
                }
            }
            ((n_ge + 1) as f64 / (permutations as f64 + 1.0), false, permutations)
        }
    }
}

/// WEAT with clustered targets (images of one member pooled into a region, several photos of
/// one person): what resamples is the cluster, not the image.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteredWeat {
    /// The image-level WEAT effect size (as [`weat`]).
    pub effect_size: f64,
    /// Σ_X s − Σ_Y s.
    pub statistic: f64,
    /// One-sided permutation p over the partitions of the clusters (whole clusters change
    /// side), of the difference between the means of the two sides' cluster means. For
    /// single-image or equal-size clusters it orders partitions as Σ_X s − Σ_Y s does; with
    /// unequal sizes a sum would weight big clusters by their size, so the p of sums is not a
    /// permutation p at all (clusters are not exchangeable when the scores' mean is not 0).
    pub p: f64,
    /// Whether `p` enumerates every partition of the clusters.
    pub exact: bool,
    /// Partitions evaluated.
    pub permutations: u64,
    /// Clusters of X and of Y.
    pub clusters: (usize, usize),
    /// The cluster-level effect: (mean of X's cluster means − mean of Y's) / sd of all scores,
    /// with Welch's t standard error and degrees of freedom over the cluster means (Donner &
    /// Klar's cluster-level analysis); None when a side has fewer than two clusters.
    pub cluster_level: Option<TInterval>,
    /// Design effect 1 + (m0 − 1)·ICC of the scores within clusters.
    pub design_effect: f64,
}

/// The WEAT of X against Y when the scores come in clusters (`cx[i]` is the cluster of
/// `sx[i]`, `cy` of `sy`; a cluster id on both sides counts as two clusters). The effect size
/// is [`weat`]'s; the permutation p moves whole clusters between the sides, on the difference of
/// the sides' mean cluster means (exact over every partition of the clusters when there are at
/// most `permutations`, otherwise that many random ones with the +1 correction); the interval is cluster-level ([`ClusteredWeat::cluster_level`]),
/// since a bootstrap over a handful of clusters understates the spread.
pub fn weat_clustered(
    sx: &[f64],
    cx: &[usize],
    sy: &[f64],
    cy: &[usize],
    permutations: u64,
    rng: &mut Rng,
) -> ClusteredWeat {
    let statistic = sx.iter().sum::<f64>() - sy.iter().sum::<f64>();
    let side = |s: &[f64], c: &[usize]| -> Vec<Vec<f64>> {
        let mut m: std::collections::BTreeMap<usize, Vec<f64>> = std::collections::BTreeMap::new();
        for (v, k) in s.iter().zip(c) {
            m.entry(*k).or_default().push(*v);
        }
        m.into_values().collect()
    };
    let (gx, gy) = (side(sx, cx), side(sy, cy));
    let mut out = ClusteredWeat {
        effect_size: f64::NAN,
        statistic,
        p: f64::NAN,
        exact: false,
        permutations: 0,
        clusters: (gx.len(), gy.len()),
        cluster_level: None,
        design_effect: f64::NAN,
    };
    if sx.is_empty()
        || sy.is_empty()
        || sx.iter().chain(sy).any(|v| !v.is_finite())
        || cx.len() != sx.len()
        || cy.len() != sy.len()
    {
        return out;
    }
    out.effect_size = weat_effect(sx, sy);
    let means = |g: &[Vec<f64>]| -> Vec<f64> { g.iter().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect() };
    // With the sides' sizes fixed, Σ_X m − Σ_Y m over cluster means m is increasing in the
    // difference of the sides' mean cluster means: the same partitions count.
    let cluster_means: Vec<f64> = means(&gx).into_iter().chain(means(&gy)).collect();
    let observed = cluster_means[..gx.len()].iter().sum::<f64>() - cluster_means[gx.len()..].iter().sum::<f64>();
    (out.p, out.exact, out.permutations) = partition_p(&cluster_means, gx.len(), observed, permutations, rng);
    let all: Vec<f64> = sx.iter().chain(sy).copied().collect();
    let (_, sd) = mean_sd(&all);
    out.cluster_level = welch(&means(&gx), &means(&gy)).filter(|_| sd > 0.0).map(|t| TInterval {
        estimate: t.estimate / sd,
        se: t.se / sd,
        df: t.df,
    });
    let labels: Vec<usize> = (0..gx.len())
        .flat_map(|i| std::iter::repeat_n(i, gx[i].len()))
        .chain((0..gy.len()).flat_map(|i| std::iter::repeat_n(gx.len() + i, gy[i].len())))
        .collect();
    let ordered: Vec<f64> = gx.iter().chain(&gy).flatten().copied().collect();
    out.design_effect = design_effect(&ordered, &labels);
    out
}

/// Counts the partitions of `all` into the first-`nx`-sized subset Xi and the rest whose
/// statistic Σ_Xi − Σ_rest is >= `threshold`, enumerating combinations iteratively.
fn enumerate_partitions(all: &[f64], nx: usize, threshold: f64) -> u128 {
    let n = all.len();
    let mut comb: Vec<usize> = (0..nx).collect();
    let mut in_x = vec![false; n];
    let mut n_ge: u128 = 0;
    loop {
        in_x.iter_mut().for_each(|f| *f = false);
        for &i in &comb {
            in_x[i] = true;
        }
        let (mut sum_x, mut sum_y) = (0.0, 0.0);
        for (&v, &flag) in all.iter().zip(&in_x) {
            if flag {
                sum_x += v;
            } else {
                sum_y += v;
            }
        }
        if sum_x - sum_y >= threshold {
            n_ge += 1;
        }
        // Advance to the next combination in lexicographic order.
        let mut i = nx;
        loop {
            if i == 0 {
                return n_ge;
            }
            i -= 1;
            if comb[i] != i + n - nx {
                break;
            }
        }
        comb[i] += 1;
        for j in i + 1..nx {
            comb[j] = comb[j - 1] + 1;
        }
    }
}

/// The bootstrap replicates of the WEAT effect size, sorted (see [`weat`]): X and Y resampled
/// separately with replacement; replicates without spread are dropped.
fn bootstrap_effects(sx: &[f64], sy: &[f64], bootstrap: u64, rng: &mut Rng) -> Vec<f64> {
    let mut bx = vec![0.0; sx.len()];
    let mut by = vec![0.0; sy.len()];
    let mut effects = Vec::with_capacity(usize::try_from(bootstrap).unwrap_or(0).min(1 << 20));
    for _ in 0..bootstrap {
        for v in bx.iter_mut() {
            *v = sx[rng.below(sx.len())];
        }
        for v in by.iter_mut() {
            *v = sy[rng.below(sy.len())];
        }
        let e = weat_effect(&bx, &by);
        if !e.is_nan() {
            effects.push(e);
        }
    }
    effects.sort_by(f64::total_cmp);
    effects
}

/// Newcombe's hybrid score interval for p1 − p2 (method 10), from Wilson intervals, at 95%.
pub fn newcombe(k1: u64, n1: u64, k2: u64, n2: u64) -> [f64; 2] {
    newcombe_at(k1, n1, k2, n2, 0.05)
}

/// Newcombe's hybrid score interval for p1 − p2 (Newcombe 1998, method 10) at level 1 − alpha:
/// d − sqrt((p1 − l1)² + (u2 − p2)²), d + sqrt((u1 − p1)² + (p2 − l2)²) with (l, u) the Wilson
/// intervals of each proportion at the same level (statsmodels
/// `confint_proportions_2indep(method="newcomb")`). NaN when a sample size is 0.
pub fn newcombe_at(k1: u64, n1: u64, k2: u64, n2: u64, alpha: f64) -> [f64; 2] {
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let (l1, u1) = wilson(k1, n1, alpha);
    let (l2, u2) = wilson(k2, n2, alpha);
    let d = p1 - p2;
    [d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(), d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt()]
}

/// Student's t quantile (scipy `t.ppf(p, df)`); the normal quantile for infinite df, NaN for
/// df ≤ 0 or p outside [0, 1].
pub fn t_ppf(p: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if df.is_infinite() {
        return normal_ppf(p);
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) if (0.0..=1.0).contains(&p) => t.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// Student's t upper tail P(T ≥ t) (scipy `t.sf(t, df)`).
pub fn t_sf(t: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if df.is_infinite() {
        return normal_sf(t);
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) if !t.is_nan() => d.sf(t),
        _ => f64::NAN,
    }
}

/// A difference with a t-based standard error: `estimate ± t(df)·se`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TInterval {
    /// The estimate.
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
    /// Degrees of freedom.
    pub df: f64,
}

impl TInterval {
    /// The two-sided interval at level 1 − alpha.
    pub fn interval(&self, alpha: f64) -> [f64; 2] {
        let h = t_ppf(1.0 - alpha / 2.0, self.df) * self.se;
        [self.estimate - h, self.estimate + h]
    }

    /// One-sided p of H0: true value ≤ limit.
    pub fn p_above(&self, limit: f64) -> f64 {
        t_sf((self.estimate - limit) / self.se, self.df)
    }
}

/// Welch's two-sample comparison of means, mean(x) − mean(y), with the Welch-Satterthwaite
/// degrees of freedom (scipy `ttest_ind(x, y, equal_var=False)` and its
/// `confidence_interval()`). None when a sample has fewer than two values or both have no
/// spread.
pub fn welch(x: &[f64], y: &[f64]) -> Option<TInterval> {
    if x.len() < 2 || y.len() < 2 {
        return None;
    }
    let (mx, vx) = mean_var(x);
    let (my, vy) = mean_var(y);
    let (ax, ay) = (vx / x.len() as f64, vy / y.len() as f64);
    let se2 = ax + ay;
    if se2.is_nan() || se2 <= 0.0 {
        return None;
    }
    let df = se2 * se2 / (ax * ax / (x.len() - 1) as f64 + ay * ay / (y.len() - 1) as f64);
    Some(TInterval { estimate: mx - my, se: se2.sqrt(), df })
}

/// The mean of `values` with a cluster-robust standard error: the CR1 sandwich estimator
/// se² = G/(G − 1) · Σ_g (Σ_{i∈g} (v_i − v̄))² / n², with t(G − 1) quantiles (statsmodels
/// `OLS(v, 1).fit(cov_type="cluster", use_t=True)`). Clusters are labelled by `clusters[i]`.
/// None with fewer than two clusters.
pub fn clustered_mean(values: &[f64], clusters: &[usize]) -> Option<TInterval> {
    let n = values.len();
    if n == 0 || clusters.len() != n {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let mut totals: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
    for (v, c) in values.iter().zip(clusters) {
        *totals.entry(*c).or_insert(0.0) += v - mean;
    }
    let g = totals.len();
    if g < 2 {
        return None;
    }
    let g_f = g as f64;
    let meat: f64 = totals.values().map(|t| t * t).sum();
    let se = (g_f / (g_f - 1.0) * meat).sqrt() / n as f64;
    Some(TInterval { estimate: mean, se, df: g_f - 1.0 })
}

/// The intraclass correlation of `values` within clusters, one-way ANOVA estimator ICC(1):
/// (MSB − MSW) / (MSB + (m0 − 1)·MSW) with m0 = (N − Σ m_g²/N)/(G − 1) the adjusted mean
/// cluster size (Donner 1986; equal to pingouin's ICC1 for balanced clusters). Also returns m0,
/// so the design effect is 1 + (m0 − 1)·ICC. NaN with fewer than two clusters or no
/// within-cluster degrees of freedom.
pub fn icc_oneway(values: &[f64], clusters: &[usize]) -> (f64, f64) {
    let n = values.len();
    let mut groups: std::collections::BTreeMap<usize, Vec<f64>> = std::collections::BTreeMap::new();
    for (v, c) in values.iter().zip(clusters) {
        groups.entry(*c).or_default().push(*v);
    }
    let g = groups.len();
    if g < 2 || n <= g {
        return (f64::NAN, f64::NAN);
    }
    let grand = values.iter().sum::<f64>() / n as f64;
    let (mut ssb, mut ssw, mut sum_m2) = (0.0, 0.0, 0.0);
    for v in groups.values() {
        let m = v.len() as f64;
        let mean = v.iter().sum::<f64>() / m;
        ssb += m * (mean - grand).powi(2);
        ssw += v.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
        sum_m2 += m * m;
    }
    let (msb, msw) = (ssb / (g - 1) as f64, ssw / (n - g) as f64);
    let m0 = (n as f64 - sum_m2 / n as f64) / (g - 1) as f64;
    let denom = msb + (m0 - 1.0) * msw;
    let icc = if denom > 0.0 { (msb - msw) / denom } else { f64::NAN };
    (icc, m0)
}

/// The design effect 1 + (m0 − 1)·ICC of a clustered sample (Kish 1965), from
/// [`icc_oneway`]; 1 when every cluster is a single value, NaN when undefined.
pub fn design_effect(values: &[f64], clusters: &[usize]) -> f64 {
    let distinct: std::collections::BTreeSet<usize> = clusters.iter().copied().collect();
    if distinct.len() == values.len() {
        return 1.0;
    }
    let (icc, m0) = icc_oneway(values, clusters);
    1.0 + (m0 - 1.0) * icc
}

/// Standard normal upper tail P(Z ≥ z) (scipy `norm.sf`).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Standard normal quantile Φ⁻¹(p) (scipy `norm.ppf`); ±∞ at 0 and 1, NaN outside [0, 1].
pub fn normal_ppf(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// P(X ≥ k) for X ~ Binomial(n, p0): the p-value of the one-sided exact binomial test of
/// H0: rate ≤ p0 against rate > p0 (scipy `binomtest(k, n, p0, alternative="greater")`). It is
/// the test that the Clopper-Pearson lower bound inverts: the bound at level 1 − 2·a exceeds p0
/// exactly when this p is at most a. Computed as I_p0(k, n − k + 1). NaN when k > n or p0 is
/// not in [0, 1].
pub fn binomial_sf_ge(k: u64, n: u64, p0: f64) -> f64 {
    if k > n || !(0.0..=1.0).contains(&p0) {
        return f64::NAN;
    }
    binomial_sf_ge_effective(k as f64, n as f64, p0)
}

/// [`binomial_sf_ge`] on real-valued (effective) counts: I_p0(k, n − k + 1), the p of the test
/// that [`clopper_pearson_effective`]'s lower bound inverts.
pub fn binomial_sf_ge_effective(k: f64, n: f64, p0: f64) -> f64 {
    if k <= 0.0 || p0 >= 1.0 {
        return 1.0;
    }
    if p0 <= 0.0 {
        return 0.0;
    }
    beta_reg(k, n - k + 1.0, p0)
}

/// A risk ratio with its log-scale interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskRatio {
    /// (a/n1) / (c/n2), on the counts as given (`inf` when c = 0 < a, NaN when both are 0).
    pub ratio: f64,
    /// The ratio the interval is centred on: as `ratio`, or with 0.5 added when a count is 0.
    pub center: f64,
    /// Standard error of ln(center).
    pub se_log: f64,
    /// Whether 0.5 was added to the counts and sizes (a count was 0).
    pub adjusted: bool,
}

impl RiskRatio {
    /// The two-sided interval at level 1 − alpha: exp(ln center ± z·se).
    pub fn interval(&self, alpha: f64) -> [f64; 2] {
        let z = z_two_sided(alpha);
        let l = self.center.ln();
        [(l - z * self.se_log).exp(), (l + z * self.se_log).exp()]
    }

    /// One-sided p of H0: ratio ≤ limit (the Wald test the interval inverts).
    pub fn p_above(&self, limit: f64) -> f64 {
        normal_sf((self.center.ln() - limit.ln()) / self.se_log)
    }

    /// One-sided p of H0: ratio ≥ limit.
    pub fn p_below(&self, limit: f64) -> f64 {
        normal_sf((limit.ln() - self.center.ln()) / self.se_log)
    }
}

/// The risk ratio of a/n1 against c/n2 with Katz's log interval: se(ln RR) = sqrt(1/a − 1/n1 +
/// 1/c − 1/n2) (Katz et al. 1978; statsmodels `confint_proportions_2indep(compare="ratio",
/// method="log")`). When a or c is 0 the log interval does not exist; then 0.5 is added to both
/// counts and both sizes (statsmodels `method="log-adjusted"`, Gart & Nam 1988) and `adjusted`
/// says so. `None` when a size is 0 or a count exceeds its size.
pub fn risk_ratio(a: u64, n1: u64, c: u64, n2: u64) -> Option<RiskRatio> {
    if n1 == 0 || n2 == 0 || a > n1 || c > n2 {
        return None;
    }
    Some(risk_ratio_effective(a as f64, n1 as f64, c as f64, n2 as f64))
}

/// [`risk_ratio`] on real-valued (effective) counts, each side's counts divided by its design
/// effect; the caller checks the sizes are positive and the counts within them.
pub fn risk_ratio_effective(a: f64, n1: f64, c: f64, n2: f64) -> RiskRatio {
    let ratio = (a / n1) / (c / n2);
    let adjusted = a <= 0.0 || c <= 0.0;
    let h = if adjusted { 0.5 } else { 0.0 };
    let (a, n1, c, n2) = (a + h, n1 + h, c + h, n2 + h);
    let center = (a / n1) / (c / n2);
    let se_log = (1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n2).max(0.0).sqrt();
    RiskRatio { ratio, center, se_log, adjusted }
}

/// The score test of a risk ratio p1/p2 against a value `r` (Farrington & Manning 1990;
/// Miettinen & Nurminen 1985 with their n/(n − 1) variance correction): z = (p̂1 − r·p̂2) / se,
/// se² = p̃1(1 − p̃1)/n1 + r²·p̃2(1 − p̃2)/n2 at the maximum-likelihood proportions under
/// p1 = r·p2, times N/(N − 1). Large z: the ratio exceeds r. Counts may be real (effective
/// counts). statsmodels `score_test_proportions_2indep(compare="ratio")`; 0 where the difference and its
/// variance both vanish (both groups at 0, or both at 1 with r = 1).
pub fn ratio_score_z(a: f64, n1: f64, c: f64, n2: f64, r: f64) -> f64 {
    let n = n1 + n2;
    let (p1, p0) = ratio_null_proportions(a, n1, c, n2, r);
    let var = (p1 * (1.0 - p1) / n1 + r * r * p0 * (1.0 - p0) / n2) * n / (n - 1.0);
    let diff = a / n1 - r * c / n2;
    // Both groups at 0, or both at 1 with r = 1: the difference and its variance vanish
    // together, and the score's limit is 0 (nothing speaks against r).
    if diff == 0.0 && var == 0.0 {
        return 0.0;
    }
    diff / var.sqrt()
}

/// The maximum-likelihood proportions (p1, p2) of the two groups under the constraint
/// p1 = r·p2, given a of n1 and c of n2 (the root of Farrington & Manning's quadratic).
pub fn ratio_null_proportions(a: f64, n1: f64, c: f64, n2: f64, r: f64) -> (f64, f64) {
    let n = n1 + n2;
    if r == 1.0 {
        let p = (a + c) / n;
        return (p, p);
    }
    let qa = n * r;
    let qb = -(n1 * r + a + n2 + c * r);
    let qc = a + c;
    let p0 = (-qb - (qb * qb - 4.0 * qa * qc).max(0.0).sqrt()) / (2.0 * qa);
    (p0 * r, p0)
}

/// The maximum-likelihood proportions (p1, p2) of two groups under the constraint
/// p1 − p2 = `delta`, given observed proportions p̂1 of n1 and p̂2 of n2: the root of
/// Farrington & Manning's (1990) cubic in closed form (their trigonometric solution, as in
/// Miettinen & Nurminen 1985). Used for the null variance of a difference's score test.
pub fn difference_null_proportions(p1: f64, n1: f64, p2: f64, n2: f64, delta: f64) -> (f64, f64) {
    let theta = n2 / n1;
    let a = 1.0 + theta;
    let b = -(1.0 + theta + p1 + theta * p2 + delta * (theta + 2.0));
    let c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p2;
    let d = -p1 * delta * (1.0 + delta);
    let v = b.powi(3) / (27.0 * a.powi(3)) - b * c / (6.0 * a * a) + d / (2.0 * a);
    let u = v.signum() * (b * b / (9.0 * a * a) - c / (3.0 * a)).max(0.0).sqrt();
    let cos_arg = if u == 0.0 { 0.0 } else { (v / u.powi(3)).clamp(-1.0, 1.0) };
    let w = (std::f64::consts::PI + cos_arg.acos()) / 3.0;
    let q1 = (2.0 * u * w.cos() - b / (3.0 * a)).clamp(0.0, 1.0);
    (q1, (q1 - delta).clamp(0.0, 1.0))
}

/// The score interval of a risk ratio at level 1 − alpha: every r whose two-sided score test
/// ([`ratio_score_z`]) does not reject (statsmodels `confint_proportions_2indep(
/// compare="ratio", method="score")`, Miettinen & Nurminen). Unlike Katz's log interval it
/// needs no adjustment for zero counts (the bound is 0 or ∞ there) and keeps its level in small
/// groups. Found by bisection on ln r.
pub fn ratio_score_interval(a: f64, n1: f64, c: f64, n2: f64, alpha: f64) -> [f64; 2] {
    let z = z_two_sided(alpha);
    // z(r) falls as r grows. Lower bound: the r where z = +z; upper: where z = −z.
    let solve = |target: f64| -> f64 {
        let (mut lo, mut hi) = ((1e-10f64).ln(), (1e10f64).ln());
        let f = |lr: f64| ratio_score_z(a, n1, c, n2, lr.exp()) - target;
        if f(lo).is_nan() || f(hi).is_nan() {
            return f64::NAN;
        }
        if f(lo) < 0.0 {
            return 0.0;
        }
        if f(hi) > 0.0 {
            return f64::INFINITY;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (0.5 * (lo + hi)).exp()
    };
    [solve(z), solve(-z)]
}

/// Largest sample for which [`spearman_exact`] enumerates every permutation (10! ≈ 3.6 million).
pub const SPEARMAN_EXACT_MAX_N: usize = 10;

/// Null distributions of Σ r_x·r_y over all n! pairings, keyed by the two rank multisets
/// (doubled, sorted), as sorted (4·S, count) pairs. Without ties there is one per n; each tie
/// pattern adds one, so a block of units shares a handful.
type SpearmanNulls = std::collections::HashMap<(Vec<u32>, Vec<u32>), std::sync::Arc<Vec<(i64, u64)>>>;

fn spearman_null(x2: &[u32], y2: &[u32]) -> std::sync::Arc<Vec<(i64, u64)>> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<SpearmanNulls>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut xs = x2.to_vec();
    let mut ys = y2.to_vec();
    xs.sort_unstable();
    ys.sort_unstable();
    let key = (xs, ys);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    // Heap's algorithm over the pairings of y with the sorted x; the statistic (in units of
    // 1/4, since mid-ranks are multiples of 1/2) is updated in O(1) per swap.
    let (xs, mut ys) = (key.0.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(), key.1.clone());
    let n = ys.len();
    let mut s: i64 = xs.iter().zip(&ys).map(|(a, b)| a * i64::from(*b)).sum();
    let mut counts: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
    *counts.entry(s).or_insert(0) += 1;
    let mut c = vec![0usize; n];
    let mut i = 1;
    while i < n {
        if c[i] < i {
            let j = if i % 2 == 0 { 0 } else { c[i] };
            let (yi, yj) = (i64::from(ys[i]), i64::from(ys[j]));
            s += (xs[i] - xs[j]) * (yj - yi);
            ys.swap(i, j);
            *counts.entry(s).or_insert(0) += 1;
            c[i] += 1;
            i = 1;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    let mut dist: Vec<(i64, u64)> = counts.into_iter().collect();
    dist.sort_unstable();
    let dist = std::sync::Arc::new(dist);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, dist.clone());
    }
    dist
}

/// Spearman's rho with its exact permutation p-value, for 3 ≤ n ≤ [`SPEARMAN_EXACT_MAX_N`].
///
/// The null distribution is every one of the n! pairings of the two samples' mid-ranks (ties
/// kept as they are), the p-value twice the smaller tail with the observed value included,
/// clipped to 1: scipy `permutation_test((x,), spearmanr-statistic, permutation_type="pairings",
/// n_resamples=inf, alternative="two-sided")`, which scipy's `spearmanr` documentation
/// recommends for small samples because its t approximation is poor there (rho = 1 at n = 3
/// gives p = 0 by t; the exact p is 1/3). `None` when n is outside the range, the lengths differ,
/// a value is NaN or a sample is constant.
pub fn spearman_exact(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len();
    if n != y.len() || !(3..=SPEARMAN_EXACT_MAX_N).contains(&n) || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (rx, _) = average_ranks(x);
    let (ry, _) = average_ranks(y);
    let rho = pearson(&rx, &ry);
    if rho.is_nan() {
        return None;
    }
    // Mid-ranks are multiples of 1/2: work in doubled ranks, exactly.
    let x2: Vec<u32> = rx.iter().map(|r| (2.0 * r).round() as u32).collect();
    let y2: Vec<u32> = ry.iter().map(|r| (2.0 * r).round() as u32).collect();
    let observed: i64 = x2.iter().zip(&y2).map(|(a, b)| i64::from(*a) * i64::from(*b)).sum();
    let dist = spearman_null(&x2, &y2);
    let total: u64 = dist.iter().map(|d| d.1).sum();
    let le: u64 = dist.iter().filter(|d| d.0 <= observed).map(|d| d.1).sum();
    let ge: u64 = dist.iter().filter(|d| d.0 >= observed).map(|d| d.1).sum();
    let p = (2.0 * le.min(ge) as f64 / total as f64).min(1.0);
    Some((rho.clamp(-1.0, 1.0), p))
}

/// Spearman's rho and its two-sided p by the best available method: exact for n ≤ 10, the t
/// approximation beyond ([`spearman`]). The flag says whether the p is exact.
pub fn spearman_test(x: &[f64], y: &[f64]) -> (f64, f64, bool) {
    match spearman_exact(x, y) {
        Some((rho, p)) => (rho, p, true),
        None => {
            let (rho, p) = spearman(x, y);
            (rho, p, false)
        }
    }
}

/// The median, the mean of the two middle values for an even count (numpy `median`); NaN
/// values are left out, NaN when none is left.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_mw_float_recurrence_matches_integer_counts() {
        for &(n1, n2) in &[(1, 1), (3, 5), (7, 4), (12, 15), (20, 20)] {
            let counts = mw_null_counts(n1, n2).expect("small sizes fit in u128");
            let total: u128 = counts.iter().sum();
            let probs = mw_null_probs(n1, n2).expect("small table");
            assert_eq!(counts.len(), probs.len());
            for (c, p) in counts.iter().zip(&probs) {
                let want = *c as f64 / total as f64;
                assert!((want - p).abs() <= 1e-12 * want.max(1e-300) + 1e-300, "{n1}x{n2}: {want} vs {p}");
            }
        }
    }

    #[test]
    fn exact_mw_large_sizes_use_the_float_path() {
        assert!(mw_null_counts(70, 70).is_none());
        // U at the mean: p = 2·P(U >= mean) > 1, clipped.
        assert_eq!(mann_whitney_p_exact(70.0 * 70.0 / 2.0, 70, 70), 1.0);
        let p = mann_whitney_p_exact(0.0, 70, 70);
        assert!(p > 0.0 && p < 1e-30, "{p}");
        assert!(mann_whitney_p_exact(100.0, 300, 300).is_nan(), "too large for the exact table");
    }
}
