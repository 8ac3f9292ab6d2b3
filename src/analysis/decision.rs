//! The decision layer: how an estimate, its interval and a spec limit become a verdict.
//!
//! Every finding of every analysis comes out of [`decide`], so the rule a reviewer has to defend
//! is written once (see `../shared/docs/verdicts.md` and docs/analyses.md):
//!
//! - A [`Rule`] states the **estimand**, its **estimate**, a confidence **interval** method that
//!   can be evaluated at any level, the **limit** from the spec, the **direction** in which the
//!   effect is harmful, the **n** it rests on and the smallest n the rule will decide on.
//! - Its one-sided p-value tests H0: the effect lies on the allowed side of the limit. A rule
//!   whose interval inverts a named test gives that p (the exact binomial test for
//!   Clopper-Pearson, the Wald test on the log scale for Katz); otherwise the p is found by
//!   inverting the interval itself: the smallest one-sided level at which its bound reaches the
//!   limit. Either way "p ≤ α/2" and "the 1 − α interval excludes the limit" say the same thing.
//! - Rules are decided in a **family** (every group of one breakdown, every pair of groups at one
//!   tap, ...), corrected together: Benjamini-Hochberg or Holm over the family's p-values at the
//!   family's level α (the spec's `fdr`, default 0.05), each test one-sided at α/2 so that a
//!   family of one fails exactly when its 95% CI excludes the limit. A failing rule also gets
//!   the interval the correction implies: the FCR-adjusted interval of Benjamini & Yekutieli
//!   (2005) at level 1 − R·α/m for BH (R failures among m), Bonferroni's 1 − α/m for Holm.
//! - **Fail** when the corrected test rejects; **pass** when the 95% interval lies wholly on the
//!   allowed side; **inconclusive** otherwise, or when n is below the rule's minimum: the data
//!   cannot decide, and the decision says how large an effect this n could have detected
//!   (minimum detectable effect at 80% power, [`Mde`]).

use serde::Serialize;

use super::stats::{benjamini_hochberg, difference_null_proportions, normal_ppf, ratio_null_proportions};

/// Two-sided level of every reported interval (95%); a one-sided test at `ALPHA / 2` is the
/// same decision as the interval excluding the limit.
pub const ALPHA: f64 = 0.05;
/// Power at which the minimum detectable effect is stated.
pub const POWER: f64 = 0.8;

/// What the data say about one check.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval lies wholly on the allowed side of the limit.
    Pass,
    /// Too few observations, or the interval straddles the limit: the data cannot decide.
    Inconclusive,
    /// The (multiplicity-corrected) interval excludes the allowed level.
    Fail,
}

impl Verdict {
    /// The word reports use.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "fail",
        }
    }
}

/// On which side of the limit an effect is harmful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Harmful when the effect exceeds the limit (a rate, a ratio, a difference).
    Above,
    /// Harmful when the effect falls below the limit (an impact ratio under four-fifths).
    Below,
}

/// How a family's p-values are corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Benjamini-Hochberg (false discovery rate): for screening many checks.
    BenjaminiHochberg,
    /// Holm (family-wise error rate): where a single false alarm is costly.
    Holm,
}

impl Correction {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Correction::BenjaminiHochberg => "Benjamini-Hochberg",
            Correction::Holm => "Holm",
        }
    }
}

/// A multiplicity family: the checks corrected together.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Family {
    /// Its name (`denigration/fairface/rate`).
    pub name: String,
    /// The correction.
    pub correction: Correction,
    /// The family's error rate α (the spec's `fdr`); each test is one-sided at α/2.
    #[serde(deserialize_with = "crate::json::f64")]
    pub level: f64,
    /// Checks in the family that could be decided (n at least the minimum).
    pub size: usize,
}

impl Family {
    /// A family corrected with Benjamini-Hochberg at `level`.
    pub fn bh(name: impl Into<String>, level: f64) -> Self {
        Self { name: name.into(), correction: Correction::BenjaminiHochberg, level, size: 0 }
    }

    /// A family corrected with Holm at `level`.
    pub fn holm(name: impl Into<String>, level: f64) -> Self {
        Self { name: name.into(), correction: Correction::Holm, level, size: 0 }
    }
}

/// Everything a verdict rests on, as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// What is estimated (`risk ratio against the rest of the breakdown`).
    pub estimand: String,
    /// The estimate.
    #[serde(deserialize_with = "crate::json::f64")]
    pub estimate: f64,
    /// Its 95% interval.
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// How the interval is computed (`Katz log`, `Clopper-Pearson`).
    pub ci_method: String,
    /// For a failure in a family of more than one: the multiplicity-adjusted interval the
    /// verdict rests on (FCR-adjusted for BH, Bonferroni for Holm).
    #[serde(deserialize_with = "crate::json::opt_pair", default)]
    pub ci_adjusted: Option<[f64; 2]>,
    /// Level of `ci_adjusted` (e.g. 0.9875).
    pub ci_adjusted_level: Option<f64>,
    /// The allowed level from the spec.
    #[serde(deserialize_with = "crate::json::f64")]
    pub limit: f64,
    /// The harmful side of the limit.
    pub direction: Direction,
    /// The test of H0 "the effect is on the allowed side of the limit".
    pub test: String,
    /// Its one-sided p-value.
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// The p-value corrected within the family (compare with `family.level / 2`).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p_adjusted: f64,
    /// The multiplicity family.
    pub family: Family,
    /// Observations the estimate rests on.
    pub n: u64,
    /// Smallest n the rule decides on.
    pub min_n: u64,
    /// Minimum detectable effect: the smallest true effect this rule calls a failure with 80%
    /// power at this n (None where no effect could be detected, e.g. below the minimum n).
    pub mde: Option<f64>,
    /// Why this verdict, in words.
    pub reason: String,
}

impl Decision {
    /// The decision in one line, for reports that carry a finding as text (JUnit, SARIF):
    /// `fail: harmful rate 0.179 (95% CI 0.061 to 0.369, Clopper-Pearson) vs limit 0.050; n 28;
    /// family denigration/faces/rate (Benjamini-Hochberg, 2 checks): corrected p 0.012`.
    pub fn line(&self) -> String {
        use super::present::num;
        format!(
            "{}: {} {} (95% CI {} to {}, {}) vs limit {}; n {}; family {} ({}, {} check{}): corrected p {}",
            self.verdict.name(),
            self.estimand,
            num(self.estimate),
            num(self.ci[0]),
            num(self.ci[1]),
            self.ci_method,
            num(self.limit),
            self.n,
            self.family.name,
            self.family.correction.name(),
            self.family.size,
            if self.family.size == 1 { "" } else { "s" },
            num(self.p_adjusted)
        )
    }
}

/// An interval method that can be evaluated at any two-sided level 1 − alpha.
pub type Interval<'a> = Box<dyn Fn(f64) -> [f64; 2] + Send + Sync + 'a>;

/// A decision rule for one check, before its family is corrected.
pub struct Rule<'a> {
    /// What is estimated.
    pub estimand: String,
    /// The estimate.
    pub estimate: f64,
    /// The interval at level 1 − alpha.
    pub interval: Interval<'a>,
    /// Name of the interval method.
    pub ci_method: String,
    /// The allowed level.
    pub limit: f64,
    /// The harmful side.
    pub direction: Direction,
    /// The one-sided p of a named test that the interval inverts; None: found by inverting the
    /// interval.
    pub p: Option<f64>,
    /// Name of the test.
    pub test: String,
    /// Observations.
    pub n: u64,
    /// Smallest n decided on.
    pub min_n: u64,
    /// Minimum detectable effect at 80% power, when the rule knows how to compute it.
    pub mde: Option<f64>,
    /// Why the rule will not decide although n reaches its minimum (e.g. too few expected
    /// events for its test's approximation): the check is inconclusive with this reason.
    pub refuse: Option<String>,
}

impl Rule<'_> {
    /// Signed distance of the interval's harmful-side bound beyond the limit (> 0: excluded).
    fn margin(&self, alpha: f64) -> f64 {
        let ci = (self.interval)(alpha);
        match self.direction {
            Direction::Above => ci[0] - self.limit,
            Direction::Below => self.limit - ci[1],
        }
    }

    /// Signed distance of the allowed-side bound inside the limit (> 0: wholly allowed).
    fn inside(&self, alpha: f64) -> f64 {
        let ci = (self.interval)(alpha);
        match self.direction {
            Direction::Above => self.limit - ci[1],
            Direction::Below => ci[0] - self.limit,
        }
    }

    /// The one-sided p of H0 "on the allowed side", by inverting the interval: the α*/2 at
    /// which the harmful-side bound of the 1 − α* interval meets the limit.
    fn inverted_p(&self) -> f64 {
        const TINY: f64 = 1e-15;
        const NEAR_ONE: f64 = 1.0 - 1e-9;
        let f = |a: f64| self.margin(a);
        if f(TINY) > 0.0 {
            return TINY / 2.0;
        }
        if f(NEAR_ONE) > 0.0 {
            return bisect_level(f) / 2.0;
        }
        // The estimate is on the allowed side: p > 1/2, from the other bound.
        let g = |a: f64| self.inside(a);
        if g(NEAR_ONE) > 0.0 { 1.0 - bisect_level(g) / 2.0 } else { 0.5 }
    }
}

/// The two-sided level α in (0, 1) at which an increasing `f(α)` crosses 0, by bisection on
/// log α (f(tiny) ≤ 0 < f(near 1) assumed).
fn bisect_level(f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = ((1e-15f64).ln(), (1.0 - 1e-9f64).ln());
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if f(mid.exp()) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi.exp()
}

/// Holm's step-down adjusted p-values in input order (statsmodels `multipletests(method=
/// "holm")`); NaN stays NaN and is not counted.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut q = vec![f64::NAN; p.len()];
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let m = idx.len();
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        q[i] = running;
    }
    q
}

/// Decides a family of rules together. Rules below their minimum n, or without a finite
/// estimate and interval, are inconclusive and left out of the correction.
pub fn decide(rules: &[Rule<'_>], mut family: Family) -> Vec<Decision> {
    let ci95: Vec<[f64; 2]> = rules.iter().map(|r| (r.interval)(ALPHA)).collect();
    let eligible: Vec<bool> = rules
        .iter()
        .zip(&ci95)
        // An infinite estimate or bound (a risk ratio against a rest with no event) is still
        // decided; NaN anywhere is undefined.
        .map(|(r, ci)| {
            r.n >= r.min_n
                && r.n > 0
                && r.refuse.is_none()
                && !r.estimate.is_nan()
                && !ci[0].is_nan()
                && !ci[1].is_nan()
        })
        .collect();
    let p: Vec<f64> = rules
        .iter()
        .zip(&eligible)
        .map(|(r, &ok)| if ok { r.p.unwrap_or_else(|| r.inverted_p()) } else { f64::NAN })
        .collect();
    let adjusted = match family.correction {
        Correction::BenjaminiHochberg => benjamini_hochberg(&p),
        Correction::Holm => holm(&p),
    };
    family.size = eligible.iter().filter(|e| **e).count();
    let m = family.size.max(1) as f64;
    let one_sided = family.level / 2.0;
    let failures = adjusted.iter().filter(|q| **q <= one_sided).count();
    let adjusted_level = match family.correction {
        Correction::BenjaminiHochberg => failures.max(1) as f64 * family.level / m,
        Correction::Holm => family.level / m,
    };
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ci = ci95[i];
            let (verdict, reason) = verdict_of(r, eligible[i], adjusted[i], one_sided, family.size);
            let (ci_adjusted, ci_adjusted_level) = if verdict == Verdict::Fail && family.size > 1 {
                (Some((r.interval)(adjusted_level)), Some(1.0 - adjusted_level))
            } else {
                (None, None)
            };
            let reason = reason.unwrap_or_else(|| fail_reason(r, &family, adjusted[i]));
            Decision {
                verdict,
                estimand: r.estimand.clone(),
                estimate: r.estimate,
                ci,
                ci_method: r.ci_method.clone(),
                ci_adjusted,
                ci_adjusted_level,
                limit: r.limit,
                direction: r.direction,
                test: r.test.clone(),
                p: p[i],
                p_adjusted: adjusted[i],
                family: family.clone(),
                n: r.n,
                min_n: r.min_n,
                mde: r.mde,
                reason,
            }
        })
        .collect()
}

/// One rule's verdict, and why in words (None for a failure: [`fail_reason`] says it with the
/// family). `eligible` as [`decide`] found it; `q` its adjusted p; `one_sided` the level it is
/// compared with; `family_size` the number of eligible rules.
fn verdict_of(r: &Rule<'_>, eligible: bool, q: f64, one_sided: f64, family_size: usize) -> (Verdict, Option<String>) {
    if !eligible {
        let why = if r.n < r.min_n || r.n == 0 {
            format!("n = {} is below the minimum of {} this rule decides on", r.n, r.min_n)
        } else if let Some(why) = &r.refuse {
            why.clone()
        } else {
            "the estimate or its interval is undefined".to_owned()
        };
        (Verdict::Inconclusive, Some(why))
    } else if q <= one_sided {
        (Verdict::Fail, None)
    } else if r.inside(ALPHA) >= 0.0 {
        (Verdict::Pass, Some("the 95% interval lies wholly on the allowed side of the limit".to_owned()))
    } else if r.margin(ALPHA) > 0.0 {
        let why = format!(
            "the 95% interval excludes the limit, but not after correction for the {family_size} checks of its family (adjusted p = {q:.3} > {one_sided})"
        );
        (Verdict::Inconclusive, Some(why))
    } else {
        (Verdict::Inconclusive, Some("the 95% interval contains the limit".to_owned()))
    }
}

fn fail_reason(r: &Rule<'_>, family: &Family, q: f64) -> String {
    let side = match r.direction {
        Direction::Above => "above",
        Direction::Below => "below",
    };
    if family.size > 1 {
        let how = family.correction.name();
        format!(
            "the interval lies {side} the limit after {how} correction over the {} checks of its family (adjusted p = {q:.2e} ≤ {})",
            family.size,
            family.level / 2.0
        )
    } else {
        format!("the 95% interval lies {side} the limit (one-sided p = {q:.2e} ≤ {})", family.level / 2.0)
    }
}

/// Farrington & Manning's (1990) power of a one-sided score test of two proportions, as a
/// gap that is ≥ 0 where the power reaches [`POWER`]: `effect` − z_(1−a)·σ0 − z_power·σ1,
/// where `effect` is the test's numerator p1 − w·p2 (or its negation for a test of "smaller"),
/// σ1² = p1(1 − p1)/n1 + w²·p2(1 − p2)/n2 at the true proportions and σ0 the same at the
/// null's maximum-likelihood proportions `null`. This is statsmodels' `normal_power_het` with
/// those two variances; at the MDEs it gives, the exact power of the rules' tests is 0.78 to
/// 0.83 in the designs of `fixtures/stats/decision.json` (`mde_proportions`), where a Wald
/// variance at the alternative alone gave 0.65 to 0.76.
pub fn fm_power_gap(effect: f64, (p1, p2): (f64, f64), null: (f64, f64), (n1, n2): (f64, f64), w: f64, a: f64) -> f64 {
    let var = |(q1, q2): (f64, f64)| q1 * (1.0 - q1) / n1 + w * w * q2 * (1.0 - q2) / n2;
    effect - normal_ppf(1.0 - a) * var(null).sqrt() - normal_ppf(POWER) * var((p1, p2)).sqrt()
}

/// A rule that refuses to decide unless an expected count reaches `minimum` (the score tests'
/// normal approximation needs it) detects an effect only where the count clears it: ≥ 0 when
/// `expected` − z_power·√`expected` ≥ `minimum`, the count's Poisson spread at the power's
/// quantile. Conservative: at the MDEs this sets, the rules' exact power (their refusal
/// included) is 0.98 to 1.0 in the designs of `fixtures/stats/decision.json`, where requiring
/// the expected count alone gave 0.46 to 0.50.
pub fn clears(expected: f64, minimum: f64) -> f64 {
    expected - normal_ppf(POWER) * expected.max(0.0).sqrt() - minimum
}

/// The point between `lo` and `hi` where a monotone `gap` turns non-negative (the smallest such
/// x when `rising`, the largest when not), to 1e-12 relative; None when `gap` is negative at
/// the end where it is largest.
fn bisect(gap: impl Fn(f64) -> f64, lo: f64, hi: f64, rising: bool) -> Option<f64> {
    let (mut bad, mut good) = if rising { (lo, hi) } else { (hi, lo) };
    // NaN ends (an undefined design) and an empty range have no MDE.
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) || gap(good).is_nan() || gap(good) < 0.0 {
        return None;
    }
    for _ in 0..100 {
        let mid = 0.5 * (bad + good);
        if gap(mid) >= 0.0 {
            good = mid;
        } else {
            bad = mid;
        }
        if (good - bad).abs() <= 1e-12 * good.abs() {
            break;
        }
    }
    Some(good)
}

/// Minimum detectable effects: the smallest true effect that a rule, at this n and one-sided
/// level `a` (α/2 before correction), calls a failure with probability [`POWER`].
pub struct Mde;

impl Mde {
    /// Rate rule (exact one-sided binomial test of H0: rate ≤ limit at level a, n trials): the
    /// critical count is the smallest k with P(X ≥ k | limit) ≤ a; the MDE is the rate at which
    /// P(X ≥ k) = 0.8. None when even k = n would not reject.
    pub fn rate(n: u64, limit: f64, a: f64) -> Option<f64> {
        use super::stats::binomial_sf_ge;
        // P(X ≥ k) falls as k grows: the smallest rejecting k by bisection.
        if binomial_sf_ge(n, n, limit) > a {
            return None;
        }
        let (mut lo, mut k) = (0u64, n);
        while lo < k {
            let mid = lo + (k - lo) / 2;
            if binomial_sf_ge(mid, n, limit) <= a {
                k = mid;
            } else {
                lo = mid + 1;
            }
        }
        // P(X ≥ k) grows with the rate: the rate where it reaches the power.
        bisect(|rate| binomial_sf_ge(k, n, rate) - POWER, limit, 1.0, true)
    }

    /// Impact ratio (the four-fifths rule: harmless rates, a group of n1 against the best-off
    /// group of n2 whose harmless rate is `p2`, one-sided score test of H0: ratio ≥ limit at
    /// level a): the largest ratio R under the limit that the test detects with power 0.8 by
    /// [`fm_power_gap`], with p1 = R·p2 and the null proportions of
    /// [`super::stats::ratio_null_proportions`]; and where the rule decides only when the group
    /// would miss `min_misses` harmless labels at the limit, also where that count clears the
    /// minimum with power ([`clears`]). None when no ratio gets there.
    pub fn impact_ratio(n1: u64, n2: u64, p2: f64, limit: f64, a: f64, min_misses: f64) -> Option<f64> {
        if n1 == 0 || n2 == 0 || p2.is_nan() || p2 <= 0.0 || limit <= 0.0 {
            return None;
        }
        let (n1, n2) = (n1 as f64, n2 as f64);
        let gap = |r: f64| {
            let p1 = r * p2;
            let null = ratio_null_proportions(p1 * n1, n1, p2 * n2, n2, limit);
            let power = fm_power_gap(limit * p2 - p1, (p1, p2), null, (n1, n2), limit, a);
            power.min(clears(n1 * (1.0 - null.0), min_misses))
        };
        // The gap grows as R falls: the largest R under the limit with gap ≥ 0.
        bisect(gap, 1e-9, limit * (1.0 - 1e-12), false)
    }

    /// Risk ratio (one-sided score test of H0: RR ≤ limit at level a) of a group of n1 against
    /// a reference of n2 whose rate is `p2`: the smallest ratio R the test detects with power
    /// 0.8 by [`fm_power_gap`], p1 = R·p2; where the rule decides only when, at the limit, the
    /// group would expect `min_events.0` harmful labels and the reference `min_events.1`, also
    /// where both counts clear their minimum with power ([`clears`]). A zero reference rate is
    /// replaced by 0.5/n2. None when no ratio with p1 ≤ 1 gets there.
    pub fn risk_ratio(n1: u64, n2: u64, p2: f64, limit: f64, a: f64, min_events: (f64, f64)) -> Option<f64> {
        if n1 == 0 || n2 == 0 || p2.is_nan() || limit <= 0.0 {
            return None;
        }
        let p2 = if p2 > 0.0 { p2 } else { 0.5 / n2 as f64 };
        let (n1, n2) = (n1 as f64, n2 as f64);
        let gap = |r: f64| {
            let p1 = (r * p2).min(1.0);
            let null = ratio_null_proportions(p1 * n1, n1, p2 * n2, n2, limit);
            let power = fm_power_gap(p1 - limit * p2, (p1, p2), null, (n1, n2), limit, a);
            power.min(clears(n1 * null.0, min_events.0)).min(clears(n2 * null.1, min_events.1))
        };
        bisect(gap, limit * (1.0 + 1e-12), 1.0 / p2, true)
    }

    /// Difference of proportions p1 − p2 (one-sided test of H0: p1 − p2 ≤ limit at level a,
    /// which Newcombe's bound approximates) with n1 and n2 observations and the reference group
    /// at `p2`: the smallest δ detected with power 0.8 by [`fm_power_gap`], p1 = p2 + δ and the
    /// null proportions of [`super::stats::difference_null_proportions`]. None when no δ with
    /// p1 ≤ 1 gets there.
    pub fn difference(n1: u64, n2: u64, p2: f64, limit: f64, a: f64) -> Option<f64> {
        if n1 == 0 || n2 == 0 || p2.is_nan() || !(0.0..1.0).contains(&(p2 + limit)) {
            return None;
        }
        let (n1, n2) = (n1 as f64, n2 as f64);
        let gap = |d: f64| {
            let p1 = (p2 + d).min(1.0);
            let null = difference_null_proportions(p1, n1, p2, n2, limit);
            fm_power_gap(p1 - p2 - limit, (p1, p2), null, (n1, n2), 1.0, a)
        };
        bisect(gap, limit + 1e-12, 1.0 - p2, true)
    }

    /// An estimate tested by a t test with standard error `t.se` and `t.df` degrees of freedom
    /// (Welch, cluster-robust): limit + (t_{1−a} + t_power)·se, the usual approximation to the
    /// noncentral t. Used where the se carries what the sampling design costs (clusters); with
    /// few clusters the t quantiles matter (2.78 against 1.96 at 4 df).
    pub fn from_t(t: &super::stats::TInterval, limit: f64, a: f64) -> Option<f64> {
        use super::stats::t_ppf;
        (t.se.is_finite() && t.se > 0.0 && t.df > 0.0)
            .then(|| limit + (t_ppf(1.0 - a, t.df) + t_ppf(POWER, t.df)) * t.se)
    }

    /// A standardised mean difference (Cohen's d, WEAT effect size) of n1 against n2 at level
    /// a: limit + (z_a + z_power)·sqrt(1/n1 + 1/n2) (the large-sample se of d near 0).
    pub fn standardized(n1: u64, n2: u64, limit: f64, a: f64) -> Option<f64> {
        if n1 == 0 || n2 == 0 {
            return None;
        }
        let z = normal_ppf(1.0 - a) + normal_ppf(POWER);
        Some(limit + z * (1.0 / n1 as f64 + 1.0 / n2 as f64).sqrt())
    }
}

/// A screening check: many unit-level tests corrected together (Benjamini-Hochberg inside the
/// analysis), failing when any is confirmed. Its estimate is the fraction of `n` units
/// confirmed, with a Clopper-Pearson interval; `p_adjusted` is the smallest corrected p of the
/// confirmed tests. There is no limit to cross but zero, so it is only ever a failure (a
/// screen that confirms nothing files no check).
pub struct Screen {
    /// What is estimated.
    pub estimand: String,
    /// Units confirmed.
    pub confirmed: u64,
    /// Units screened.
    pub n: u64,
    /// The unit-level test and its correction, in words.
    pub test: String,
    /// Smallest corrected p among the confirmed tests.
    pub p_adjusted: f64,
    /// The family the unit-level tests were corrected in.
    pub family: Family,
}

impl Screen {
    /// The decision: fail when a unit is confirmed, else pass.
    pub fn decide(self) -> Decision {
        let (lo, hi) = super::stats::clopper_pearson(self.confirmed, self.n, ALPHA);
        let fail = self.confirmed > 0;
        Decision {
            verdict: if fail { Verdict::Fail } else { Verdict::Pass },
            estimand: self.estimand,
            estimate: self.confirmed as f64 / self.n.max(1) as f64,
            ci: [lo, hi],
            ci_method: "Clopper-Pearson".into(),
            ci_adjusted: None,
            ci_adjusted_level: None,
            limit: 0.0,
            direction: Direction::Above,
            test: self.test,
            p: self.p_adjusted,
            p_adjusted: self.p_adjusted,
            family: self.family,
            n: self.n,
            min_n: 1,
            mde: None,
            reason: if fail {
                format!("{} of {} units confirmed at the family's false discovery rate", self.confirmed, self.n)
            } else {
                "no unit confirmed".into()
            },
        }
    }
}
