//! Static descriptions of a pipeline's inputs and outputs, emitted by code generation.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    F32,
    F64,
    I64,
    Bool,
    Str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub name: &'static str,
    pub kind: InputKind,
    /// Elements per row.
    pub width: usize,
    /// Declared as `T[n]` (even `T[1]`), rather than a scalar.
    pub is_vector: bool,
    pub nullable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    F32,
    Bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub name: &'static str,
    pub kind: OutputKind,
    pub width: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    pub name: &'static str,
    pub version: &'static str,
    pub inputs: &'static [InputSpec],
    pub outputs: &'static [OutputSpec],
}
