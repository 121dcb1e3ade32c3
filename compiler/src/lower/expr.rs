//! Expressions: names, literals, operators and indexing, with their types checked.

use super::scope::{Decl, suggest};
use super::{Lowerer, Val, builtins, models};
use crate::ir::{BinaryFn, NodeId, Op, Ty, UnaryFn};
use pipec_dsl::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use pipec_dsl::{Diagnostic, Span};

pub(crate) fn lower_expr(lw: &mut Lowerer, expr: &Expr) -> Val {
    let span = expr.span;
    match &expr.kind {
        ExprKind::Number(v) => {
            let value = *v as f32;
            if !value.is_finite() {
                lw.error(
                    Diagnostic::error("E0201", "number out of the range of f32")
                        .with_primary(span, "too large for f32"),
                );
                return Val::Poisoned;
            }
            num(lw.push(Op::Const { values: vec![value] }, Ty::F32(1), span))
        }
        ExprKind::Bool(b) => num(lw.push(Op::Const { values: vec![f32::from(u8::from(*b))] }, Ty::Bool(1), span)),
        ExprKind::Str(_) => {
            lw.error(
                Diagnostic::error("E0201", "a string is not a value here")
                    .with_primary(span, "expected a number or boolean")
                    .with_note("strings are arguments: file paths, vocabularies and impute values of `str?` inputs"),
            );
            Val::Poisoned
        }
        ExprKind::List(items) => {
            if items.is_empty() {
                lw.error(
                    Diagnostic::error("E0202", "empty vector").with_primary(span, "expected at least one element"),
                );
                return Val::Poisoned;
            }
            let mut parts = Vec::with_capacity(items.len());
            let mut nullable = false;
            for item in items {
                let val = lower_expr(lw, item);
                match nullable_f32(lw, val, item.span) {
                    Some((id, part_nullable)) => {
                        parts.push(id);
                        nullable |= part_nullable;
                    }
                    None => return Val::Poisoned,
                }
            }
            with_nullable(concat(lw, parts, span), nullable)
        }
        ExprKind::Name(ident) => match lw.env.get(&ident.name) {
            Some(Val::Model(_)) => {
                lw.error(
                    Diagnostic::error("E0105", format!("model `{}` used as a value", ident.name))
                        .with_primary(span, format!("apply it to its input: `{}(x)`", ident.name)),
                );
                Val::Poisoned
            }
            Some(val) => val.clone(),
            None if matches!(lw.scope.get(&ident.name), Some(Decl::Check(_))) => {
                lw.error(
                    Diagnostic::error("E0107", format!("check `{}` cannot be used as a value", ident.name))
                        .with_primary(span, "checks are results of the pipeline; nothing may refer to one")
                        .with_note("to reuse the condition, make it a feature and refer to that in the check"),
                );
                Val::Poisoned
            }
            // Declared, but its own definition failed or is part of a cycle: already reported.
            None if lw.scope.get(&ident.name).is_some() => Val::Poisoned,
            None => {
                let mut d = Diagnostic::error("E0101", format!("unknown name `{}`", ident.name))
                    .with_primary(span, "not an input, feature, model or output of this pipeline");
                if let Some(s) = suggest(&ident.name, lw.scope.names()) {
                    d = d.with_note(format!("did you mean `{s}`?"));
                }
                lw.error(d);
                Val::Poisoned
            }
        },
        ExprKind::Call { callee, args } => match lw.scope.get(&callee.name).copied() {
            Some(Decl::Model(_)) => apply_model(lw, &callee.name, args, span),
            Some(_) => {
                lw.error(
                    Diagnostic::error("E0105", format!("`{}` is not a function or model", callee.name))
                        .with_primary(callee.span, "only models and built-in functions can be called"),
                );
                Val::Poisoned
            }
            None => builtins::lower_call(lw, callee, args, span),
        },
        ExprKind::Unary { op, operand } => {
            let val = lower_expr(lw, operand);
            match op {
                UnaryOp::Neg => match require_f32(lw, val, operand.span) {
                    Some(x) => num(lw.push(Op::Unary { op: unary_fn(*op), x }, lw.graph.ty(x), span)),
                    None => Val::Poisoned,
                },
                UnaryOp::Not => match require_bool(lw, val, operand.span) {
                    Some(x) => num(lw.push(Op::Unary { op: unary_fn(*op), x }, lw.graph.ty(x), span)),
                    None => Val::Poisoned,
                },
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let a = lower_expr(lw, lhs);
            let b = lower_expr(lw, rhs);
            binary(lw, *op, (a, lhs.span), (b, rhs.span), span)
        }
        ExprKind::Index { base, index, index_span } => {
            let val = lower_expr(lw, base);
            let Some(x) = require_value(lw, val, base.span) else { return Val::Poisoned };
            let ty = lw.graph.ty(x);
            if *index >= ty.width() {
                lw.error(
                    Diagnostic::error("E0205", format!("index {index} is out of range for {ty}"))
                        .with_primary(*index_span, format!("expected an index below {}", ty.width())),
                );
                return Val::Poisoned;
            }
            let elem = match ty {
                Ty::Bool(_) => Ty::Bool(1),
                _ => Ty::F32(1),
            };
            num(lw.push(Op::Slice { x, start: *index, len: 1 }, elem, span))
        }
    }
}

fn num(id: NodeId) -> Val {
    Val::Num { id, nullable: false }
}

fn apply_model(lw: &mut Lowerer, name: &str, args: &[pipec_dsl::ast::Arg], span: Span) -> Val {
    let Some(Val::Model(index)) = lw.env.get(name).cloned() else { return Val::Poisoned };
    let call = match super::args::CallArgs::check(name, span, args, (1, 1), &[]) {
        Ok(call) => call,
        Err(d) => {
            lw.error(d);
            return Val::Poisoned;
        }
    };
    let arg = call.positional[0];
    let val = lower_expr(lw, arg);
    // A model whose file failed to load was reported at its declaration.
    let model = lw.models.get(index).cloned().flatten();
    let applied = match model {
        // Tree models route missing values themselves: a nullable input is fine.
        Some(models::ModelDef::Trees(trees)) => {
            let Some((x, _)) = nullable_f32(lw, val, arg.span) else { return Val::Poisoned };
            super::trees::apply(lw, &trees, x, arg.span, span)
        }
        // An ONNX model takes missing values only when its graph replaces them first.
        Some(models::ModelDef::Onnx(onnx)) => {
            let Some((x, nullable)) = nullable_f32(lw, val, arg.span) else { return Val::Poisoned };
            super::onnx::apply(lw, &onnx, x, nullable, arg.span, span)
        }
        Some(models::ModelDef::Dense(dense)) => {
            let Some(x) = require_f32(lw, val, arg.span) else { return Val::Poisoned };
            models::apply(lw, &dense, x, arg.span, span)
        }
        None => return Val::Poisoned,
    };
    match applied {
        Some(id) => num(id),
        None => Val::Poisoned,
    }
}

/// An f32 value that may be missing, and whether it may: vectors built from nullable parts
/// are nullable, and only what accepts missing values (tree models, `impute`, `is_missing`)
/// takes them.
pub(crate) fn nullable_f32(lw: &mut Lowerer, val: Val, span: Span) -> Option<(NodeId, bool)> {
    let (val, nullable) = match val {
        Val::Num { id, nullable } => (Val::Num { id, nullable: false }, nullable),
        other => (other, false),
    };
    require_f32(lw, val, span).map(|id| (id, nullable))
}

/// `val` marked nullable when `nullable` is set.
pub(crate) fn with_nullable(val: Val, nullable: bool) -> Val {
    match val {
        Val::Num { id, nullable: was } => Val::Num { id, nullable: was || nullable },
        other => other,
    }
}

/// Concatenation of f32 parts (a single part is itself).
pub(crate) fn concat(lw: &mut Lowerer, parts: Vec<NodeId>, span: Span) -> Val {
    if parts.len() == 1 {
        return num(parts[0]);
    }
    let width: u64 = parts.iter().map(|p| u64::from(lw.graph.ty(*p).width())).sum();
    if width > u64::from(super::MAX_WIDTH) {
        lw.error(Diagnostic::error("E0202", "vector too long").with_primary(span, format!("{width} elements")));
        return Val::Poisoned;
    }
    num(lw.push(Op::Concat { parts }, Ty::F32(width as u32), span))
}

/// The node of a non-null numeric or boolean value; reports why not otherwise. Inside a
/// check, nullable values are accepted too (a missing value is NaN, so ordering comparisons
/// and `==` with it are false, `!=` is true).
pub(crate) fn require_value(lw: &mut Lowerer, val: Val, span: Span) -> Option<NodeId> {
    match val {
        Val::Num { id, nullable: false } => Some(id),
        Val::Num { id, nullable: true } if lw.in_check => Some(id),
        Val::Num { nullable: true, .. } => {
            lw.error(
                Diagnostic::error("E0204", "this value may be missing")
                    .with_primary(span, "nullable: replace missing values before using it")
                    .with_note("use impute(x, value), or test it with is_missing(x)"),
            );
            None
        }
        Val::Str { .. } => {
            lw.error(
                Diagnostic::error("E0201", "type mismatch: found `str`")
                    .with_primary(span, "expected a number or boolean, found `str`")
                    .with_note("turn a categorical into numbers with one_hot(...) or hash_bucket(...)"),
            );
            None
        }
        Val::Model(_) => {
            lw.error(Diagnostic::error("E0105", "a model is not a value").with_primary(span, "apply it: `model(x)`"));
            None
        }
        Val::Poisoned => None,
    }
}

pub(crate) fn require_f32(lw: &mut Lowerer, val: Val, span: Span) -> Option<NodeId> {
    let id = require_value(lw, val, span)?;
    match lw.graph.ty(id) {
        Ty::F32(_) => Some(id),
        ty => {
            lw.error(
                Diagnostic::error("E0201", format!("type mismatch: expected a number, found `{ty}`"))
                    .with_primary(span, format!("expected f32, found `{ty}`")),
            );
            None
        }
    }
}

pub(crate) fn require_bool(lw: &mut Lowerer, val: Val, span: Span) -> Option<NodeId> {
    let id = require_value(lw, val, span)?;
    match lw.graph.ty(id) {
        Ty::Bool(_) => Some(id),
        ty => {
            lw.error(
                Diagnostic::error("E0201", format!("type mismatch: expected a boolean, found `{ty}`"))
                    .with_primary(span, format!("expected bool, found `{ty}`"))
                    .with_note("compare numbers to get a boolean, e.g. `x > 0.5`"),
            );
            None
        }
    }
}

/// The width of an elementwise result: equal widths, or one of them 1 (broadcast).
pub(crate) fn broadcast_width(lw: &mut Lowerer, operands: &[(NodeId, Span)], span: Span) -> Option<u32> {
    let widths: Vec<u32> = operands.iter().map(|(id, _)| lw.graph.ty(*id).width()).collect();
    let width = widths.iter().copied().max().unwrap_or(1);
    if let Some(bad) = widths.iter().position(|w| *w != 1 && *w != width) {
        let widest = widths.iter().position(|w| *w == width).unwrap_or(0);
        lw.error(
            Diagnostic::error("E0202", format!("vector lengths do not match: {} and {}", widths[bad], width))
                .with_primary(operands[bad].1, format!("this has length {}", widths[bad]))
                .with_secondary(operands[widest].1, format!("this has length {width}"))
                .with_secondary(span, "in this elementwise operation")
                .with_note("elementwise operations need equal lengths, or a length-1 operand to broadcast"),
        );
        return None;
    }
    Some(width)
}

/// The IR function of a binary operator of the source.
pub(crate) fn binary_fn(op: BinaryOp) -> BinaryFn {
    match op {
        BinaryOp::Add => BinaryFn::Add,
        BinaryOp::Sub => BinaryFn::Sub,
        BinaryOp::Mul => BinaryFn::Mul,
        BinaryOp::Div => BinaryFn::Div,
        BinaryOp::Lt => BinaryFn::Lt,
        BinaryOp::Le => BinaryFn::Le,
        BinaryOp::Gt => BinaryFn::Gt,
        BinaryOp::Ge => BinaryFn::Ge,
        BinaryOp::Eq => BinaryFn::Eq,
        BinaryOp::Ne => BinaryFn::Ne,
        BinaryOp::And => BinaryFn::And,
        BinaryOp::Or => BinaryFn::Or,
    }
}

/// The IR function of a prefix operator of the source.
pub(crate) fn unary_fn(op: UnaryOp) -> UnaryFn {
    match op {
        UnaryOp::Neg => UnaryFn::Neg,
        UnaryOp::Not => UnaryFn::Not,
    }
}

fn binary(lw: &mut Lowerer, op: BinaryOp, (a, a_span): (Val, Span), (b, b_span): (Val, Span), span: Span) -> Val {
    let ir_op = binary_fn(op);
    let (a, b) = if ir_op.is_logical() {
        (require_bool(lw, a, a_span), require_bool(lw, b, b_span))
    } else if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
        let a = require_value(lw, a, a_span);
        let b = require_value(lw, b, b_span);
        if let (Some(x), Some(y)) = (a, b) {
            let (tx, ty) = (lw.graph.ty(x), lw.graph.ty(y));
            if std::mem::discriminant(&tx) != std::mem::discriminant(&ty) {
                lw.error(
                    Diagnostic::error("E0201", format!("cannot compare `{tx}` with `{ty}`"))
                        .with_primary(b_span, format!("expected the same kind as the left side, `{tx}`"))
                        .with_secondary(a_span, format!("this is `{tx}`")),
                );
                return Val::Poisoned;
            }
        }
        (a, b)
    } else {
        (require_f32(lw, a, a_span), require_f32(lw, b, b_span))
    };
    let (Some(a), Some(b)) = (a, b) else { return Val::Poisoned };
    let Some(width) = broadcast_width(lw, &[(a, a_span), (b, b_span)], span) else { return Val::Poisoned };
    let ty = if ir_op.is_comparison() || ir_op.is_logical() { Ty::Bool(width) } else { Ty::F32(width) };
    num(lw.push(Op::Binary { op: ir_op, a, b }, ty, span))
}
