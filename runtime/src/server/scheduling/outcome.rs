//! What scoring a batch produces, computed once on the worker thread: the [`BatchOutcome`]
//! (who scored it, where, its columns, and the rows that failed each check). The duties read
//! it after the batch (check metrics, drift, feedback, audit records), the queue splits it into
//! each request's own outcome, and the protocol encodes a request's outcome into its answer.

use super::models::Role;
use super::route::Route;
use crate::output::OutputColumn;
use crate::spec::PipelineSpec;

/// A scored batch, or one request's rows of it.
#[derive(Clone, Debug)]
pub struct BatchOutcome {
    /// Which pipeline scored it.
    pub role: Role,
    /// That pipeline's spec (its `identity` is the build that answered).
    pub spec: &'static PipelineSpec,
    pub route: Route,
    /// Every computed column, in the order of `spec.outputs`.
    pub columns: Vec<OutputColumn>,
    pub failed_checks: FailedChecks,
}

impl BatchOutcome {
    /// The outcome of `columns`, which `role`'s pipeline `spec` computed on `route`; finds the
    /// failed checks.
    pub fn new(role: Role, spec: &'static PipelineSpec, route: Route, columns: Vec<OutputColumn>) -> BatchOutcome {
        let failed_checks = FailedChecks::find(spec, &columns);
        BatchOutcome { role, spec, route, columns, failed_checks }
    }

    /// Rows `start..start + rows`, numbered from 0: one request's part of a merged batch.
    pub fn rows(&self, start: usize, rows: usize) -> BatchOutcome {
        BatchOutcome {
            role: self.role,
            spec: self.spec,
            route: self.route,
            columns: self.columns.iter().map(|c| c.rows(start, start + rows)).collect(),
            failed_checks: self.failed_checks.rows(start, rows),
        }
    }
}

/// The rows that failed each of a pipeline's `checks` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailedChecks {
    /// The checks that at least one row failed, in the order the pipeline declares them: the
    /// check's name and its failed rows, ascending.
    failed: Vec<(&'static str, Vec<usize>)>,
}

impl FailedChecks {
    /// The failed rows of each check column of `columns` (`false`: failed).
    pub fn find(spec: &PipelineSpec, columns: &[OutputColumn]) -> FailedChecks {
        let failed = spec
            .checks()
            .filter_map(|(index, check)| {
                let Some(OutputColumn::Bool { values, .. }) = columns.get(index) else { return None };
                let rows: Vec<usize> =
                    values.iter().enumerate().filter(|(_, passed)| !**passed).map(|(row, _)| row).collect();
                (!rows.is_empty()).then_some((check.name, rows))
            })
            .collect();
        FailedChecks { failed }
    }

    /// Those of rows `start..start + rows`, numbered from 0.
    pub fn rows(&self, start: usize, rows: usize) -> FailedChecks {
        let end = start + rows;
        let failed = self
            .failed
            .iter()
            .filter_map(|(name, failed)| {
                let (from, to) = (failed.partition_point(|&row| row < start), failed.partition_point(|&row| row < end));
                (from < to).then(|| (*name, failed[from..to].iter().map(|row| row - start).collect()))
            })
            .collect();
        FailedChecks { failed }
    }

    /// Each check that failed, with its failed rows (ascending), in the pipeline's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[usize])> + '_ {
        self.failed.iter().map(|(name, rows)| (*name, rows.as_slice()))
    }

    /// Per row of `rows`, the names of the checks it failed, comma-separated; empty when it
    /// passed them all: the `failed_checks` output.
    pub fn names_per_row(&self, rows: usize) -> Vec<String> {
        let mut names = vec![String::new(); rows];
        for (check, failed) in self.iter() {
            for &row in failed {
                let Some(names) = names.get_mut(row) else { continue };
                if !names.is_empty() {
                    names.push(',');
                }
                names.push_str(check);
            }
        }
        names
    }

    /// How many of `rows` rows failed at least one check.
    pub fn failing_rows(&self, rows: usize) -> usize {
        let mut failing = vec![false; rows];
        for &row in self.failed.iter().flat_map(|(_, failed)| failed) {
            if let Some(flag) = failing.get_mut(row) {
                *flag = true;
            }
        }
        failing.into_iter().filter(|failed| *failed).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OutputKind, OutputRole, OutputSpec};

    static SPEC: PipelineSpec = PipelineSpec {
        name: "t",
        version: "1",
        identity: "0",
        monitor: None,
        inputs: &[],
        outputs: &[
            OutputSpec { name: "p", kind: OutputKind::F32, width: 1, role: OutputRole::Output },
            OutputSpec { name: "positive", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
            OutputSpec { name: "small", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
        ],
    };

    fn outcome() -> BatchOutcome {
        let columns = vec![
            OutputColumn::F32 { width: 1, values: vec![1.0, -2.0, 30.0, -40.0] },
            OutputColumn::Bool { width: 1, values: vec![true, false, true, false] },
            OutputColumn::Bool { width: 1, values: vec![true, true, false, false] },
        ];
        BatchOutcome::new(Role::Champion, &SPEC, Route::Native, columns)
    }

    #[test]
    fn failed_checks_are_found_once_per_batch_and_sliced_per_request() {
        let batch = outcome();
        let checks: Vec<_> = batch.failed_checks.iter().collect();
        assert_eq!(checks, vec![("positive", &[1, 3][..]), ("small", &[2, 3][..])]);
        assert_eq!(batch.failed_checks.names_per_row(4), ["", "positive", "small", "positive,small"]);
        assert_eq!(batch.failed_checks.failing_rows(4), 3);
        let second = batch.rows(2, 2);
        assert_eq!(second.failed_checks.names_per_row(2), ["small", "positive,small"]);
        assert_eq!(second.failed_checks, FailedChecks::find(&SPEC, &second.columns));
        let first = batch.rows(0, 1);
        assert_eq!(first.failed_checks, FailedChecks::default());
        assert_eq!(first.failed_checks.failing_rows(1), 0);
    }
}
