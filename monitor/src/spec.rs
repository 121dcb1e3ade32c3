//! The monitoring specification: built by the compiler, serialized to JSON, compiled into the
//! generated server, read back there.

use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, QUANTILES};
use crate::error::SpecError;

/// What the server monitors, from a `.pipe` file's `monitor` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorSpec {
    /// Sliding window, in rows (observations per feature; labelled rows for accuracy).
    pub window: usize,
    /// A feature is flagged when its PSI exceeds this (see [`crate::FeatureDrift::drifted`]).
    pub drift_threshold: f64,
    pub features: Vec<FeatureBaseline>,
    pub accuracy: Option<AccuracySpec>,
}

/// One watched feature and its reference distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureBaseline {
    pub name: String,
    pub source: Source,
    pub baseline: Baseline,
}

/// Where the server finds a feature's live values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The request's input column of that name.
    Input,
    /// A computed column of that name (the server resolves it).
    Column,
}

/// Which outputs live accuracy compares with posted ground truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AccuracySpec {
    /// `label`: a bool output (the predicted class); `probability`: an f32 output, P(true),
    /// for log loss.
    Classifier {
        label: String,
        probability: Option<String>,
    },
    Regressor {
        prediction: String,
    },
}

impl MonitorSpec {
    /// Checks what the types cannot: a non-zero window, a finite non-negative threshold,
    /// distinct feature names, and well-formed baselines (see [`Baseline::validate`]).
    /// [`crate::DriftMonitor`] does not panic on a spec that fails this, but its numbers are
    /// then meaningless.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.window == 0 {
            return Err(SpecError::ZeroWindow);
        }
        if !(self.drift_threshold.is_finite() && self.drift_threshold >= 0.0) {
            return Err(SpecError::BadThreshold(self.drift_threshold));
        }
        for (i, feature) in self.features.iter().enumerate() {
            if self.features[..i].iter().any(|f| f.name == feature.name) {
                return Err(SpecError::DuplicateFeature(feature.name.clone()));
            }
            feature
                .baseline
                .validate()
                .map_err(|reason| SpecError::BadBaseline { feature: feature.name.clone(), reason })?;
        }
        Ok(())
    }
}

impl Baseline {
    /// Checks the invariants [`Baseline::numeric`] and [`Baseline::categorical`] establish:
    /// finite shares in `[0, 1]` summing to 1 (within 1e-6), one share per bin or category;
    /// numeric edges finite and strictly ascending, [`QUANTILES`] finite non-decreasing
    /// quantiles; categorical names distinct. Returns a readable reason.
    pub fn validate(&self) -> Result<(), String> {
        fn share_ok(s: f64) -> bool {
            s.is_finite() && (0.0..=1.0).contains(&s)
        }
        let (shares, total): (Vec<f64>, f64) = match self {
            Baseline::Numeric { edges, proportions, missing, quantiles } => {
                if edges.iter().any(|e| !e.is_finite()) {
                    return Err("a bin edge is not finite".into());
                }
                if edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("bin edges are not strictly ascending".into());
                }
                if proportions.len() != edges.len() + 1 {
                    return Err(format!(
                        "{} bin edges need {} proportions, found {}",
                        edges.len(),
                        edges.len() + 1,
                        proportions.len()
                    ));
                }
                if quantiles.len() != QUANTILES {
                    return Err(format!("expected {QUANTILES} quantiles, found {}", quantiles.len()));
                }
                if quantiles.iter().any(|q| !q.is_finite()) {
                    return Err("a quantile is not finite".into());
                }
                if quantiles.windows(2).any(|w| w[0] > w[1]) {
                    return Err("quantiles are not non-decreasing".into());
                }
                let mut shares = proportions.clone();
                shares.push(*missing);
                let total = shares.iter().sum();
                (shares, total)
            }
            Baseline::Categorical { categories, proportions, other, missing } => {
                if proportions.len() != categories.len() {
                    return Err(format!("{} categories but {} proportions", categories.len(), proportions.len()));
                }
                for (i, c) in categories.iter().enumerate() {
                    if categories[..i].contains(c) {
                        return Err(format!("category `{c}` appears twice"));
                    }
                }
                let mut shares = proportions.clone();
                shares.push(*other);
                shares.push(*missing);
                let total = shares.iter().sum();
                (shares, total)
            }
        };
        if !shares.iter().all(|s| share_ok(*s)) {
            return Err("a share is not a number in [0, 1]".into());
        }
        if (total - 1.0).abs() > 1e-6 {
            return Err(format!("shares sum to {total}, not 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MonitorSpec {
        // a deterministic, irregular reference: fractional parts of k·φ, scaled
        let reference: Vec<f64> = (0..5_000)
            .map(|k| if k % 97 == 0 { f64::NAN } else { (k as f64 * 0.618_033_988_749_894_8).fract() * 37.3 - 5.0 })
            .collect();
        let categories: Vec<Option<&str>> =
            (0..1_000).map(|k| if k % 50 == 0 { None } else { Some(["x", "y", "z"][k % 3]) }).collect();
        let (Ok(numeric), Ok(categorical)) = (Baseline::numeric(&reference), Baseline::categorical(&categories)) else {
            panic!("baselines")
        };
        MonitorSpec {
            window: 1_000,
            drift_threshold: 0.2,
            features: vec![
                FeatureBaseline { name: "age".into(), source: Source::Input, baseline: numeric },
                FeatureBaseline { name: "city".into(), source: Source::Column, baseline: categorical },
            ],
            accuracy: Some(AccuracySpec::Classifier { label: "churn".into(), probability: Some("p".into()) }),
        }
    }

    #[test]
    fn monitor_spec_json_round_trip() {
        let spec = spec();
        assert_eq!(spec.validate(), Ok(()));
        let json = serde_json::to_string(&spec).unwrap_or_default();
        let back: Result<MonitorSpec, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(spec));
        let regressor = MonitorSpec {
            window: 10,
            drift_threshold: 0.1,
            features: vec![],
            accuracy: Some(AccuracySpec::Regressor { prediction: "price".into() }),
        };
        let json = serde_json::to_string(&regressor).unwrap_or_default();
        assert_eq!(serde_json::from_str::<MonitorSpec>(&json).ok(), Some(regressor));
    }

    #[test]
    fn validate_rejects_inconsistent_specs() {
        let good = spec();
        assert_eq!(MonitorSpec { window: 0, ..good.clone() }.validate(), Err(SpecError::ZeroWindow));
        assert!(matches!(
            MonitorSpec { drift_threshold: -1.0, ..good.clone() }.validate(),
            Err(SpecError::BadThreshold(_))
        ));
        let mut twice = good.clone();
        twice.features.push(twice.features[0].clone());
        assert_eq!(twice.validate(), Err(SpecError::DuplicateFeature("age".into())));
        let mut short = good.clone();
        if let Baseline::Numeric { proportions, .. } = &mut short.features[0].baseline {
            proportions.pop();
        }
        assert!(matches!(short.validate(), Err(SpecError::BadBaseline { .. })));
        let mut unsorted = good;
        if let Baseline::Numeric { edges, .. } = &mut unsorted.features[0].baseline {
            edges.swap(0, 1);
        }
        assert!(matches!(unsorted.validate(), Err(SpecError::BadBaseline { .. })));
    }
}
