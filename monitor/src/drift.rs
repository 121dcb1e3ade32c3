//! Run-time drift: one sliding window per monitored feature, compared with its baseline.

use std::collections::HashMap;

use serde::Serialize;

use crate::baseline::{Baseline, bin_index};
use crate::spec::MonitorSpec;
use crate::stats;
use crate::window::Ring;

/// A feature is flagged only once its window holds at least `min(window, MIN_SAMPLE)`
/// observations: PSI over a handful of rows is noise.
pub const MIN_SAMPLE: usize = 100;

/// One live value of a feature. A value of the other kind than the feature's baseline
/// (a number for a categorical feature, a category for a numeric one) counts as missing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation<'a> {
    /// NaN is missing.
    Number(f64),
    /// `None` is missing.
    Category(Option<&'a str>),
}

/// Sliding windows of live values, one per feature of a [`MonitorSpec`], with bin counts kept
/// incrementally.
#[derive(Clone, Debug)]
pub struct DriftMonitor {
    window: usize,
    threshold: f64,
    features: Vec<FeatureWindow>,
}

#[derive(Clone, Debug)]
struct FeatureWindow {
    name: String,
    /// Window counts per cell: numeric bins then missing; categories, other, missing.
    counts: Vec<usize>,
    /// Baseline shares, same cells.
    expected: Vec<f64>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Numeric { edges: Vec<f64>, quantiles: Vec<f64>, values: Ring<f64> },
    Categorical { index: HashMap<String, usize>, other: usize, cells: Ring<usize> },
}

/// One feature's drift over its current window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureDrift {
    pub name: String,
    /// Observations in the window (≤ window).
    pub observed: usize,
    /// Population stability index, window vs baseline, over the bins plus the missing cell
    /// (categoricals: categories, other, missing); shares smoothed to at least
    /// [`stats::EPSILON`] = 1e-4. 0 for an empty window.
    pub psi: f64,
    pub statistic: Statistic,
    /// `psi > drift_threshold` and the window holds at least `min(window, MIN_SAMPLE)`
    /// (and at least one) observations.
    pub drifted: bool,
}

/// The second statistic: KS for numeric features, chi-square for categorical ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Statistic {
    /// KS distance between the window's empirical CDF (non-missing values) and the reference
    /// CDF interpolated from the 101 quantiles ([`stats::ks_distance`]); 0 when the window
    /// has no non-missing value.
    KolmogorovSmirnov { d: f64 },
    /// Pearson chi-square of the window's counts (categories, other, missing) against the
    /// baseline shares, cells with share 0 and no count dropped, other zero-share cells
    /// smoothed to 1e-4 ([`stats::chi_square`]); 0 with p-value 1 for an empty window.
    ChiSquare { value: f64, dof: usize, p_value: f64 },
}

/// A share from a (possibly hand-edited) spec, made safe for the statistics.
fn share(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 { s } else { 0.0 }
}

impl DriftMonitor {
    /// Empty windows for every feature of `spec`. Never panics; an inconsistent spec (see
    /// [`MonitorSpec::validate`]) gives meaningless but finite numbers.
    pub fn new(spec: &MonitorSpec) -> DriftMonitor {
        let features = spec
            .features
            .iter()
            .map(|feature| match &feature.baseline {
                Baseline::Numeric { edges, proportions, missing, quantiles } => {
                    let bins = edges.len() + 1;
                    let mut expected: Vec<f64> =
                        (0..bins).map(|i| share(proportions.get(i).copied().unwrap_or(0.0))).collect();
                    expected.push(share(*missing));
                    FeatureWindow {
                        name: feature.name.clone(),
                        counts: vec![0; bins + 1],
                        expected,
                        kind: Kind::Numeric {
                            edges: edges.clone(),
                            quantiles: quantiles.clone(),
                            values: Ring::new(spec.window),
                        },
                    }
                }
                Baseline::Categorical { categories, proportions, other, missing } => {
                    let mut index = HashMap::with_capacity(categories.len());
                    for (i, name) in categories.iter().enumerate() {
                        index.entry(name.clone()).or_insert(i);
                    }
                    let mut expected: Vec<f64> =
                        (0..categories.len()).map(|i| share(proportions.get(i).copied().unwrap_or(0.0))).collect();
                    expected.push(share(*other));
                    expected.push(share(*missing));
                    FeatureWindow {
                        name: feature.name.clone(),
                        counts: vec![0; categories.len() + 2],
                        expected,
                        kind: Kind::Categorical { index, other: categories.len(), cells: Ring::new(spec.window) },
                    }
                }
            })
            .collect();
        DriftMonitor { window: spec.window, threshold: spec.drift_threshold, features }
    }

    /// The number of monitored features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether no feature is monitored.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The index of the feature called `name`, for [`DriftMonitor::observe`].
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// Adds a live value of feature `feature` (an index into the spec's `features`; an index
    /// out of range is ignored), evicting the oldest value once the window is full.
    /// O(log bins) for numeric features, O(1) expected for categorical ones.
    pub fn observe(&mut self, feature: usize, value: Observation<'_>) {
        let Some(f) = self.features.get_mut(feature) else {
            return;
        };
        match &mut f.kind {
            Kind::Numeric { edges, values, .. } => {
                let x = match value {
                    Observation::Number(x) => x,
                    Observation::Category(_) => f64::NAN,
                };
                let missing = edges.len() + 1;
                let cell = |x: f64| {
                    if x.is_nan() { missing } else { bin_index(edges, x) }
                };
                f.counts[cell(x)] += 1;
                if let Some(old) = values.push(x) {
                    let c = &mut f.counts[cell(old)];
                    *c = c.saturating_sub(1);
                }
            }
            Kind::Categorical { index, other, cells } => {
                let cell = match value {
                    Observation::Category(Some(name)) => index.get(name).copied().unwrap_or(*other),
                    Observation::Category(None) | Observation::Number(_) => *other + 1,
                };
                let cell = cell.min(f.counts.len() - 1);
                f.counts[cell] += 1;
                if let Some(old) = cells.push(cell) {
                    let c = &mut f.counts[old];
                    *c = c.saturating_sub(1);
                }
            }
        }
    }

    /// Drift of every feature over its current window, in the spec's order.
    /// O(window·log window) per numeric feature (the KS statistic sorts the window).
    pub fn report(&self) -> Vec<FeatureDrift> {
        self.features.iter().map(|f| self.drift(f)).collect()
    }

    fn drift(&self, f: &FeatureWindow) -> FeatureDrift {
        let observed = match &f.kind {
            Kind::Numeric { values, .. } => values.len(),
            Kind::Categorical { cells, .. } => cells.len(),
        };
        let psi = if observed == 0 {
            0.0
        } else {
            let n = observed as f64;
            let actual: Vec<f64> = f.counts.iter().map(|&c| c as f64 / n).collect();
            stats::psi(&actual, &f.expected)
        };
        let statistic = match &f.kind {
            Kind::Numeric { quantiles, values, .. } => {
                let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
                sorted.sort_by(f64::total_cmp);
                Statistic::KolmogorovSmirnov { d: stats::ks_distance(&sorted, quantiles) }
            }
            Kind::Categorical { .. } => {
                let (value, dof, p_value) = stats::chi_square(&f.counts, &f.expected);
                Statistic::ChiSquare { value, dof, p_value }
            }
        };
        let enough = observed > 0 && observed >= self.window.min(MIN_SAMPLE);
        FeatureDrift { name: f.name.clone(), observed, psi, statistic, drifted: enough && psi > self.threshold }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FeatureBaseline, Source};

    /// SplitMix64: a deterministic generator for the tests.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        /// Standard normal (Box-Muller).
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
        /// A category with probabilities 0.4, 0.3, 0.2, 0.1 (or shifted: reversed).
        fn category(&mut self, shifted: bool) -> &'static str {
            let u = self.uniform();
            let names = if shifted { ["d", "c", "b", "a"] } else { ["a", "b", "c", "d"] };
            let i = if u < 0.4 {
                0
            } else if u < 0.7 {
                1
            } else if u < 0.9 {
                2
            } else {
                3
            };
            names[i]
        }
    }

    fn numeric_spec(window: usize, threshold: f64) -> MonitorSpec {
        let mut rng = Rng(1);
        let reference: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
        let Ok(baseline) = Baseline::numeric(&reference) else { panic!("baseline") };
        MonitorSpec {
            window,
            drift_threshold: threshold,
            features: vec![FeatureBaseline { name: "x".into(), source: Source::Input, baseline }],
            accuracy: None,
        }
    }

    fn ks(d: &FeatureDrift) -> f64 {
        match d.statistic {
            Statistic::KolmogorovSmirnov { d } => d,
            Statistic::ChiSquare { .. } => panic!("expected KS"),
        }
    }

    #[test]
    fn same_distribution_has_small_psi_and_ks() {
        let mut monitor = DriftMonitor::new(&numeric_spec(5_000, 0.2));
        let mut rng = Rng(2);
        for _ in 0..5_000 {
            monitor.observe(0, Observation::Number(rng.normal()));
        }
        let report = monitor.report();
        let d = &report[0];
        assert_eq!(d.name, "x");
        assert_eq!(d.observed, 5_000);
        assert!(d.psi < 0.01, "psi {}", d.psi);
        assert!(ks(d) < 0.03, "ks {}", ks(d));
        assert!(!d.drifted);
    }

    #[test]
    fn shifted_distribution_has_large_psi_and_ks() {
        let mut monitor = DriftMonitor::new(&numeric_spec(5_000, 0.2));
        let mut rng = Rng(3);
        for _ in 0..5_000 {
            monitor.observe(0, Observation::Number(rng.normal() + 1.0));
        }
        let d = &monitor.report()[0];
        assert!(d.psi > 0.2, "psi {}", d.psi);
        // sup |Φ(x) − Φ(x − 1)| = 2Φ(0.5) − 1 = 0.383
        assert!((ks(d) - 0.383).abs() < 0.03, "ks {}", ks(d));
        assert!(d.drifted);
    }

    #[test]
    fn flag_needs_the_minimum_sample() {
        // window 1000: flagged from MIN_SAMPLE = 100 observations on
        let mut monitor = DriftMonitor::new(&numeric_spec(1_000, 0.2));
        let mut rng = Rng(4);
        for _ in 0..99 {
            monitor.observe(0, Observation::Number(rng.normal() + 2.0));
        }
        let d = &monitor.report()[0];
        assert!(d.psi > 0.2 && !d.drifted, "{d:?}");
        monitor.observe(0, Observation::Number(rng.normal() + 2.0));
        assert!(monitor.report()[0].drifted);
        // window 20 < 100: flagged from 20 observations on
        let mut monitor = DriftMonitor::new(&numeric_spec(20, 0.2));
        for _ in 0..19 {
            monitor.observe(0, Observation::Number(rng.normal() + 2.0));
        }
        assert!(!monitor.report()[0].drifted);
        monitor.observe(0, Observation::Number(rng.normal() + 2.0));
        let d = &monitor.report()[0];
        assert_eq!(d.observed, 20);
        assert!(d.drifted);
        // threshold above the PSI: not flagged
        let mut monitor = DriftMonitor::new(&numeric_spec(20, 1e9));
        for _ in 0..20 {
            monitor.observe(0, Observation::Number(rng.normal() + 2.0));
        }
        assert!(!monitor.report()[0].drifted);
    }

    #[test]
    fn window_evicts_old_observations() {
        let mut monitor = DriftMonitor::new(&numeric_spec(500, 0.2));
        let mut rng = Rng(5);
        for _ in 0..500 {
            monitor.observe(0, Observation::Number(rng.normal() + 1.0));
        }
        assert!(monitor.report()[0].drifted);
        for _ in 0..500 {
            monitor.observe(0, Observation::Number(rng.normal()));
        }
        let d = &monitor.report()[0];
        assert_eq!(d.observed, 500);
        assert!(d.psi < 0.05, "psi {}", d.psi);
        assert!(ks(d) < 0.07, "ks {}", ks(d));
        assert!(!d.drifted);
        // the incremental counts equal counts recomputed from scratch
        let f = &monitor.features[0];
        let Kind::Numeric { edges, values, .. } = &f.kind else { panic!() };
        let mut recount = vec![0; edges.len() + 2];
        for &x in values.iter() {
            recount[if x.is_nan() { edges.len() + 1 } else { bin_index(edges, x) }] += 1;
        }
        assert_eq!(f.counts, recount);
    }

    #[test]
    fn psi_two_bins_through_the_monitor() {
        let spec = MonitorSpec {
            window: 10,
            drift_threshold: 0.4,
            features: vec![FeatureBaseline {
                name: "x".into(),
                source: Source::Column,
                baseline: Baseline::Numeric {
                    edges: vec![0.0],
                    proportions: vec![0.5, 0.5],
                    missing: 0.0,
                    quantiles: (0..=100).map(|k| (k as f64 - 50.0) / 50.0).collect(),
                },
            }],
            accuracy: None,
        };
        let mut monitor = DriftMonitor::new(&spec);
        // 8 values in (-inf, 0] (0 itself included), 2 in (0, inf): shares 0.8, 0.2, missing 0
        for x in [-0.9, -0.7, -0.5, -0.3, -0.1, -0.05, -0.01, 0.0, 0.5, 0.9] {
            monitor.observe(0, Observation::Number(x));
        }
        let d = &monitor.report()[0];
        // 0.3·ln(0.8/0.5) + 0.3·ln(0.5/0.2) + 0 (missing: both smoothed to 1e-4) = 0.3·ln 4
        assert!((d.psi - 0.3 * 4f64.ln()).abs() < 1e-12, "{}", d.psi);
        assert!(d.drifted); // 0.416 > 0.4 and 10 = min(10, 100) observations
        // a missing value and a category (wrong kind, so missing) replace two old values
        monitor.observe(0, Observation::Number(f64::NAN));
        monitor.observe(0, Observation::Category(Some("a")));
        // window now: -0.5 .. 0.0 (6 values ≤ 0), 0.5, 0.9, NaN, NaN: shares 0.6, 0.2, 0.2
        let d = &monitor.report()[0];
        let by_hand = 0.1 * (0.6f64 / 0.5).ln() + (-0.3) * (0.2f64 / 0.5).ln() + (0.2 - 1e-4) * (0.2f64 / 1e-4).ln();
        assert!((d.psi - by_hand).abs() < 1e-12, "{} vs {by_hand}", d.psi);
    }

    #[test]
    fn categorical_drift_and_chi_square() {
        let mut rng = Rng(6);
        let reference: Vec<Option<&str>> = (0..20_000).map(|_| Some(rng.category(false))).collect();
        let Ok(baseline) = Baseline::categorical(&reference) else { panic!() };
        let spec = MonitorSpec {
            window: 2_000,
            drift_threshold: 0.2,
            features: vec![FeatureBaseline { name: "c".into(), source: Source::Input, baseline }],
            accuracy: None,
        };
        let mut monitor = DriftMonitor::new(&spec);
        for _ in 0..2_000 {
            monitor.observe(0, Observation::Category(Some(rng.category(false))));
        }
        let d = &monitor.report()[0];
        let Statistic::ChiSquare { value, dof, p_value } = d.statistic else { panic!() };
        // cells a, b, c, d (other and missing: share 0, count 0, dropped): dof 3
        assert_eq!(dof, 3);
        assert!(d.psi < 0.01, "psi {}", d.psi);
        assert!(p_value > 0.001, "chi2 {value} p {p_value}");
        assert!(!d.drifted);
        for _ in 0..2_000 {
            monitor.observe(0, Observation::Category(Some(rng.category(true))));
        }
        let d = &monitor.report()[0];
        let Statistic::ChiSquare { p_value, .. } = d.statistic else { panic!() };
        assert!(d.psi > 0.2 && d.drifted, "psi {}", d.psi);
        assert!(p_value < 1e-10);
        // unseen categories and missing values land in other/missing: dof grows to 5
        monitor.observe(0, Observation::Category(Some("zzz")));
        monitor.observe(0, Observation::Category(None));
        monitor.observe(0, Observation::Number(1.0));
        let Statistic::ChiSquare { dof, .. } = monitor.report()[0].statistic else { panic!() };
        assert_eq!(dof, 5);
        let f = &monitor.features[0];
        assert_eq!(f.counts.iter().sum::<usize>(), 2_000);
        assert_eq!(f.counts[4], 1); // other
        assert_eq!(f.counts[5], 2); // missing
    }

    #[test]
    fn empty_windows_and_bad_specs_do_not_panic() {
        let mut spec = numeric_spec(100, 0.2);
        spec.features.push(FeatureBaseline {
            name: "c".into(),
            source: Source::Input,
            baseline: Baseline::Categorical {
                categories: vec!["a".into(), "b".into()],
                proportions: vec![0.5, 0.5],
                other: 0.0,
                missing: 0.0,
            },
        });
        let monitor = DriftMonitor::new(&spec);
        assert_eq!(monitor.len(), 2);
        assert_eq!(monitor.feature_index("c"), Some(1));
        let report = monitor.report();
        assert_eq!(report[0].psi, 0.0);
        assert_eq!(report[0].statistic, Statistic::KolmogorovSmirnov { d: 0.0 });
        assert!(!report[0].drifted);
        assert_eq!(report[1].statistic, Statistic::ChiSquare { value: 0.0, dof: 1, p_value: 1.0 });
        assert!(!report[1].drifted);

        // inconsistent baselines, window 0, NaN threshold, out-of-range feature index
        let bad = MonitorSpec {
            window: 0,
            drift_threshold: f64::NAN,
            features: vec![
                FeatureBaseline {
                    name: "n".into(),
                    source: Source::Input,
                    baseline: Baseline::Numeric {
                        edges: vec![3.0, f64::NAN, 1.0],
                        proportions: vec![f64::NAN, -1.0],
                        missing: f64::INFINITY,
                        quantiles: vec![],
                    },
                },
                FeatureBaseline {
                    name: "c".into(),
                    source: Source::Input,
                    baseline: Baseline::Categorical {
                        categories: vec!["a".into(), "a".into()],
                        proportions: vec![],
                        other: f64::NAN,
                        missing: 2.0,
                    },
                },
            ],
            accuracy: None,
        };
        assert!(bad.validate().is_err());
        for window in [0, 3] {
            let mut monitor = DriftMonitor::new(&MonitorSpec { window, ..bad.clone() });
            for x in [1.0, f64::NAN, f64::INFINITY, -f64::INFINITY, 2.0] {
                monitor.observe(0, Observation::Number(x));
                monitor.observe(1, Observation::Category(Some("a")));
                monitor.observe(1, Observation::Category(Some("b")));
                monitor.observe(7, Observation::Number(x));
            }
            for d in monitor.report() {
                assert!(d.psi.is_finite() && !d.drifted, "{d:?}");
                assert!(d.observed <= window);
            }
        }
    }

    #[test]
    fn statistic_serializes_with_a_kind_tag() {
        let json = |s: &Statistic| serde_json::to_string(s).unwrap_or_default();
        assert_eq!(json(&Statistic::KolmogorovSmirnov { d: 0.5 }), r#"{"kind":"kolmogorov_smirnov","d":0.5}"#);
        assert_eq!(
            json(&Statistic::ChiSquare { value: 1.0, dof: 2, p_value: 0.25 }),
            r#"{"kind":"chi_square","value":1.0,"dof":2,"p_value":0.25}"#
        );
    }
}
