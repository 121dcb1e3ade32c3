//! Where a batch ran: the [`Route`] a worker's scorer chose for it. Shown as text (the
//! `device` label of `pipec_batch_rows`, an audit record's `route`, the log) it is always one
//! of the labels `native`, `cpu` and `wgpu`, and `replay` reads a record's label back into a
//! route to run the batch there again.

use std::fmt;

/// The code that ran a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The native one-row path.
    Native,
    /// burn's CPU backend (`flex`).
    Cpu,
    /// wgpu: the fused kernel, or burn where the pipeline could not be fused.
    Wgpu,
}

/// A route label that names none of the routes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown route `{0}`")]
pub struct UnknownRoute(pub String);

impl Route {
    /// The label in metrics, audit records and logs.
    pub fn label(self) -> &'static str {
        match self {
            Route::Native => "native",
            Route::Cpu => "cpu",
            Route::Wgpu => "wgpu",
        }
    }

    /// The route of a label that [`Route::label`] wrote.
    pub fn from_label(label: &str) -> Result<Route, UnknownRoute> {
        [Route::Native, Route::Cpu, Route::Wgpu]
            .into_iter()
            .find(|route| route.label() == label)
            .ok_or_else(|| UnknownRoute(label.to_string()))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn labels_read_back_as_their_routes() {
        for route in [Route::Native, Route::Cpu, Route::Wgpu] {
            assert_eq!(Route::from_label(route.label()), Ok(route));
        }
        assert_eq!(Route::from_label("tpu").unwrap_err().to_string(), "unknown route `tpu`");
    }
}
