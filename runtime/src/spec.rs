//! Static descriptions of a pipeline's inputs and outputs, emitted by code generation. The
//! parts the compiler shares (input kinds and specs, output roles) come from `pipec-interface`.

/// An input's kind and declaration, and a computed column's role: defined once, for the
/// compiler too, in `pipec-interface` (here `InputSpec` holds `&'static str` names).
pub use pipec_interface::{InputKind, InputSpec, OutputRole};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    F32,
    Bool,
}

/// One column the pipeline computes. Generated code returns the columns in the order of
/// [`PipelineSpec::outputs`]: every [`OutputRole::Output`] first, then the checks, then the
/// watched features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub name: &'static str,
    pub kind: OutputKind,
    pub width: usize,
    pub role: OutputRole,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    pub name: &'static str,
    pub version: &'static str,
    /// The build's identity: SHA-256 (hex) over the pipec version, the `.pipe` source, the
    /// bytes of every artifact it read and the passes switched off.
    pub identity: &'static str,
    pub inputs: &'static [InputSpec],
    /// Every column the pipeline computes, in the order generated code returns them.
    pub outputs: &'static [OutputSpec],
    /// The `monitor` section, as the JSON of a `pipec_monitor::MonitorSpec` (baselines
    /// computed at build time), if the `.pipe` file has one.
    pub monitor: Option<&'static str>,
}

impl PipelineSpec {
    /// The columns returned to clients, with their indices among all computed columns.
    pub fn public_outputs(&self) -> impl Iterator<Item = (usize, &'static OutputSpec)> + '_ {
        self.outputs.iter().enumerate().filter(|(_, o)| o.role == OutputRole::Output)
    }

    /// The `checks` entries, with their column indices.
    pub fn checks(&self) -> impl Iterator<Item = (usize, &'static OutputSpec)> + '_ {
        self.outputs.iter().enumerate().filter(|(_, o)| o.role == OutputRole::Check)
    }
}
