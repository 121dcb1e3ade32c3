//! Built-in functions of the features and output sections.

use super::args::{CallArgs, literal_number, literal_numbers, literal_str};
use super::expr::{broadcast_width, concat, lower_expr, require_bool, require_f32};
use super::scope::suggest;
use super::{Lowerer, Val};
use crate::artifacts::{parse_safetensors_stats, parse_stats, parse_vocab};
use crate::ir::{BinaryFn, CategoryMap, Matrix, NodeId, Op, Ty, UnaryFn};
use pipec_dsl::ast::{Arg, Expr, Ident};
use pipec_dsl::{Diagnostic, Span};

/// The built-in functions other than the elementwise unary ones ([`is_unary_builtin`]), each
/// an arm of [`try_lower_call`]'s `match`.
const OTHER_FUNCTIONS: [&str; 15] = [
    "softmax",
    "clip",
    "min",
    "max",
    "standardize",
    "min_max",
    "impute",
    "is_missing",
    "one_hot",
    "category_code",
    "hash_bucket",
    "bucketize",
    "concat",
    "where",
    "float",
];

/// Every built-in function's name: the elementwise unary ones, then the others.
pub(crate) fn function_names() -> impl Iterator<Item = &'static str> {
    UnaryFn::ALL.into_iter().filter(|f| is_unary_builtin(*f)).map(UnaryFn::name).chain(OTHER_FUNCTIONS)
}

/// Whether `.pipe` source calls `f` by its name as an elementwise function of one `f32`
/// value (`log(x)`), all lowered alike to one [`Op::Unary`]. Exhaustive, so that a new
/// [`UnaryFn`] is placed here: in the language, or not.
fn is_unary_builtin(f: UnaryFn) -> bool {
    match f {
        UnaryFn::Log
        | UnaryFn::Log1p
        | UnaryFn::Exp
        | UnaryFn::Sqrt
        | UnaryFn::Abs
        | UnaryFn::Sigmoid
        | UnaryFn::Relu
        | UnaryFn::Tanh => true,
        // `-x` and `not b` are operators; `is_missing` also takes strings (an arm of its own);
        // `trunc` only comes from ONNX casts.
        UnaryFn::Neg | UnaryFn::Not | UnaryFn::IsMissing | UnaryFn::Trunc => false,
    }
}

/// The largest number of categories of `hash_bucket`.
const MAX_BUCKETS: u32 = 1 << 16;

pub(crate) fn lower_call(lw: &mut Lowerer, callee: &Ident, args: &[Arg], span: Span) -> Val {
    match try_lower_call(lw, callee, args, span) {
        Ok(val) => val,
        Err(Some(d)) => {
            lw.error(d);
            Val::Poisoned
        }
        Err(None) => Val::Poisoned,
    }
}

/// `Err(None)`: an error already reported (in an argument).
type Lowered = Result<Val, Option<Diagnostic>>;

fn num(id: NodeId) -> Lowered {
    Ok(Val::Num { id, nullable: false })
}

fn try_lower_call(lw: &mut Lowerer, callee: &Ident, args: &[Arg], span: Span) -> Lowered {
    let name = callee.name.as_str();
    if let Some(op) = UnaryFn::from_name(name).filter(|f| is_unary_builtin(*f)) {
        let call = CallArgs::check(name, span, args, (1, 1), &[])?;
        let x = f32_arg(lw, call.positional[0])?;
        return num(lw.push(Op::Unary { op, x }, lw.graph.ty(x), span));
    }
    match name {
        "softmax" => {
            let call = CallArgs::check(name, span, args, (1, 1), &[])?;
            let x = f32_arg(lw, call.positional[0])?;
            num(lw.push(Op::Softmax { x }, lw.graph.ty(x), span))
        }
        "min" | "max" => {
            let call = CallArgs::check(name, span, args, (2, 2), &[])?;
            let op = if name == "min" { BinaryFn::Min } else { BinaryFn::Max };
            elementwise(lw, op, call.positional[0], call.positional[1], span)
        }
        "clip" => {
            let call = CallArgs::check(name, span, args, (3, 3), &[])?;
            let [x, lo, hi] = [call.positional[0], call.positional[1], call.positional[2]];
            let Val::Num { id: lower, .. } = elementwise(lw, BinaryFn::Max, x, lo, span)? else { return Err(None) };
            let hi_id = f32_arg(lw, hi)?;
            let width = broadcast_width(lw, &[(lower, x.span), (hi_id, hi.span)], span).ok_or(None)?;
            num(lw.push(Op::Binary { op: BinaryFn::Min, a: lower, b: hi_id }, Ty::F32(width), span))
        }
        "where" => {
            let call = CallArgs::check(name, span, args, (3, 3), &[])?;
            let [c, a, b] = [call.positional[0], call.positional[1], call.positional[2]];
            let val = lower_expr(lw, c);
            let cond = require_bool(lw, val, c.span).ok_or(None)?;
            let a_id = f32_arg(lw, a)?;
            let b_id = f32_arg(lw, b)?;
            let width = broadcast_width(lw, &[(cond, c.span), (a_id, a.span), (b_id, b.span)], span).ok_or(None)?;
            num(lw.push(Op::Where { cond, a: a_id, b: b_id }, Ty::F32(width), span))
        }
        "float" => {
            let call = CallArgs::check(name, span, args, (1, 1), &[])?;
            let arg = call.positional[0];
            let val = lower_expr(lw, arg);
            let b = require_bool(lw, val, arg.span).ok_or(None)?;
            let ty = Ty::F32(lw.graph.ty(b).width());
            let one = lw.push(Op::Const { values: vec![1.0] }, Ty::F32(1), span);
            let zero = lw.push(Op::Const { values: vec![0.0] }, Ty::F32(1), span);
            num(lw.push(Op::Where { cond: b, a: one, b: zero }, ty, span))
        }
        "concat" => {
            let call = CallArgs::check(name, span, args, (1, usize::MAX), &[])?;
            let mut parts = Vec::with_capacity(call.positional.len());
            let mut nullable = false;
            for arg in &call.positional {
                let val = lower_expr(lw, arg);
                let (id, part_nullable) = super::expr::nullable_f32(lw, val, arg.span).ok_or(None)?;
                parts.push(id);
                nullable |= part_nullable;
            }
            Ok(super::expr::with_nullable(concat(lw, parts, span), nullable))
        }
        "standardize" => affine_call(lw, name, args, span, ("mean", "std")),
        "min_max" => affine_call(lw, name, args, span, ("min", "max")),
        "impute" => impute(lw, args, span),
        "is_missing" => {
            let call = CallArgs::check(name, span, args, (1, 1), &[])?;
            let arg = call.positional[0];
            match lower_expr(lw, arg) {
                Val::Num { id, .. } if matches!(lw.graph.ty(id), Ty::F32(_)) => {
                    let ty = Ty::Bool(lw.graph.ty(id).width());
                    num(lw.push(Op::Unary { op: UnaryFn::IsMissing, x: id }, ty, span))
                }
                Val::Str { input, missing } => {
                    // Present strings are category 0 of a one-category map, a missing one is
                    // unknown, so its one-hot is 0.0 exactly when the string is missing.
                    let map = CategoryMap::Presence;
                    let index = lw.push(Op::Category { input, map, missing }, Ty::Index { categories: 1 }, arg.span);
                    let present = lw.push(Op::OneHot { index }, Ty::F32(1), arg.span);
                    let half = lw.push(Op::Const { values: vec![0.5] }, Ty::F32(1), span);
                    num(lw.push(Op::Binary { op: BinaryFn::Lt, a: present, b: half }, Ty::Bool(1), span))
                }
                Val::Poisoned => Err(None),
                _ => Err(Some(
                    Diagnostic::error("E0201", "`is_missing` takes a numeric or string input")
                        .with_primary(arg.span, "expected an f32 value or a string (nullable or not)"),
                )),
            }
        }
        "category_code" => {
            let call = CallArgs::check(name, span, args, (1, 1), &["vocab"])?;
            let vocab_expr = call.named("vocab").ok_or_else(|| {
                Diagnostic::error("E0104", "`category_code` needs a vocabulary")
                    .with_primary(span, "expected `vocab: [\"a\", \"b\"]` or `vocab: \"vocab.json\"`")
            })?;
            let vocab = vocabulary(lw, vocab_expr)?;
            category_code(lw, call.positional[0], vocab, span)
        }
        "one_hot" => {
            let call = CallArgs::check(name, span, args, (1, 1), &["vocab"])?;
            let vocab_expr = call.named("vocab").ok_or_else(|| {
                Diagnostic::error("E0104", "`one_hot` needs a vocabulary")
                    .with_primary(span, "expected `vocab: [\"a\", \"b\"]` or `vocab: \"vocab.json\"`")
            })?;
            let vocab = vocabulary(lw, vocab_expr)?;
            categorical(lw, call.positional[0], CategoryMap::Vocab(vocab), span)
        }
        "hash_bucket" => {
            let call = CallArgs::check(name, span, args, (1, 1), &["buckets"])?;
            let buckets_expr = call.named("buckets").ok_or_else(|| {
                Diagnostic::error("E0104", "`hash_bucket` needs a bucket count")
                    .with_primary(span, "expected `buckets: N`")
            })?;
            let buckets = literal_number(buckets_expr)
                .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= f64::from(MAX_BUCKETS))
                .ok_or_else(|| {
                    Diagnostic::error("E0201", "`buckets` must be a whole number")
                        .with_primary(buckets_expr.span, format!("expected an integer from 1 to {MAX_BUCKETS}"))
                })?;
            categorical(lw, call.positional[0], CategoryMap::Hash { buckets: buckets as u32 }, span)
        }
        "bucketize" => {
            let call = CallArgs::check(name, span, args, (1, 1), &["boundaries"])?;
            let x = f32_arg(lw, call.positional[0])?;
            if lw.graph.ty(x).width() != 1 {
                return Err(Some(
                    Diagnostic::error("E0202", "`bucketize` takes a scalar")
                        .with_primary(call.positional[0].span, format!("this is `{}`", lw.graph.ty(x))),
                ));
            }
            let b_expr = call.named("boundaries").ok_or_else(|| {
                Diagnostic::error("E0104", "`bucketize` needs boundaries")
                    .with_primary(span, "expected `boundaries: [b0, b1, ...]`")
            })?;
            let boundaries = literal_numbers(b_expr, "boundaries")?;
            if boundaries.is_empty() || boundaries.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Some(
                    Diagnostic::error("E0201", "boundaries must be strictly increasing")
                        .with_primary(b_expr.span, "expected a non-empty increasing list"),
                ));
            }
            num(lw.push(Op::Bucketize { x, boundaries }, Ty::F32(1), span))
        }
        _ => {
            let mut d = Diagnostic::error("E0103", format!("unknown function `{name}`"))
                .with_primary(callee.span, "not a built-in function or a model of this pipeline");
            let mut candidates: Vec<&str> = function_names().collect();
            candidates.extend(lw.ast.models.iter().map(|m| m.name.name.as_str()));
            if let Some(s) = suggest(name, candidates) {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            Err(Some(d))
        }
    }
}

fn f32_arg(lw: &mut Lowerer, expr: &Expr) -> Result<NodeId, Option<Diagnostic>> {
    let val = lower_expr(lw, expr);
    require_f32(lw, val, expr.span).ok_or(None)
}

fn elementwise(lw: &mut Lowerer, op: BinaryFn, a: &Expr, b: &Expr, span: Span) -> Lowered {
    let a_id = f32_arg(lw, a)?;
    let b_id = f32_arg(lw, b)?;
    let width = broadcast_width(lw, &[(a_id, a.span), (b_id, b.span)], span).ok_or(None)?;
    num(lw.push(Op::Binary { op, a: a_id, b: b_id }, Ty::F32(width), span))
}

/// `standardize` and `min_max`: an affine transform from a stats file or inline lists.
fn affine_call(lw: &mut Lowerer, name: &str, args: &[Arg], span: Span, (k1, k2): (&str, &str)) -> Lowered {
    let call = CallArgs::check(name, span, args, (1, 1), &["stats", k1, k2])?;
    let arg = call.positional[0];
    let x = f32_arg(lw, arg)?;
    let (first, second, source_span) = match (call.named("stats"), call.named(k1), call.named(k2)) {
        (Some(path_expr), None, None) => {
            let path = literal_str(path_expr, "stats")?;
            let bytes = lw.read_artifact_at(path, path_expr.span, "statistics file")?;
            let file = lw.base_dir.join(path);
            let parsed = if path.ends_with(".safetensors") {
                parse_safetensors_stats(&file, &bytes, &[k1, k2]).map(|stats| {
                    lw.record_tensor_use(path, path_expr.span, &stats.all, stats.used);
                    stats.lists
                })
            } else {
                parse_stats(&file, &bytes, &[k1, k2])
            };
            let mut lists = parsed.map_err(|e| {
                Diagnostic::error(e.code(), e.to_string()).with_primary(path_expr.span, "this statistics file")
            })?;
            let second = lists.pop().unwrap_or_default();
            let first = lists.pop().unwrap_or_default();
            (first, second, path_expr.span)
        }
        (None, Some(a), Some(b)) => (literal_numbers(a, k1)?, literal_numbers(b, k2)?, a.span.join(b.span)),
        _ => {
            return Err(Some(Diagnostic::error("E0104", format!("`{name}` needs its statistics")).with_primary(
                span,
                format!("expected `stats: \"file.json\"`, or both `{k1}: [...]` and `{k2}: [...]`"),
            )));
        }
    };
    let width = lw.graph.ty(x).width() as usize;
    if first.len() != width || second.len() != width {
        return Err(Some(
            Diagnostic::error(
                "E0303",
                format!("statistics for {} elements, but the vector has {width}", first.len().max(second.len())),
            )
            .with_primary(arg.span, format!("this is f32[{width}]"))
            .with_secondary(source_span, format!("`{k1}` has {} values, `{k2}` {}", first.len(), second.len())),
        ));
    }
    let (mut scale, mut shift) = (Vec::with_capacity(width), Vec::with_capacity(width));
    for (a, b) in first.iter().zip(&second) {
        let (a, b) = (f64::from(*a), f64::from(*b));
        // (x - mean) / std, or (x - min) / (max - min); a zero spread scales by 1, as
        // scikit-learn does for constant features.
        let spread = if name == "standardize" { b } else { b - a };
        let spread = if spread == 0.0 { 1.0 } else { spread };
        scale.push((1.0 / spread) as f32);
        shift.push((-a / spread) as f32);
    }
    num(lw.push(Op::Affine { x, scale, shift }, Ty::F32(width as u32), span))
}

fn impute(lw: &mut Lowerer, args: &[Arg], span: Span) -> Lowered {
    let call = CallArgs::check("impute", span, args, (2, 2), &[])?;
    let [arg, value] = [call.positional[0], call.positional[1]];
    match lower_expr(lw, arg) {
        Val::Num { id, .. } if matches!(lw.graph.ty(id), Ty::F32(_)) => {
            let fill = literal_number(value).map(|v| v as f32).filter(|v| v.is_finite()).ok_or_else(|| {
                Diagnostic::error("E0201", "the replacement of a missing number must be a number")
                    .with_primary(value.span, "expected a number literal")
            })?;
            num(lw.push(Op::Impute { x: id, value: fill }, lw.graph.ty(id), span))
        }
        Val::Str { input, .. } => {
            let fill = literal_str(value, "replacement")?;
            Ok(Val::Str { input, missing: Some(fill.to_string()) })
        }
        Val::Poisoned => Err(None),
        _ => Err(Some(
            Diagnostic::error("E0201", "`impute` takes a number or a string input")
                .with_primary(arg.span, "expected an f32 or str value"),
        )),
    }
}

fn vocabulary(lw: &Lowerer, expr: &Expr) -> Result<Vec<String>, Option<Diagnostic>> {
    let vocab = match &expr.kind {
        pipec_dsl::ast::ExprKind::Str(path) => {
            let bytes = lw.read_artifact_at(path, expr.span, "vocabulary file")?;
            let file = lw.base_dir.join(path);
            parse_vocab(&file, &bytes).map_err(|e| {
                Diagnostic::error(e.code(), e.to_string()).with_primary(expr.span, "this vocabulary file")
            })?
        }
        pipec_dsl::ast::ExprKind::List(items) => {
            items.iter().map(|i| literal_str(i, "vocabulary entry").map(str::to_string)).collect::<Result<_, _>>()?
        }
        _ => {
            return Err(Some(
                Diagnostic::error("E0201", "invalid vocabulary")
                    .with_primary(expr.span, "expected a list of strings or a JSON file path"),
            ));
        }
    };
    if vocab.is_empty() || vocab.len() > MAX_BUCKETS as usize {
        return Err(Some(
            Diagnostic::error("E0201", "invalid vocabulary size")
                .with_primary(expr.span, format!("expected 1 to {MAX_BUCKETS} categories, found {}", vocab.len())),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = vocab.iter().find(|v| !seen.insert(v.as_str())) {
        return Err(Some(
            Diagnostic::error("E0206", format!("category {dup:?} appears twice in the vocabulary"))
                .with_primary(expr.span, "expected distinct categories"),
        ));
    }
    Ok(vocab)
}

/// A string input turned into a category index, then one-hot.
/// `category_code(s, vocab)`: the string's 0-based position in the vocabulary as f32, and
/// missing (NaN) for a missing or unknown string, as pandas' `Categorical(...).codes` gives -1
/// for both and LightGBM and XGBoost read that as missing. A gather of `position + 1` (0 for
/// unknown) tells known from unknown; the result is nullable.
fn category_code(lw: &mut Lowerer, arg: &Expr, vocab: Vec<String>, span: Span) -> Lowered {
    match lower_expr(lw, arg) {
        Val::Str { input, missing } => {
            let categories = vocab.len() as u32;
            let map = CategoryMap::Vocab(vocab);
            let index = lw.push(Op::Category { input, map, missing }, Ty::Index { categories }, arg.span);
            let table = Matrix { rows: categories, cols: 1, data: (1..=categories).map(|c| c as f32).collect() };
            let plus_one = lw.push(Op::Gather { index, table }, Ty::F32(1), span);
            let zero = lw.push(Op::Const { values: vec![0.0] }, Ty::F32(1), span);
            let one = lw.push(Op::Const { values: vec![1.0] }, Ty::F32(1), span);
            let nan = lw.push(Op::Const { values: vec![f32::NAN] }, Ty::F32(1), span);
            let known = lw.push(Op::Binary { op: BinaryFn::Gt, a: plus_one, b: zero }, Ty::Bool(1), span);
            let code = lw.push(Op::Binary { op: BinaryFn::Sub, a: plus_one, b: one }, Ty::F32(1), span);
            let id = lw.push(Op::Where { cond: known, a: code, b: nan }, Ty::F32(1), span);
            Ok(Val::Num { id, nullable: true })
        }
        Val::Poisoned => Err(None),
        _ => Err(Some(
            Diagnostic::error("E0201", "type mismatch: expected `str`")
                .with_primary(arg.span, "expected a string (categorical) input"),
        )),
    }
}

fn categorical(lw: &mut Lowerer, arg: &Expr, map: CategoryMap, span: Span) -> Lowered {
    match lower_expr(lw, arg) {
        Val::Str { input, missing, .. } => {
            let categories = map.categories();
            let index = lw.push(Op::Category { input, map, missing }, Ty::Index { categories }, arg.span);
            num(lw.push(Op::OneHot { index }, Ty::F32(categories), span))
        }
        Val::Poisoned => Err(None),
        _ => Err(Some(
            Diagnostic::error("E0201", "type mismatch: expected `str`")
                .with_primary(arg.span, "expected a string (categorical) input"),
        )),
    }
}
