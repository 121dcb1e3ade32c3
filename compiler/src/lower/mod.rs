//! Lowering: the AST of one `.pipe` file to a checked [`Graph`].
//!
//! Phases, in order: collect declarations (duplicates), load the models' weight files,
//! order the bindings by their dependencies (cycles), then lower each binding's expression,
//! checking names, types, vector lengths and artifact shapes as it goes. Errors are collected,
//! not returned at the first; a binding whose lowering failed is poisoned so that it does not
//! cause a cascade of follow-on errors. Then the checks are lowered (nullable values allowed)
//! and appended to the outputs, then the monitor section (`monitor.rs`: watched values, the
//! reference CSV, baselines from the interpreter). Finally inputs and features that reach no
//! output, check or watched name get a warning, and the build identity is computed from the
//! source and the artifact bytes recorded by [`Lowerer::read_artifact_at`].

mod args;
mod builtins;
mod expr;
#[cfg(test)]
mod language_coverage;
mod models;
mod monitor;
mod onnx;
mod order;
mod scope;
mod trees;

use crate::ir::{Graph, InputKind, InputSpec, Op, OutputRole, OutputSpec, Ty};
use pipec_dsl::ast::{self, ScalarType};
use pipec_dsl::{Diagnostic, Span};
use std::cell::RefCell;
use std::collections::BTreeMap;
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

/// The state of lowering one pipeline. Its fields are private to `lower`: the graph grows
/// only through [`Graph`]'s own methods (so its topological order holds), and every artifact
/// is read through [`Lowerer::read_artifact_at`].
pub(crate) struct Lowerer<'a> {
    ast: &'a ast::Pipeline,
    base_dir: &'a Path,
    graph: Graph,
    scope: Scope<'a>,
    env: HashMap<String, Val>,
    models: Vec<Option<ModelDef>>,
    diagnostics: Vec<Diagnostic>,
    /// Lowering a check: nullable values may be used.
    in_check: bool,
    /// Every artifact file read, by its path as written in the source, for the identity.
    artifacts: RefCell<BTreeMap<String, Vec<u8>>>,
    /// The tensors of each safetensors file and those the pipeline reads, for `W0003`.
    tensor_uses: RefCell<BTreeMap<String, TensorUse>>,
}

/// What a safetensors file holds and what of it the pipeline reads.
pub(crate) struct TensorUse {
    /// Where the file is first named.
    span: Span,
    all: Vec<String>,
    used: std::collections::BTreeSet<String>,
}

impl Lowerer<'_> {
    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reads the artifact file a string literal at `span` names, `written` (relative to the
    /// `.pipe` file), once, and records its bytes for the build identity; a failure is the
    /// diagnostic, labelled "this `what`". Every artifact read goes through here.
    pub fn read_artifact_at(&self, written: &str, span: Span, what: &str) -> Result<Vec<u8>, Diagnostic> {
        if let Some(bytes) = self.artifacts.borrow().get(written) {
            return Ok(bytes.clone());
        }
        let file = self.base_dir.join(written);
        let bytes = crate::artifacts::read_bytes(&file).map_err(|e| {
            Diagnostic::error(e.code(), e.to_string())
                .with_primary(span, format!("this {what}"))
                .with_note(format!("artifact paths are relative to the .pipe file: {}", file.display()))
        })?;
        self.artifacts.borrow_mut().insert(written.to_string(), bytes.clone());
        Ok(bytes)
    }

    /// Records that the pipeline reads `used` of the tensors `all` of the safetensors file
    /// `written`, named at `span`.
    pub fn record_tensor_use(&self, written: &str, span: Span, all: &[String], used: impl IntoIterator<Item = String>) {
        let mut uses = self.tensor_uses.borrow_mut();
        let entry = uses.entry(written.to_string()).or_insert_with(|| TensorUse {
            span,
            all: all.to_vec(),
            used: std::collections::BTreeSet::new(),
        });
        entry.used.extend(used);
    }

    pub fn push(&mut self, op: Op, ty: Ty, span: Span) -> crate::ir::NodeId {
        self.graph.push(op, ty, span)
    }
}

/// Lowers a parsed pipeline; `source` is its text (for the identity), `base_dir` the folder
/// artifact paths are relative to. Returns the graph and warnings, or every diagnostic
/// (errors and warnings) on failure.
pub fn lower(ast: &ast::Pipeline, source: &str, base_dir: &Path) -> Result<(Graph, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let scope = Scope::collect(ast, &mut diagnostics);
    let mut lowerer = Lowerer {
        ast,
        base_dir,
        graph: Graph::new(
            ast.name.name.clone(),
            ast.version.as_ref().map_or_else(|| "0.0.0".to_string(), |v| v.value.clone()),
        ),
        scope,
        env: HashMap::new(),
        models: Vec::new(),
        diagnostics,
        in_check: false,
        artifacts: RefCell::new(BTreeMap::new()),
        tensor_uses: RefCell::new(BTreeMap::new()),
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
            lowerer.graph.label_if_unnamed(*id, &binding.name.name);
        }
        lowerer.env.insert(binding.name.name.clone(), val);
    }
    lower_outputs(&mut lowerer);
    lower_checks(&mut lowerer);
    monitor::lower_monitor(&mut lowerer);
    let watched = monitor::watched_idents(ast);
    lowerer.diagnostics.extend(order::unused_warnings(&lowerer.scope, &watched));
    lowerer.diagnostics.extend(unused_tensor_warnings(&lowerer.tensor_uses.borrow()));
    let Lowerer { mut graph, diagnostics, artifacts, .. } = lowerer;
    graph.identity = crate::identity::compute(source.as_bytes(), &artifacts.into_inner());
    if diagnostics.iter().any(Diagnostic::is_error) { Err(diagnostics) } else { Ok((graph, diagnostics)) }
}

/// `W0003` for each safetensors file holding tensors that no part of the pipeline reads: most
/// often a model shipped with its scaler, whose inputs then go unscaled.
fn unused_tensor_warnings(uses: &BTreeMap<String, TensorUse>) -> Vec<Diagnostic> {
    uses.iter()
        .filter_map(|(written, tensor_use)| {
            let unused: Vec<String> =
                tensor_use.all.iter().filter(|n| !tensor_use.used.contains(*n)).map(|n| format!("`{n}`")).collect();
            (!unused.is_empty()).then(|| {
                Diagnostic::warning(
                    "W0003",
                    format!("`{written}` holds tensors that no part of the pipeline reads: {}", unused.join(", ")),
                )
                .with_primary(tensor_use.span, "this file")
                .with_note(format!(
                    "if they are the model's preprocessing (a scaler's `mean` and `std` or `scale`), apply it: \
                     `standardize(x, stats: \"{written}\")`; otherwise check that this is the file the model was trained with"
                ))
            })
        })
        .collect()
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
            width: width.clamp(1, MAX_WIDTH) as usize,
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
                lowerer.graph.label_if_unnamed(id, &decl.name.name);
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
            Val::Num { id, nullable: false } => lowerer.graph.push_output(OutputSpec {
                name: binding.name.name.clone(),
                node: id,
                role: OutputRole::Output,
            }),
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

/// The `checks` section, after the outputs: each check must be one boolean; nullable values
/// may be used inside it. Each becomes an output with role `Check`, in declared order.
fn lower_checks(lowerer: &mut Lowerer) {
    for (index, binding) in lowerer.ast.checks.iter().enumerate() {
        if lowerer.scope.get(&binding.name.name) != Some(&Decl::Check(index)) {
            continue; // a duplicate name, already reported
        }
        lowerer.in_check = true;
        let val = expr::lower_expr(lowerer, &binding.value);
        lowerer.in_check = false;
        let name = &binding.name.name;
        let span = binding.value.span;
        let not_bool = |found: String| {
            Diagnostic::error("E0207", format!("check `{name}` is not one boolean"))
                .with_primary(span, format!("expected `bool`, found `{found}`"))
                .with_note("a check is a condition per row, such as `x >= 0 and x < 10`")
        };
        match val {
            Val::Num { id, nullable } => match lowerer.graph.ty(id) {
                Ty::Bool(1) if nullable => lowerer.error(
                    Diagnostic::error("E0204", format!("check `{name}` may be missing"))
                        .with_primary(span, "this boolean is nullable; a check must be true or false"),
                ),
                Ty::Bool(1) => {
                    lowerer.graph.label_if_unnamed(id, name);
                    lowerer.graph.push_output(OutputSpec { name: name.clone(), node: id, role: OutputRole::Check });
                }
                ty => {
                    let d = not_bool(ty.to_string());
                    lowerer.error(d);
                }
            },
            Val::Str { .. } => {
                let d = not_bool("str".to_string());
                lowerer.error(d);
            }
            Val::Model(_) => lowerer.error(
                Diagnostic::error("E0105", format!("check `{name}` is a model, not a value"))
                    .with_primary(span, "apply the model to its input: `model(x)`"),
            ),
            Val::Poisoned => {}
        }
    }
}
