//! Live accuracy: the predictions of recent requests are kept, by request id, until ground
//! truth for them is posted (`POST /v2/models/{name}/feedback`); each labelled row then joins
//! its model's accuracy window.

use crate::output::OutputColumn;
use crate::server::scheduling::Role;
use crate::spec::PipelineSpec;
use pipec_monitor::{AccuracyReport, AccuracySpec, AccuracyWindow};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug)]
enum Prediction {
    Class { label: bool, probability: Option<f64> },
    Value(f64),
}

pub struct Feedback {
    accuracy: AccuracySpec,
    capacity: usize,
    window: usize,
    pending: Mutex<Pending>,
    windows: Mutex<HashMap<Role, AccuracyWindow>>,
}

#[derive(Default)]
struct Pending {
    by_id: HashMap<String, Vec<(Role, Vec<Prediction>)>>,
    order: VecDeque<String>,
}

#[derive(Debug, PartialEq)]
pub enum FeedbackError {
    /// No prediction is kept under this id.
    Unknown { capacity: usize },
    /// The truth is not of the right kind or count.
    Invalid(String),
}

impl Feedback {
    pub fn new(accuracy: AccuracySpec, window: usize, capacity: usize) -> Feedback {
        Feedback {
            accuracy,
            capacity: capacity.max(1),
            window: window.max(1),
            pending: Mutex::new(Pending::default()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps the predictions of rows `start..start + rows` of a scored batch for request `id`.
    /// A second model's predictions for the same id (the shadow challenger) join the first's.
    pub fn remember(
        &self,
        role: Role,
        spec: &PipelineSpec,
        columns: &[OutputColumn],
        id: &str,
        start: usize,
        rows: usize,
    ) {
        let Some(predictions) = self.predictions(spec, columns, start, rows) else { return };
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = pending.by_id.get_mut(id) {
            entry.retain(|(r, _)| *r != role);
            entry.push((role, predictions));
            return;
        }
        if role == Role::Challenger && pending.order.len() >= self.capacity {
            // A shadow prediction whose champion entry was already forgotten.
            return;
        }
        while pending.order.len() >= self.capacity {
            if let Some(oldest) = pending.order.pop_front() {
                pending.by_id.remove(&oldest);
            }
        }
        pending.by_id.insert(id.to_string(), vec![(role, predictions)]);
        pending.order.push_back(id.to_string());
    }

    fn predictions(
        &self,
        spec: &PipelineSpec,
        columns: &[OutputColumn],
        start: usize,
        rows: usize,
    ) -> Option<Vec<Prediction>> {
        let column = |name: &str| spec.outputs.iter().position(|o| o.name == name).and_then(|i| columns.get(i));
        let rows = start..start + rows;
        match &self.accuracy {
            AccuracySpec::Classifier { label, probability } => {
                let Some(OutputColumn::Bool { values: labels, .. }) = column(label) else { return None };
                let probabilities = match probability.as_deref().map(column) {
                    Some(Some(OutputColumn::F32 { values, .. })) => Some(values),
                    _ => None,
                };
                Some(
                    rows.map(|row| Prediction::Class {
                        label: labels[row],
                        probability: probabilities.map(|p| f64::from(p[row])),
                    })
                    .collect(),
                )
            }
            AccuracySpec::Regressor { prediction } => {
                let Some(OutputColumn::F32 { values, .. }) = column(prediction) else { return None };
                Some(rows.map(|row| Prediction::Value(f64::from(values[row]))).collect())
            }
        }
    }

    /// Records ground truth for request `id`: one value per row (`true`/`false` or 1/0 for a
    /// classifier, a number for a regressor; a single row may be given as a scalar). Returns
    /// the rows labelled and the models whose predictions they labelled. The request's
    /// predictions are then forgotten.
    pub fn post(&self, id: &str, truth: &Value) -> Result<(usize, Vec<Role>), FeedbackError> {
        let truth: Vec<&Value> = match truth {
            Value::Array(values) => values.iter().collect(),
            scalar => vec![scalar],
        };
        let parsed = truth
            .iter()
            .enumerate()
            .map(|(row, value)| self.truth_value(value).ok_or_else(|| self.kind_error(row, value)))
            .collect::<Result<Vec<f64>, FeedbackError>>()?;
        let entry = {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let rows = match pending.by_id.get(id).and_then(|e| e.first()) {
                None => return Err(FeedbackError::Unknown { capacity: self.capacity }),
                Some((_, predictions)) => predictions.len(),
            };
            if rows != parsed.len() {
                return Err(FeedbackError::Invalid(format!(
                    "request `{id}` had {rows} rows; `truth` has {} values",
                    parsed.len()
                )));
            }
            pending.order.retain(|kept| kept != id);
            pending.by_id.remove(id).unwrap_or_default()
        };
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let roles = entry.iter().map(|(role, _)| *role).collect();
        for (role, predictions) in entry {
            let window = windows.entry(role).or_insert_with(|| AccuracyWindow::new(self.window));
            for (prediction, truth) in predictions.iter().zip(&parsed) {
                match prediction {
                    Prediction::Class { label, probability } => {
                        window.add_classified(*label, *probability, *truth != 0.0)
                    }
                    Prediction::Value(value) => window.add_regressed(*value, *truth),
                }
            }
        }
        Ok((parsed.len(), roles))
    }

    fn truth_value(&self, value: &Value) -> Option<f64> {
        match (&self.accuracy, value) {
            (AccuracySpec::Classifier { .. }, Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
            (AccuracySpec::Classifier { .. }, Value::Number(n)) => n.as_f64().filter(|x| *x == 0.0 || *x == 1.0),
            (AccuracySpec::Regressor { .. }, Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()),
            _ => None,
        }
    }

    fn kind_error(&self, row: usize, value: &Value) -> FeedbackError {
        let expected = match self.accuracy {
            AccuracySpec::Classifier { .. } => "true, false, 1 or 0",
            AccuracySpec::Regressor { .. } => "a finite number",
        };
        FeedbackError::Invalid(format!("`truth` row {row}: expected {expected}, found {value}"))
    }

    /// The accuracy window of each model that has labelled rows.
    pub fn report(&self) -> Vec<(Role, AccuracyReport)> {
        let windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut reports: Vec<(Role, AccuracyReport)> = windows.iter().map(|(role, w)| (*role, w.report())).collect();
        reports.sort_by_key(|(role, _)| role.as_str());
        reports
    }

    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).order.len()
    }
}
