//! `name: type` declarations of the `input` section, and their types.

use super::Rule;
use super::builder::{Builder, tight_span};
use super::literal::{ident, shorten};
use super::pipeline::edit_distance;
use crate::ast::{InputDecl, ScalarType, TypeExpr};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

const TYPES: [ScalarType; 5] = [ScalarType::F32, ScalarType::F64, ScalarType::I64, ScalarType::Bool, ScalarType::Str];

pub(super) fn input_decl(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<InputDecl> {
    let span = tight_span(&pair);
    let mut name = None;
    let mut ty = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::ident => name = Some(ident(&part)),
            Rule::type_expr => ty = type_expr(part, b),
            _ => {}
        }
    }
    Some(InputDecl { name: name?, ty: ty?, span })
}

/// `f32`, `str?`, `f32[8]`, `f32[8]?`.
fn type_expr(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<TypeExpr> {
    let span = tight_span(&pair);
    let mut scalar = None;
    let mut len = None;
    let mut nullable = false;
    let mut ok = true;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::type_name => {
                scalar = scalar_type(&part, b);
                ok &= scalar.is_some();
            }
            Rule::type_len => match part.as_str().parse::<u32>() {
                Ok(n) => len = Some(n),
                Err(_) => {
                    b.report(
                        Diagnostic::error(
                            "E0007",
                            format!("vector length `{}` is out of range", shorten(part.as_str())),
                        )
                        .with_primary(part.as_span().into(), format!("expected a length of at most {}", u32::MAX)),
                    );
                    ok = false;
                }
            },
            Rule::nullable => nullable = true,
            _ => {}
        }
    }
    if !ok {
        return None;
    }
    Some(TypeExpr { scalar: scalar?, len, nullable, span })
}

/// A type name; anything but the five scalar types is E0002.
fn scalar_type(pair: &Pair<'_, Rule>, b: &mut Builder) -> Option<ScalarType> {
    let text = pair.as_str();
    if let Some(t) = TYPES.into_iter().find(|t| t.keyword() == text) {
        return Some(t);
    }
    let span = Span::from(pair.as_span());
    let mut d = Diagnostic::error("E0002", format!("unknown type `{}`", shorten(text)))
        .with_primary(span, "expected one of the types f32, f64, i64, bool, str");
    if let Some(t) = similar_type(text) {
        d = d.with_note(format!("did you mean `{}`?", t.keyword()));
    }
    b.report(d.with_note("a vector of n numbers is written `f32[n]`, a value that may be missing `f32?`"));
    None
}

fn similar_type(text: &str) -> Option<ScalarType> {
    if text.len() > 40 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let by_alias = match lower.as_str() {
        "float" | "float32" | "single" | "real" => Some(ScalarType::F32),
        "double" | "float64" => Some(ScalarType::F64),
        "int" | "int64" | "long" | "integer" | "i32" | "int32" | "u32" | "u64" => Some(ScalarType::I64),
        "boolean" => Some(ScalarType::Bool),
        "string" | "text" | "category" | "categorical" => Some(ScalarType::Str),
        _ => None,
    };
    by_alias.or_else(|| TYPES.into_iter().find(|t| edit_distance(&lower, t.keyword()) <= 1))
}
