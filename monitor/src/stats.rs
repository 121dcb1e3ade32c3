//! The statistics: population stability index, Kolmogorov-Smirnov distance against reference
//! quantiles, Pearson chi-square, and the chi-square survival function via the regularized
//! upper incomplete gamma function (series and continued fraction, as in Numerical Recipes).
//!
//! Every function here returns a finite number for any input (no NaN, no infinity, no panic)
//! unless its documentation says otherwise.

/// Smoothing: in PSI and chi-square every share (window and baseline) below this is raised to
/// it, so an empty bin gives a large but finite term (no renormalisation afterwards).
pub const EPSILON: f64 = 1e-4;

/// A share made safe: non-finite or negative becomes 0, then raised to [`EPSILON`].
fn smoothed(share: f64) -> f64 {
    let share = if share.is_finite() && share > 0.0 { share } else { 0.0 };
    share.max(EPSILON)
}

/// Population stability index `Σ (a − e)·ln(a / e)` over cells, `a` the window's share and
/// `e` the baseline's, both smoothed by [`EPSILON`]. Slices of different length are padded
/// with zero shares. Symmetric in its arguments, ≥ 0.
pub fn psi(actual: &[f64], expected: &[f64]) -> f64 {
    let cells = actual.len().max(expected.len());
    (0..cells)
        .map(|i| {
            let a = smoothed(actual.get(i).copied().unwrap_or(0.0));
            let e = smoothed(expected.get(i).copied().unwrap_or(0.0));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The reference CDF interpolated from `quantiles` (`m` ascending values at probabilities
/// `k/(m-1)`): 0 below the first, 1 at and above the last, linear between consecutive
/// distinct quantiles, and right-continuous with a jump where quantiles repeat. `left`: the
/// left limit `F(x−)` instead. Empty `quantiles` gives 0.
pub fn reference_cdf(quantiles: &[f64], x: f64, left: bool) -> f64 {
    let m = quantiles.len();
    let below = if left { quantiles.partition_point(|q| *q < x) } else { quantiles.partition_point(|q| *q <= x) };
    if below == 0 {
        return 0.0;
    }
    if below >= m {
        return 1.0;
    }
    // 0 < below < m, so m >= 2
    let k = below - 1;
    let (lo, hi) = (quantiles[k], quantiles[k + 1]);
    let frac = if hi > lo { ((x - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
    let f = (k as f64 + frac) / (m - 1) as f64;
    if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) }
}

/// Kolmogorov-Smirnov distance `sup_x |F_n(x) − F(x)|` between the empirical CDF of
/// `sorted` (ascending, no NaN) and [`reference_cdf`] of `quantiles`:
/// `max_i max(i/n − F(x_i), F(x_i−) − (i−1)/n)`. 0 when either is empty.
pub fn ks_distance(sorted: &[f64], quantiles: &[f64]) -> f64 {
    if sorted.is_empty() || quantiles.is_empty() {
        return 0.0;
    }
    let n = sorted.len() as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in sorted.iter().enumerate() {
        let above = (i + 1) as f64 / n - reference_cdf(quantiles, x, false);
        let below = reference_cdf(quantiles, x, true) - i as f64 / n;
        d = d.max(above).max(below);
    }
    d.clamp(0.0, 1.0)
}

/// Pearson chi-square of observed `counts` against `expected` shares (cell by cell, padded
/// with zeros): `Σ (O − E)² / E` with `E = n·max(e, EPSILON)`. Cells whose expected share is 0
/// (or not a number) *and* that observed nothing are left out; the others count towards the
/// degrees of freedom, `cells − 1`. Returns `(value, dof, p_value)`; with no observations
/// the value is 0 and the p-value 1, and with 0 degrees of freedom the p-value is 1.
pub fn chi_square(counts: &[usize], expected: &[f64]) -> (f64, usize, f64) {
    let n: usize = counts.iter().sum();
    let cells = counts.len().max(expected.len());
    let mut value = 0.0;
    let mut kept = 0usize;
    for i in 0..cells {
        let observed = counts.get(i).copied().unwrap_or(0);
        let e = expected.get(i).copied().unwrap_or(0.0);
        let e = if e.is_finite() && e > 0.0 { e } else { 0.0 };
        if e == 0.0 && observed == 0 {
            continue;
        }
        kept += 1;
        if n > 0 {
            let expected_count = n as f64 * smoothed(e);
            let diff = observed as f64 - expected_count;
            value += diff * diff / expected_count;
        }
    }
    let dof = kept.saturating_sub(1);
    let p_value = if n == 0 || dof == 0 { 1.0 } else { chi2_sf(value, dof) };
    (value, dof, p_value)
}

/// The chi-square survival function `P(X > x)` for `dof` degrees of freedom:
/// `Q(dof/2, x/2)`. 1 for `x ≤ 0` or NaN, 0 for `x = +∞`. With `dof = 0` (a point mass at
/// 0): 1 for `x ≤ 0`, else 0.
pub fn chi2_sf(x: f64, dof: usize) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    if dof == 0 || x.is_infinite() {
        return 0.0;
    }
    gamma_q(dof as f64 / 2.0, x / 2.0)
}

const GAMMA_EPS: f64 = 1e-15;
const FPMIN: f64 = 1e-300;
const ITMAX: usize = 10_000;

/// The regularized upper incomplete gamma function `Q(a, x) = Γ(a, x)/Γ(a)`, for `a > 0`:
/// the series for `P` when `x < a + 1`, else the continued fraction (modified Lentz).
/// 1 for `x ≤ 0` or NaN, 0 for `x = +∞`; NaN when `a` is not positive (or NaN).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || a.is_infinite() {
        return f64::NAN;
    }
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let q = if x < a + 1.0 { 1.0 - gamma_p_series(a, x) } else { gamma_q_fraction(a, x) };
    q.clamp(0.0, 1.0)
}

/// `exp(−x + a·ln x − lnΓ(a))`, the common prefactor.
fn prefactor(a: f64, x: f64) -> f64 {
    (-x + a * x.ln() - ln_gamma(a)).exp()
}

fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut term = 1.0 / a;
    let mut sum = term;
    for _ in 0..ITMAX {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * GAMMA_EPS {
            break;
        }
    }
    sum * prefactor(a, x)
}

fn gamma_q_fraction(a: f64, x: f64) -> f64 {
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / FPMIN;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=ITMAX {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        c = b + an / c;
        if c.abs() < FPMIN {
            c = FPMIN;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < GAMMA_EPS {
            break;
        }
    }
    prefactor(a, x) * h
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 coefficients; relative error ~1e-15), with the
/// reflection formula below 0.5. NaN for `x ≤ 0`.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x < 0.5 {
        // Γ(x)Γ(1−x) = π / sin(πx)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ln_gamma_known_values() {
        // Γ(1) = Γ(2) = 1, Γ(5) = 24, Γ(0.5) = √π, Γ(10) = 362880
        assert!(close(ln_gamma(1.0), 0.0, 1e-14));
        assert!(close(ln_gamma(2.0), 0.0, 1e-14));
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-13));
        assert!(close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13));
        assert!(close(ln_gamma(10.0), 362_880f64.ln(), 1e-12));
        assert!(close(ln_gamma(0.1), 9.513_507_698_668_732f64.ln(), 1e-12));
        assert!(ln_gamma(0.0).is_nan());
    }

    #[test]
    fn chi2_survival_known_values() {
        // scipy.stats.chi2.sf(3.84, 1) = 0.05004352124870519
        assert!(close(chi2_sf(3.84, 1), 0.050_043_521_248_705_19, 1e-10));
        // chi2.sf(3.841458820694124, 1) = 0.05 (the 95% critical value)
        assert!(close(chi2_sf(3.841_458_820_694_124, 1), 0.05, 1e-10));
        // chi2.sf(10, 5) = 0.07523524614651217 (continued-fraction branch: x/2 = 5 > a + 1)
        assert!(close(chi2_sf(10.0, 5), 0.075_235_246_146_512_17, 1e-10));
        // 2 dof: sf(x) = exp(-x/2) exactly; series branch (x/2 = 0.5 < 2) and fraction branch
        assert!(close(chi2_sf(1.0, 2), (-0.5f64).exp(), 1e-13));
        assert!(close(chi2_sf(30.0, 2), (-15.0f64).exp(), 1e-15));
        // 4 dof: sf(x) = exp(-x/2)(1 + x/2)
        assert!(close(chi2_sf(3.0, 4), (-1.5f64).exp() * 2.5, 1e-13));
        // Q(0.5, x) = erfc(√x); erfc(1) = 0.15729920705028513 -> chi2.sf(2, 1)
        assert!(close(chi2_sf(2.0, 1), 0.157_299_207_050_285_13, 1e-12));
        // many dof, large x: chi2.sf(100, 64) = 0.002770... (mean 64, sd ~11.3); bounded check
        let p = chi2_sf(100.0, 64);
        assert!(p > 0.001 && p < 0.01, "{p}");
        for k in 1..70 {
            assert_eq!(chi2_sf(0.0, k), 1.0);
            assert_eq!(chi2_sf(-1.0, k), 1.0);
            assert_eq!(chi2_sf(f64::INFINITY, k), 0.0);
            assert_eq!(chi2_sf(f64::NAN, k), 1.0);
            let mut last = 1.0;
            for x in [0.5, 1.0, 5.0, 20.0, 80.0, 400.0] {
                let p = chi2_sf(x, k);
                assert!((0.0..=last).contains(&p), "sf({x}, {k}) = {p}");
                last = p;
            }
        }
        assert_eq!(chi2_sf(0.0, 0), 1.0);
        assert_eq!(chi2_sf(1.0, 0), 0.0);
        assert!(gamma_q(0.0, 1.0).is_nan());
    }

    #[test]
    fn psi_two_bins_by_hand() {
        // window 80% / 20% against baseline 50% / 50%:
        // (0.8-0.5)·ln(0.8/0.5) + (0.2-0.5)·ln(0.2/0.5) = 0.3·ln 1.6 + 0.3·ln 2.5 = 0.3·ln 4
        // = 0.41588830833596715
        let value = psi(&[0.8, 0.2], &[0.5, 0.5]);
        assert!(close(value, 0.3 * 4f64.ln(), 1e-14));
        assert!(close(value, 0.415_888_308_335_967_2, 1e-12));
        assert_eq!(psi(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        assert_eq!(psi(&[0.8, 0.2], &[0.5, 0.5]), psi(&[0.5, 0.5], &[0.8, 0.2]));
        // an empty window bin is smoothed to 1e-4: (1e-4 - 0.5)·ln(1e-4/0.5) + (1 - 0.5)·ln(2)
        let smoothed = psi(&[0.0, 1.0], &[0.5, 0.5]);
        let by_hand = (1e-4 - 0.5) * (1e-4f64 / 0.5).ln() + 0.5 * 2f64.ln();
        assert!(close(smoothed, by_hand, 1e-12), "{smoothed} vs {by_hand}");
        assert!(smoothed.is_finite());
        // cells both empty contribute nothing; NaN shares are treated as 0
        assert_eq!(psi(&[0.5, 0.5, 0.0], &[0.5, 0.5, 0.0]), 0.0);
        assert!(psi(&[f64::NAN, 1.0], &[0.5, 0.5]).is_finite());
    }

    #[test]
    fn ks_by_hand() {
        // reference uniform on [0, 1]: quantile k = k/100, so F(x) = x on [0, 1]
        let uniform: Vec<f64> = (0..=100).map(|k| k as f64 / 100.0).collect();
        assert!(close(reference_cdf(&uniform, 0.37, false), 0.37, 1e-12));
        assert_eq!(reference_cdf(&uniform, -1.0, false), 0.0);
        assert_eq!(reference_cdf(&uniform, 1.0, false), 1.0);
        // sample {0.1, 0.2, 0.9}: i/n − F(x_i) = 1/3−0.1, 2/3−0.2, 1−0.9 = 0.233, 0.467, 0.1;
        // F(x_i) − (i−1)/n = 0.1, 0.2−1/3, 0.9−2/3 = 0.1, −0.133, 0.233; D = 2/3 − 0.2
        let d = ks_distance(&[0.1, 0.2, 0.9], &uniform);
        assert!(close(d, 2.0 / 3.0 - 0.2, 1e-12), "{d}");
        // sample {2}: entirely above the reference: D = 1
        assert_eq!(ks_distance(&[2.0], &uniform), 1.0);
        // a reference with repeated quantiles (a point mass at 0 for 50%):
        // q_0..q_50 = 0, then uniform to 1; F(0) = 0.5, F(0−) = 0.
        let mass: Vec<f64> = (0..=100).map(|k| if k <= 50 { 0.0 } else { (k - 50) as f64 / 50.0 }).collect();
        assert_eq!(reference_cdf(&mass, 0.0, false), 0.5);
        assert_eq!(reference_cdf(&mass, 0.0, true), 0.0);
        assert!(close(reference_cdf(&mass, 0.5, false), 0.75, 1e-12));
        // sample {0, 0.5}: 1/2 − F(0) = 0, F(0−) − 0 = 0, 1 − F(0.5) = 0.25, F(0.5) − 1/2 = 0.25
        assert!(close(ks_distance(&[0.0, 0.5], &mass), 0.25, 1e-12));
        assert_eq!(ks_distance(&[], &uniform), 0.0);
        assert_eq!(ks_distance(&[1.0], &[]), 0.0);
        // single quantile: a step at 3
        assert_eq!(ks_distance(&[3.0], &[3.0]), 0.0);
    }

    #[test]
    fn chi_square_by_hand() {
        // shares a 0.5, b 0.3, other 0.2, missing 0; counts 40, 40, 20, 0 (n = 100):
        // expected 50, 30, 20; the missing cell (share 0, count 0) is dropped, dof = 3 − 1 = 2.
        // value = 10²/50 + 10²/30 + 0 = 2 + 3.333… = 16/3;
        // p = chi2.sf(16/3, 2) = exp(−8/3) = 0.06948345122280154
        let (value, dof, p) = chi_square(&[40, 40, 20, 0], &[0.5, 0.3, 0.2, 0.0]);
        assert!(close(value, 16.0 / 3.0, 1e-12), "{value}");
        assert_eq!(dof, 2);
        assert!(close(p, 0.069_483_451_222_801_54, 1e-12), "{p}");
        // a count in a zero-share cell: kept, expected smoothed to 1e-4·n = 0.01
        // value = (50-50)²/50 + (49-50)²/50 + (1-0.01)²/0.01 = 0.02 + 98.01 = 98.03, dof 2
        let (value, dof, p) = chi_square(&[50, 49, 1], &[0.5, 0.5, 0.0]);
        assert!(close(value, 0.02 + 0.99 * 0.99 / 0.01, 1e-9), "{value}");
        assert_eq!(dof, 2);
        assert!(p < 1e-20);
        // nothing observed: 0, p = 1; dof from the baseline's non-empty cells
        assert_eq!(chi_square(&[0, 0, 0], &[0.5, 0.5, 0.0]), (0.0, 1, 1.0));
        assert_eq!(chi_square(&[5], &[1.0]), (0.0, 0, 1.0));
    }
}
