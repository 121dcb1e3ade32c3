//! The declared inputs of a pipeline and the roles of the columns it computes: the IR holds
//! them (`InputSpec<String>`), code generation writes them into a generated crate's static
//! `SPEC` (`InputSpec<&'static str>`), and the runtime checks batches against them.

/// The element type of an input as declared. Numeric kinds (f32, f64, i64) are all computed
/// in f32: they arrive in a [`Column::F32`](crate::Column::F32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    F32,
    F64,
    I64,
    Bool,
    Str,
}

impl InputKind {
    /// The type's keyword in a `.pipe` file.
    pub fn keyword(self) -> &'static str {
        match self {
            InputKind::F32 => "f32",
            InputKind::F64 => "f64",
            InputKind::I64 => "i64",
            InputKind::Bool => "bool",
            InputKind::Str => "str",
        }
    }
}

/// A declared input of the pipeline. `Name` is how the name is held: `&'static str` in a
/// generated crate's static spec (the default), `String` in the compiler's IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputSpec<Name = &'static str> {
    pub name: Name,
    pub kind: InputKind,
    /// Elements per row (1 for a scalar).
    pub width: usize,
    /// Declared as a fixed-length vector `T[n]` (even `T[1]`), rather than a scalar.
    pub is_vector: bool,
    pub nullable: bool,
}

/// What a column the pipeline computes is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OutputRole {
    /// An entry of the `output` section, returned to clients.
    #[default]
    Output,
    /// An entry of the `checks` section: one boolean per row, true when the row passes.
    Check,
    /// A feature the `monitor` section watches (features that are outputs or inputs are read
    /// where they already are); computed for the server's drift statistics only, never
    /// returned to clients.
    Watch,
}

impl OutputRole {
    /// The role's word in the IR's text rendering.
    pub fn keyword(self) -> &'static str {
        match self {
            OutputRole::Output => "output",
            OutputRole::Check => "check",
            OutputRole::Watch => "watch",
        }
    }
}
