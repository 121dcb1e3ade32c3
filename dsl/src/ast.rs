//! The abstract syntax tree of a `.pipe` file.
//!
//! Every node keeps the byte span of the source text it came from, so that the compiler can
//! point its diagnostics at the exact place. The tree is syntax only: names are not resolved
//! and nothing is type-checked here.

use crate::span::Span;

/// A name as written in the source, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal (quotes removed, escapes resolved), with the span of the whole literal.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// One `pipeline NAME { ... }` block: the whole file.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub name: Ident,
    /// `version "x.y.z"`; optional in the grammar, the compiler decides whether it is required.
    pub version: Option<StrLit>,
    /// Declarations of the `input { ... }` section, in source order.
    pub inputs: Vec<InputDecl>,
    /// Bindings of the `features { ... }` section, in source order.
    pub features: Vec<Binding>,
    /// Declarations of the `models { ... }` section, in source order.
    pub models: Vec<ModelDecl>,
    /// Bindings of the `output { ... }` section, in source order.
    pub outputs: Vec<Binding>,
    /// Bindings of the `checks { ... }` section, in source order: one boolean per row each.
    pub checks: Vec<Binding>,
    /// The `monitor { ... }` section, if present.
    pub monitor: Option<Monitor>,
    /// The span of each section keyword that was present (for "missing section" style notes).
    pub sections: Vec<(SectionKind, Span)>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Input,
    Features,
    Models,
    Output,
    Checks,
    Monitor,
}

/// The `monitor { key: value ... }` section. Keys and values are checked by the compiler.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    /// The entries, in source order (duplicates included: the compiler reports them).
    pub entries: Vec<MonitorEntry>,
    /// The span of the `monitor` keyword.
    pub keyword: Span,
}

/// `key: value` in the monitor section; the value is any expression (a string, a number, a
/// name or a list of names, as the key requires).
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorEntry {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `name: type` in the input section.
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `f32`, `str?`, `f32[8]`, `f32[8]?`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub scalar: ScalarType,
    /// `Some(n)` for a fixed-length vector `T[n]`.
    pub len: Option<u32>,
    pub nullable: bool,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    F32,
    F64,
    I64,
    Bool,
    Str,
}

impl ScalarType {
    pub fn keyword(self) -> &'static str {
        match self {
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
            ScalarType::I64 => "i64",
            ScalarType::Bool => "bool",
            ScalarType::Str => "str",
        }
    }
}

/// `name = expr` in the features, output or checks section.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `name = kind("file", key: value, ...)` in the models section, e.g.
/// `risk = mlp("risk.safetensors", activation: relu, output: sigmoid)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDecl {
    pub name: Ident,
    /// `mlp`, `linear`, `logistic`, ... (checked by the compiler, not the parser).
    pub kind: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// A call argument, positional (`name == None`) or named (`stats: "s.json"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A numeric literal; integer literals are numbers too (`3` and `3.0` are the same value).
    Number(f64),
    Bool(bool),
    Str(String),
    /// `[a, b, c]`: a vector built from its elements.
    List(Vec<Expr>),
    /// A reference to an input, feature, output or (bare) model name.
    Name(Ident),
    /// `callee(args)`: a built-in function or a model applied to its input.
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `base[index]`: one element of a vector, `index` a non-negative integer literal.
    Index {
        base: Box<Expr>,
        index: u32,
        index_span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// Every infix operator; [`BinaryOp::symbol`] is how the language writes each one.
    pub const ALL: [BinaryOp; 12] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::And,
        BinaryOp::Or,
    ];

    /// The operator the language writes as `symbol`, if any.
    pub fn from_symbol(symbol: &str) -> Option<BinaryOp> {
        BinaryOp::ALL.into_iter().find(|op| op.symbol() == symbol)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne)
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
}

#[cfg(test)]
mod tests {
    use super::BinaryOp;

    #[test]
    fn every_operator_is_read_back_from_its_symbol() {
        for op in BinaryOp::ALL {
            assert_eq!(BinaryOp::from_symbol(op.symbol()), Some(op), "{}", op.symbol());
        }
        assert_eq!(BinaryOp::from_symbol("%"), None);
    }
}
