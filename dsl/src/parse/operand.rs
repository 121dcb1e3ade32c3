//! Operands: literals, names, calls, lists, parenthesised expressions, and their `[i]`.

use super::Rule;
use super::args::args;
use super::builder::{Builder, tight_span};
use super::expr::expr;
use super::literal::{bad_number, ident, number, shorten, string, unterminated};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

/// An `operand` pair: one primary, then any number of `[i]`.
pub(super) fn operand(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Expr> {
    let mut inner = pair.into_inner();
    let first = inner.next()?;
    let mut e = primary(first, b);
    for suffix in inner {
        let base = e.take();
        match suffix.as_rule() {
            Rule::index => e = index(base, suffix, b),
            Rule::bad_call => bad_call(base.as_ref(), &suffix, b),
            _ => b.malformed(suffix.as_span().into()),
        }
    }
    e
}

fn primary(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Expr> {
    let span = Span::from(pair.as_span());
    match pair.as_rule() {
        Rule::number => {
            let v = number(&pair, b)?;
            b.node(ExprKind::Number(v), span)
        }
        Rule::bad_number => {
            bad_number(&pair, b);
            None
        }
        Rule::boolean => b.node(ExprKind::Bool(pair.as_str() == "true"), span),
        Rule::string => {
            let errors = b.diagnostics.len();
            let lit = string(&pair, b);
            if b.diagnostics.len() > errors {
                return None;
            }
            b.node(ExprKind::Str(lit.value), span)
        }
        Rule::unterminated_string => {
            b.report(unterminated(span));
            None
        }
        Rule::ident => b.node(ExprKind::Name(ident(&pair)), span),
        Rule::list => {
            let mut items = Some(Vec::new());
            for item in pair.into_inner().filter(|p| p.as_rule() == Rule::expr) {
                let item = expr(item, b);
                items = items.zip(item).map(|(mut v, e)| {
                    v.push(e);
                    v
                });
            }
            b.node(ExprKind::List(items?), span)
        }
        Rule::call => {
            let mut callee = None;
            let mut arguments = Some(Vec::new());
            for part in pair.into_inner() {
                match part.as_rule() {
                    Rule::ident => callee = Some(ident(&part)),
                    Rule::args => arguments = args(part, b),
                    _ => {}
                }
            }
            b.node(ExprKind::Call { callee: callee?, args: arguments? }, span)
        }
        Rule::paren => {
            let inner = pair.into_inner().find(|p| p.as_rule() == Rule::expr)?;
            let mut e = expr(inner, b)?;
            // A parenthesised expression covers its parentheses.
            e.span = span;
            Some(e)
        }
        _ => {
            b.malformed(span);
            None
        }
    }
}

/// `base[i]`: `i` must be a non-negative integer literal (E0006) that fits in u32 (E0007).
fn index(base: Option<Expr>, pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Expr> {
    let suffix = tight_span(&pair);
    let part = pair.into_inner().find(|p| matches!(p.as_rule(), Rule::index_literal | Rule::bad_index))?;
    let index_span = tight_span(&part);
    if part.as_rule() == Rule::bad_index {
        let text = part.as_str().trim();
        let mut d = Diagnostic::error("E0006", "an index must be a non-negative integer literal")
            .with_primary(index_span, "expected an integer such as 0 or 3");
        if text.starts_with('-') {
            d = d.with_note("elements are counted from 0; negative indices are not supported");
        } else {
            d = d.with_note("`v[i]` takes one element at a position written as a number: `v[0]`, `v[2]`");
        }
        b.report(d);
        return None;
    }
    let Ok(i) = part.as_str().parse::<u32>() else {
        b.report(
            Diagnostic::error("E0007", format!("index `{}` is out of range", shorten(part.as_str())))
                .with_primary(index_span, format!("expected an index of at most {}", u32::MAX)),
        );
        return None;
    };
    let base = base?;
    let span = base.span.join(suffix);
    b.node(ExprKind::Index { base: Box::new(base), index: i, index_span }, span)
}

/// `(f)(x)`, `f(x)(y)`: only a name can be called.
fn bad_call(base: Option<&Expr>, pair: &Pair<'_, Rule>, b: &mut Builder) {
    let mut d = Diagnostic::error("E0001", "only a name can be called")
        .with_primary(tight_span(pair), "expected an operator here; a call needs a function or model name before `(`");
    if let Some(base) = base {
        d = d.with_secondary(base.span, "this is not a name");
    }
    b.report(d.with_note("write `name(arguments)`, as in `log1p(x)` or `risk(x)`"));
}
