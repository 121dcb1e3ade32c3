//! Reference distributions, computed at build time from a reference data file's values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::BaselineError;

/// Categories kept by name in a categorical baseline; the rest are pooled into `other`.
pub const MAX_CATEGORIES: usize = 64;

/// Reference quantiles kept for the KS statistic: 0%, 1%, ..., 100%.
pub const QUANTILES: usize = 101;

/// A feature's reference distribution.
///
/// Shares (`proportions`, `missing`, `other`) are fractions of *all* reference values,
/// missing ones included, so they sum to 1. Every number a constructor stores (shares, edges,
/// quantiles) is rounded to 15 significant digits so that it survives the JSON trip into the
/// generated server exactly (see `json_exact`); the reference values are binned against the
/// rounded edges, so shares and edges agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Baseline {
    /// `edges`: the interior bin edges, the reference deciles (10%, ..., 90%, numpy's
    /// "linear" method over the non-missing values), deduplicated, so 1 to 10 bins. A value
    /// `v` falls in bin [`bin_index`]`(edges, v)` = `edges.partition_point(|e| *e < v)`: bin
    /// `i` is `(edges[i-1], edges[i]]` (first bin `(-inf, edges[0]]`, last bin
    /// `(edges[last], +inf)`). `proportions[i]`: share of the values in bin `i`; `missing`:
    /// share of NaN values. `quantiles`: the 101 reference quantiles (0%, 1%, ..., 100%,
    /// numpy "linear") of the non-missing values, for the KS statistic.
    Numeric { edges: Vec<f64>, proportions: Vec<f64>, missing: f64, quantiles: Vec<f64> },
    /// Categories seen in the reference, most frequent first (ties by name, byte order), at
    /// most [`MAX_CATEGORIES`]; their shares; `other`: the pooled share of the categories
    /// beyond that; `missing`: the share of missing values.
    Categorical { categories: Vec<String>, proportions: Vec<f64>, other: f64, missing: f64 },
}

impl Baseline {
    /// The baseline of numeric reference values; NaN is missing. Errors when there are no
    /// values, when all are missing, or when one is infinite (it would have no place in a
    /// decile and does not survive the JSON the spec travels in).
    pub fn numeric(values: &[f64]) -> Result<Baseline, BaselineError> {
        if let Some(index) = values.iter().position(|v| v.is_infinite()) {
            return Err(BaselineError::Infinite { index });
        }
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if present.is_empty() {
            return Err(if values.is_empty() { BaselineError::Empty } else { BaselineError::AllMissing });
        }
        present.sort_by(f64::total_cmp);
        let quantiles: Vec<f64> =
            (0..QUANTILES).map(|k| json_exact(quantile_linear(&present, k, QUANTILES - 1))).collect();
        let mut edges: Vec<f64> = (1..10).map(|d| json_exact(quantile_linear(&present, d, 10))).collect();
        edges.dedup();
        let mut counts = vec![0usize; edges.len() + 1];
        for &v in &present {
            counts[bin_index(&edges, v)] += 1;
        }
        let total = values.len() as f64;
        Ok(Baseline::Numeric {
            proportions: counts.iter().map(|&c| json_exact(c as f64 / total)).collect(),
            missing: json_exact((values.len() - present.len()) as f64 / total),
            edges,
            quantiles,
        })
    }

    /// The baseline of categorical reference values; `None` is missing. Errors when there are
    /// no values (all missing is accepted: no categories, `missing` = 1).
    pub fn categorical(values: &[Option<&str>]) -> Result<Baseline, BaselineError> {
        if values.is_empty() {
            return Err(BaselineError::Empty);
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut missing = 0usize;
        for value in values {
            match value {
                Some(name) => *counts.entry(name).or_insert(0) += 1,
                None => missing += 1,
            }
        }
        let mut sorted: Vec<(&str, usize)> = counts.into_iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let kept = sorted.len().min(MAX_CATEGORIES);
        let other: usize = sorted[kept..].iter().map(|(_, c)| c).sum();
        let total = values.len() as f64;
        Ok(Baseline::Categorical {
            categories: sorted[..kept].iter().map(|(name, _)| name.to_string()).collect(),
            proportions: sorted[..kept].iter().map(|(_, c)| json_exact(*c as f64 / total)).collect(),
            other: json_exact(other as f64 / total),
            missing: json_exact(missing as f64 / total),
        })
    }
}

/// `x` rounded to 15 significant digits, so that it survives the JSON trip from the compiler
/// to the server bit for bit: serde_json (without its `float_roundtrip` feature, which this
/// workspace does not enable) parses a number exactly only when its decimal significand fits
/// 2^53 and its decimal exponent is within ±22, which 15 digits guarantee for magnitudes of
/// about 1e-7 to 1e15. The change is at most 5e-16 relative. Non-finite values and 0 are
/// returned as they are.
pub(crate) fn json_exact(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// The bin of `value` among ascending interior `edges`: the number of edges strictly below
/// it, so bin `i` is `(edges[i-1], edges[i]]`. NaN (missing) is not binned by callers.
pub fn bin_index(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|e| *e < value)
}

/// The `num/den` quantile of ascending `sorted` values by numpy's default "linear" method:
/// position `h = (n-1)·num/den`, `sorted[⌊h⌋] + (h-⌊h⌋)·(sorted[⌊h⌋+1] - sorted[⌊h⌋])`
/// (numpy's lerp, which for fractions ≥ 0.5 interpolates from the upper value). The position
/// is computed exactly in integers, so a result may differ from numpy's (which computes
/// `(n-1)·q` in floating point) by an ulp. Empty `sorted` or `den` 0 gives NaN; `num > den`
/// is read as `den`.
pub fn quantile_linear(sorted: &[f64], num: usize, den: usize) -> f64 {
    let n = sorted.len();
    if n == 0 || den == 0 {
        return f64::NAN;
    }
    let num = num.min(den);
    let scaled = (n - 1) as u128 * num as u128;
    let lo = (scaled / den as u128) as usize;
    let rem = scaled % den as u128;
    if rem == 0 {
        return sorted[lo];
    }
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    let t = rem as f64 / den as f64;
    if a == b {
        return a;
    }
    let r = if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t };
    if r.is_finite() {
        r
    } else if t < 0.5 {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn quantile_linear_matches_numpy_on_small_examples() {
        // np.quantile([1,2,3,4], 0.25): h = 3*0.25 = 0.75 -> 1 + 0.75*(2-1) = 1.75
        assert_eq!(quantile_linear(&[1.0, 2.0, 3.0, 4.0], 1, 4), 1.75);
        // np.median([1,2,3,10]): h = 1.5 -> 2 + 0.5*(3-2) = 2.5
        assert_eq!(quantile_linear(&[1.0, 2.0, 3.0, 10.0], 1, 2), 2.5);
        // np.quantile([0,10], 0.3): h = 0.3 -> 3
        assert!(close(quantile_linear(&[0.0, 10.0], 3, 10), 3.0, 1e-12));
        assert_eq!(quantile_linear(&[5.0], 37, 100), 5.0);
        assert_eq!(quantile_linear(&[1.0, 2.0], 0, 100), 1.0);
        assert_eq!(quantile_linear(&[1.0, 2.0], 100, 100), 2.0);
        assert!(quantile_linear(&[], 1, 2).is_nan());
    }

    #[test]
    fn json_exact_rounds_to_15_digits() {
        assert_eq!(json_exact(0.1), 0.1);
        assert_eq!(json_exact(100.9), 100.9);
        assert_eq!(json_exact(1.0 / 3.0), 0.333_333_333_333_333);
        assert_eq!(json_exact(-2.0 / 3.0), -0.666_666_666_666_667);
        assert_eq!(json_exact(0.0), 0.0);
        assert!(json_exact(f64::NAN).is_nan());
    }

    #[test]
    fn numeric_baseline_of_1_to_1000() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        let Ok(Baseline::Numeric { edges, proportions, missing, quantiles }) = Baseline::numeric(&values) else {
            panic!("expected a numeric baseline");
        };
        // numpy linear: np.quantile(np.arange(1, 1001), d/10) = 1 + 999*d/10
        // = 100.9, 200.8, ..., 900.1.
        let expected = [100.9, 200.8, 300.7, 400.6, 500.5, 600.4, 700.3, 800.2, 900.1];
        assert_eq!(edges.len(), 9);
        for (e, x) in edges.iter().zip(expected) {
            assert!(close(*e, x, 1e-9), "edge {e} vs {x}");
        }
        // bins (-inf,100.9], (100.9,200.8], ... hold 1..=100, 101..=200, ...: 100 values each
        assert_eq!(proportions.len(), 10);
        for p in &proportions {
            assert!(close(*p, 0.1, 1e-12), "{proportions:?}");
        }
        assert_eq!(missing, 0.0);
        // quantile k% = 1 + 999*k/100 (numpy linear)
        assert_eq!(quantiles.len(), QUANTILES);
        for (k, q) in quantiles.iter().enumerate() {
            let numpy = 1.0 + 999.0 * k as f64 / 100.0;
            assert!(close(*q, numpy, 1e-9), "q{k} = {q} vs {numpy}");
        }
        assert_eq!(quantiles[0], 1.0);
        assert_eq!(quantiles[100], 1000.0);
        assert!(close(quantiles[1], 10.99, 1e-9));
        assert!(close(quantiles[50], 500.5, 1e-9));
    }

    #[test]
    fn numeric_baseline_missing_ties_and_errors() {
        // 4 values, 2 NaN: missing share 0.5, proportions sum to 0.5
        let Ok(Baseline::Numeric { proportions, missing, .. }) = Baseline::numeric(&[1.0, f64::NAN, 2.0, f64::NAN])
        else {
            panic!()
        };
        assert_eq!(missing, 0.5);
        assert!(close(proportions.iter().sum::<f64>(), 0.5, 1e-12));
        // a constant: all deciles are 5, deduplicated to one edge, two bins
        let Ok(Baseline::Numeric { edges, proportions, quantiles, .. }) = Baseline::numeric(&[5.0; 50]) else {
            panic!()
        };
        assert_eq!(edges, vec![5.0]);
        assert_eq!(proportions, vec![1.0, 0.0]);
        assert!(quantiles.iter().all(|q| *q == 5.0));
        assert_eq!(Baseline::numeric(&[]), Err(BaselineError::Empty));
        assert_eq!(Baseline::numeric(&[f64::NAN]), Err(BaselineError::AllMissing));
        assert_eq!(Baseline::numeric(&[1.0, f64::INFINITY]), Err(BaselineError::Infinite { index: 1 }));
        // value exactly on an edge goes to the lower bin
        assert_eq!(bin_index(&[1.0, 2.0], 1.0), 0);
        assert_eq!(bin_index(&[1.0, 2.0], 1.5), 1);
        assert_eq!(bin_index(&[1.0, 2.0], 2.5), 2);
        assert!(
            Baseline::numeric(&(0..100).map(f64::from).collect::<Vec<_>>())
                .map(|b| b.validate().is_ok())
                .unwrap_or(false)
        );
    }

    #[test]
    fn categorical_baseline_orders_and_pools() {
        // b, a twice each (tie -> by name: a, b), c once, one missing: 6 values
        let values = [Some("b"), Some("a"), Some("c"), Some("b"), None, Some("a")];
        let Ok(Baseline::Categorical { categories, proportions, other, missing }) = Baseline::categorical(&values)
        else {
            panic!()
        };
        assert_eq!(categories, vec!["a", "b", "c"]);
        for (p, x) in proportions.iter().zip([2.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0]) {
            assert!(close(*p, x, 1e-15), "{proportions:?}");
        }
        assert_eq!(other, 0.0);
        assert!(close(missing, 1.0 / 6.0, 1e-15));

        // 70 categories: c{i} appears 100 - i times (c00 100 times ... c69 31 times);
        // the 64 most frequent are c00..c63, c64..c69 (36+35+34+33+32+31 = 201) are pooled.
        let mut values = Vec::new();
        let names: Vec<String> = (0..70).map(|i| format!("c{i:02}")).collect();
        for (i, name) in names.iter().enumerate() {
            for _ in 0..(100 - i) {
                values.push(Some(name.as_str()));
            }
        }
        let total = values.len() as f64; // sum 31..=100 = 4585
        assert_eq!(total, 4585.0);
        let Ok(Baseline::Categorical { categories, proportions, other, missing }) = Baseline::categorical(&values)
        else {
            panic!()
        };
        assert_eq!(categories.len(), MAX_CATEGORIES);
        assert_eq!(categories, names[..64].to_vec());
        assert!(close(proportions[0], 100.0 / total, 1e-15));
        assert!(close(proportions[63], 37.0 / total, 1e-15));
        assert!(close(other, 201.0 / total, 1e-15));
        assert_eq!(missing, 0.0);

        let Ok(Baseline::Categorical { categories, missing, .. }) = Baseline::categorical(&[None, None]) else {
            panic!()
        };
        assert!(categories.is_empty());
        assert_eq!(missing, 1.0);
        assert_eq!(Baseline::categorical(&[]), Err(BaselineError::Empty));
    }
}
