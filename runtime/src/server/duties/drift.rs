//! Drift of the features the `monitor` section watches: each answered row feeds a sliding
//! window per feature, compared with the baseline computed at build time (`pipec-monitor`).

use crate::batch::{Batch, Column};
use crate::output::OutputColumn;
use crate::spec::PipelineSpec;
use pipec_monitor::{DriftMonitor, FeatureDrift, MonitorSpec, Observation, Source};
use std::sync::Mutex;

pub struct Drift {
    spec: MonitorSpec,
    monitor: Mutex<DriftMonitor>,
}

/// The `monitor` section compiled into `spec`, if it has one.
pub fn monitor_spec(spec: &PipelineSpec) -> Result<Option<MonitorSpec>, String> {
    let Some(json) = spec.monitor else { return Ok(None) };
    let monitor: MonitorSpec =
        serde_json::from_str(json).map_err(|e| format!("the compiled-in monitor section does not parse: {e}"))?;
    for feature in &monitor.features {
        let found = match feature.source {
            Source::Input => spec.inputs.iter().any(|i| i.name == feature.name && i.width == 1),
            Source::Column => spec.outputs.iter().any(|o| o.name == feature.name && o.width == 1),
        };
        if !found {
            return Err(format!("the monitor watches `{}`, which this pipeline does not compute", feature.name));
        }
    }
    Ok(Some(monitor))
}

impl Drift {
    pub fn new(spec: MonitorSpec) -> Drift {
        let monitor = Mutex::new(DriftMonitor::new(&spec));
        Drift { spec, monitor }
    }

    pub fn spec(&self) -> &MonitorSpec {
        &self.spec
    }

    /// Feeds every row of a scored batch. Features that `spec` (the pipeline that answered)
    /// does not compute under the watched name are skipped.
    pub fn observe(&self, spec: &PipelineSpec, batch: &Batch, columns: &[OutputColumn]) {
        let mut monitor = self.monitor.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (feature, watched) in self.spec.features.iter().enumerate() {
            let values = match watched.source {
                Source::Input => {
                    let index = spec.inputs.iter().position(|i| i.name == watched.name);
                    match index.and_then(|i| batch.columns().get(i)) {
                        Some(Column::F32(v)) => Values::Numbers(v),
                        Some(Column::Bool(v)) => Values::Booleans(v),
                        Some(Column::Str(v)) => Values::Strings(v),
                        None => continue,
                    }
                }
                Source::Column => {
                    let index = spec.outputs.iter().position(|o| o.name == watched.name);
                    match index.and_then(|i| columns.get(i)) {
                        Some(OutputColumn::F32 { values, .. }) => Values::Numbers(values),
                        Some(OutputColumn::Bool { values, .. }) => Values::Booleans(values),
                        None => continue,
                    }
                }
            };
            match values {
                Values::Numbers(v) => {
                    v.iter().for_each(|x| monitor.observe(feature, Observation::Number(f64::from(*x))))
                }
                Values::Booleans(v) => v.iter().for_each(|b| {
                    monitor.observe(feature, Observation::Category(Some(if *b { "true" } else { "false" })))
                }),
                Values::Strings(v) => {
                    v.iter().for_each(|s| monitor.observe(feature, Observation::Category(s.as_deref())))
                }
            }
        }
    }

    pub fn report(&self) -> Vec<FeatureDrift> {
        self.monitor.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).report()
    }
}

enum Values<'a> {
    Numbers(&'a [f32]),
    Booleans(&'a [bool]),
    Strings(&'a [Option<std::sync::Arc<str>>]),
}
