//! Declarations: inputs and their types, bindings, models.

use super::parse_expr::{args, expr};
use super::parse_literal::ident;
use super::Rule;
use crate::ast::{Binding, InputDecl, ModelDecl, ScalarType, TypeExpr};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

pub(super) fn input_decl(pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) -> Option<InputDecl> {
    let span = Span::from(pair.as_span());
    let mut inner = pair.into_inner();
    let name = ident(inner.next()?);
    let ty = type_expr(inner.next()?, diagnostics)?;
    Some(InputDecl { name, ty, span })
}

const TYPES: [(&str, ScalarType); 5] = [
    ("f32", ScalarType::F32),
    ("f64", ScalarType::F64),
    ("i64", ScalarType::I64),
    ("bool", ScalarType::Bool),
    ("str", ScalarType::Str),
];

fn type_expr(pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) -> Option<TypeExpr> {
    let span = Span::from(pair.as_span());
    let mut scalar = None;
    let mut len = None;
    let mut nullable = false;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::word => match TYPES.iter().find(|(name, _)| *name == part.as_str()) {
                Some((_, t)) => scalar = Some(*t),
                None => {
                    diagnostics.push(
                        Diagnostic::error("E0002", format!("unknown type `{}`", part.as_str()))
                            .with_primary(part.as_span().into(), "expected one of f32, f64, i64, bool, str"),
                    );
                    return None;
                }
            },
            Rule::integer => match part.as_str().parse::<u32>() {
                Ok(n) => len = Some(n),
                Err(_) => {
                    diagnostics.push(
                        Diagnostic::error("E0007", format!("vector length `{}` is out of range", part.as_str()))
                            .with_primary(part.as_span().into(), "expected a length that fits in u32"),
                    );
                    return None;
                }
            },
            Rule::nullable => nullable = true,
            _ => {}
        }
    }
    Some(TypeExpr { scalar: scalar?, len, nullable, span })
}

pub(super) fn binding(pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) -> Option<Binding> {
    let span = Span::from(pair.as_span());
    let mut inner = pair.into_inner();
    let name = ident(inner.next()?);
    let value = match expr(inner.next()?) {
        Ok(e) => e,
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    Some(Binding { name, value, span })
}

pub(super) fn model_decl(pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) -> Option<ModelDecl> {
    let span = Span::from(pair.as_span());
    let mut inner = pair.into_inner();
    let name = ident(inner.next()?);
    let kind = ident(inner.next()?);
    let args = match inner.next() {
        Some(a) => match args(a) {
            Ok(a) => a,
            Err(d) => {
                diagnostics.push(d);
                return None;
            }
        },
        None => Vec::new(),
    };
    Some(ModelDecl { name, kind, args, span })
}
