//! Lowering: the AST of one `.pipe` file to a checked [`Graph`].
//!
//! Phases, in order: collect declarations (duplicates), load the models' weight files,
//! order the bindings by their dependencies (cycles), then lower each binding's expression,
//! checking names, types, vector lengths and artifact shapes as it goes. Errors are collected,
//! not returned at the first; a binding whose lowering failed is poisoned so that it does not
//! cause a cascade of follow-on errors. Finally inputs and features that reach no output get a
//! warning.

mod args;
mod builtins;
mod expr;
mod models;
mod order;
mod scope;

use crate::ir::{Graph, InputKind, InputSpec, Op, OutputSpec, Ty};
use pipec_dsl::ast::{self, ScalarType};
use pipec_dsl::{Diagnostic, Span};
use std::collections::HashMap;
use std::path::Path;

pub use models::ModelDef;
use scope::{Decl, Scope};

/// What a name stands for while lowering.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// A numeric (`Ty::F32`) or boolean (`Ty::Bool`) value; `nullable` until imputed.
    Num { id: crate::ir::NodeId, nullable: bool },
    /// A string input, categorical: used only through one_hot, hash_bucket and impute.
    Str { input: u32, missing: Option<String> },
    /// A model, to be applied to an input.
    Model(usize),
    /// The result of an expression that already had an error reported.
    Poisoned,
}

pub(crate) struct Lowerer<'a> {
    pub ast: &'a ast::Pipeline,
    pub base_dir: &'a Path,
    pub graph: Graph,
    pub scope: Scope<'a>,
    pub env: HashMap<String, Val>,
    pub models: Vec<Option<ModelDef>>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Lowerer<'_> {
    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn push(&mut self, op: Op, ty: Ty, span: Span) -> crate::ir::NodeId {
        self.graph.push(op, ty, span)
    }
}

/// Lowers a parsed pipeline; `base_dir` is the folder artifact paths are relative to.
/// Returns the graph and warnings, or every diagnostic (errors and warnings) on failure.
pub fn lower(ast: &ast::Pipeline, base_dir: &Path) -> Result<(Graph, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let scope = Scope::collect(ast, &mut diagnostics);
    let mut lowerer = Lowerer {
        ast,
        base_dir,
        graph: Graph {
            name: ast.name.name.clone(),
            version: ast.version.as_ref().map_or_else(|| "0.0.0".to_string(), |v| v.value.clone()),
            ..Graph::default()
        },
        scope,
        env: HashMap::new(),
        models: Vec::new(),
        diagnostics,
    };
    if ast.version.is_none() {
        lowerer.diagnostics.push(
            Diagnostic::warning("W0002", "the pipeline has no version; `0.0.0` is used")
                .with_primary(ast.name.span, "add `version \"1.0.0\"` inside this pipeline"),
        );
    }
    lower_inputs(&mut lowerer);
    for (index, decl) in ast.models.iter().enumerate() {
        let model = models::load(&mut lowerer, decl);
        lowerer.models.push(model);
        // A duplicate name was reported by the scope; the first declaration keeps the name.
        if lowerer.scope.get(&decl.name.name) == Some(&Decl::Model(index)) {
            lowerer.env.insert(decl.name.name.clone(), Val::Model(lowerer.models.len() - 1));
        }
    }
    let order = order::binding_order(&lowerer.scope, &mut lowerer.diagnostics);
    for binding in order {
        let val = expr::lower_expr(&mut lowerer, &binding.value);
        if let Val::Num { id, .. } = &val {
            lowerer.graph.labels[id.index()].get_or_insert_with(|| binding.name.name.clone());
        }
        lowerer.env.insert(binding.name.name.clone(), val);
    }
    lower_outputs(&mut lowerer);
    lowerer.diagnostics.extend(order::unused_warnings(&lowerer.scope));
    let Lowerer { graph, diagnostics, .. } = lowerer;
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok((graph, diagnostics))
    }
}

fn lower_inputs(lowerer: &mut Lowerer) {
    for (index, decl) in lowerer.ast.inputs.iter().enumerate() {
        let index = index as u32;
        let ty = &decl.ty;
        let kind = match ty.scalar {
            ScalarType::F32 => InputKind::F32,
            ScalarType::F64 => InputKind::F64,
            ScalarType::I64 => InputKind::I64,
            ScalarType::Bool => InputKind::Bool,
            ScalarType::Str => InputKind::Str,
        };
        let width = ty.len.unwrap_or(1);
        if width == 0 || width > MAX_WIDTH {
            lowerer.error(
                Diagnostic::error("E0202", format!("vector length {width} is out of range"))
                    .with_primary(ty.span, format!("expected a length from 1 to {MAX_WIDTH}")),
            );
        }
        if kind == InputKind::Str && ty.len.is_some() {
            lowerer.error(
                Diagnostic::error("E0201", "string inputs are scalars")
                    .with_primary(ty.span, "expected `str` or `str?`, not a vector of strings"),
            );
        }
        lowerer.graph.inputs.push(InputSpec {
            name: decl.name.name.clone(),
            kind,
            width: width.clamp(1, MAX_WIDTH),
            is_vector: ty.len.is_some(),
            nullable: ty.nullable,
        });
        let val = match kind {
            InputKind::Str => Val::Str { input: index, missing: None },
            _ => {
                let node_ty = if kind == InputKind::Bool {
                    Ty::Bool(width.clamp(1, MAX_WIDTH))
                } else {
                    Ty::F32(width.clamp(1, MAX_WIDTH))
                };
                let id = lowerer.push(Op::Input { input: index }, node_ty, decl.name.span);
                lowerer.graph.labels[id.index()] = Some(decl.name.name.clone());
                Val::Num { id, nullable: ty.nullable }
            }
        };
        if !matches!(lowerer.scope.get(&decl.name.name), Some(Decl::Input(i)) if *i == index as usize) {
            continue; // a duplicate name: the first declaration wins
        }
        lowerer.env.insert(decl.name.name.clone(), val);
    }
}

/// The widest vector pipec accepts anywhere (inputs, features, layer widths).
pub const MAX_WIDTH: u32 = 1 << 20;

fn lower_outputs(lowerer: &mut Lowerer) {
    for (index, binding) in lowerer.ast.outputs.iter().enumerate() {
        if lowerer.scope.get(&binding.name.name) != Some(&Decl::Output(index)) {
            continue; // a duplicate name, already reported
        }
        let Some(val) = lowerer.env.get(&binding.name.name).cloned() else { continue };
        let span = binding.value.span;
        match val {
            Val::Num { id, nullable: false } => {
                lowerer.graph.outputs.push(OutputSpec { name: binding.name.name.clone(), node: id })
            }
            Val::Num { nullable: true, .. } => lowerer.error(
                Diagnostic::error("E0204", format!("output `{}` may be missing", binding.name.name))
                    .with_primary(span, "this value is nullable; outputs must be numbers or booleans")
                    .with_note("replace missing values first: impute(x, value)"),
            ),
            Val::Str { .. } => lowerer.error(
                Diagnostic::error("E0201", format!("output `{}` is a string", binding.name.name))
                    .with_primary(span, "expected a number or boolean, found `str`"),
            ),
            Val::Model(_) => lowerer.error(
                Diagnostic::error("E0105", format!("output `{}` is a model, not a value", binding.name.name))
                    .with_primary(span, "apply the model to its input: `model(x)`"),
            ),
            Val::Poisoned => {}
        }
    }
}
