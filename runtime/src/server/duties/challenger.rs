//! Champion and challenger: which one answers a request in split mode, and how much the
//! shadow challenger disagrees with the champion.

use crate::category::fnv1a64;
use crate::output::OutputColumn;
use crate::spec::{OutputKind, PipelineSpec};
use serde::Serialize;
use std::collections::BTreeMap;

/// Whether the request with routing key `key` goes to the challenger: the key's FNV-1a hash
/// modulo 10,000 falls below `share` x 10,000. The same key always gets the same answer.
pub fn routes_to_challenger(key: &str, share: f64) -> bool {
    let slot = fnv1a64(key.as_bytes()) % 10_000;
    (slot as f64) < share * 10_000.0
}

/// Two numbers agree when they differ by at most this, relative to the larger magnitude (at
/// least 1).
pub const TOLERANCE: f64 = 1e-6;

/// How often and how much the shadow challenger disagreed with the champion.
#[derive(Default)]
pub struct Comparison {
    rows: u64,
    disagreeing_rows: u64,
    outputs: BTreeMap<&'static str, OutputDifference>,
}

#[derive(Default, Clone, Copy)]
struct OutputDifference {
    values: u64,
    differing: u64,
    sum_abs: f64,
}

#[derive(Serialize)]
pub struct ComparisonReport {
    pub rows: u64,
    pub disagreeing_rows: u64,
    pub disagreement_rate: Option<f64>,
    pub tolerance: f64,
    pub outputs: BTreeMap<&'static str, OutputReport>,
}

#[derive(Serialize)]
pub struct OutputReport {
    /// Share of values that differ (beyond the tolerance, for numbers).
    pub disagreement_rate: Option<f64>,
    /// Mean of |challenger - champion| (numeric outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_abs_difference: Option<f64>,
}

impl Comparison {
    /// Compares the public outputs of one batch scored by both; returns the rows that
    /// disagreed.
    pub fn add(
        &mut self,
        spec: &PipelineSpec,
        champion: &[OutputColumn],
        challenger: &[OutputColumn],
        rows: usize,
    ) -> u64 {
        let mut disagree = vec![false; rows];
        for (index, output) in spec.public_outputs() {
            let stats = self.outputs.entry(output.name).or_default();
            let width = output.width.max(1);
            match (output.kind, champion.get(index), challenger.get(index)) {
                (
                    OutputKind::F32,
                    Some(OutputColumn::F32 { values: a, .. }),
                    Some(OutputColumn::F32 { values: b, .. }),
                ) => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        let (x, y) = (f64::from(*x), f64::from(*y));
                        let diff = (x - y).abs();
                        stats.values += 1;
                        stats.sum_abs += diff;
                        if diff > TOLERANCE * x.abs().max(y.abs()).max(1.0) {
                            stats.differing += 1;
                            disagree[i / width] = true;
                        }
                    }
                }
                (
                    OutputKind::Bool,
                    Some(OutputColumn::Bool { values: a, .. }),
                    Some(OutputColumn::Bool { values: b, .. }),
                ) => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        stats.values += 1;
                        if x != y {
                            stats.differing += 1;
                            disagree[i / width] = true;
                        }
                    }
                }
                _ => {}
            }
        }
        let disagreeing = disagree.iter().filter(|d| **d).count() as u64;
        self.rows += rows as u64;
        self.disagreeing_rows += disagreeing;
        disagreeing
    }

    /// Mean absolute difference per numeric output, for the metrics.
    pub fn mean_abs_differences(&self, spec: &PipelineSpec) -> Vec<(&'static str, f64)> {
        spec.public_outputs()
            .filter(|(_, o)| o.kind == OutputKind::F32)
            .filter_map(|(_, o)| {
                let stats = self.outputs.get(o.name)?;
                (stats.values > 0).then(|| (o.name, stats.sum_abs / stats.values as f64))
            })
            .collect()
    }

    pub fn report(&self, spec: &PipelineSpec) -> ComparisonReport {
        let rate = |n: u64, of: u64| (of > 0).then(|| n as f64 / of as f64);
        let outputs = spec
            .public_outputs()
            .map(|(_, o)| {
                let stats = self.outputs.get(o.name).copied().unwrap_or_default();
                let mean = (o.kind == OutputKind::F32 && stats.values > 0).then(|| stats.sum_abs / stats.values as f64);
                (
                    o.name,
                    OutputReport { disagreement_rate: rate(stats.differing, stats.values), mean_abs_difference: mean },
                )
            })
            .collect();
        ComparisonReport {
            rows: self.rows,
            disagreeing_rows: self.disagreeing_rows,
            disagreement_rate: rate(self.disagreeing_rows, self.rows),
            tolerance: TOLERANCE,
            outputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_deterministic_and_near_the_share() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("request-{i}")).collect();
        let chosen = keys.iter().filter(|k| routes_to_challenger(k, 0.25)).count();
        assert!((4_500..5_500).contains(&chosen), "{chosen} of 20000 at share 0.25");
        assert!(keys.iter().all(|k| routes_to_challenger(k, 0.25) == routes_to_challenger(k, 0.25)));
        assert!(!keys.iter().any(|k| routes_to_challenger(k, 0.0)));
        assert!(keys.iter().all(|k| routes_to_challenger(k, 1.0)));
    }
}
