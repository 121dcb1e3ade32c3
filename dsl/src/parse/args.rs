//! Argument lists of calls and model declarations: `(a, key: b, ...)`.

use super::Rule;
use super::builder::{Builder, tight_span};
use super::expr::expr;
use super::literal::ident;
use crate::ast::Arg;
use pest::iterators::Pair;

/// The arguments of an `args` pair. Every argument is read (so that all its errors are
/// reported); `None` if any was wrong.
pub(super) fn args(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Vec<Arg>> {
    let mut out = Some(Vec::new());
    for a in pair.into_inner().filter(|p| p.as_rule() == Rule::arg) {
        let arg = arg(a, b);
        out = out.zip(arg).map(|(mut v, a)| {
            v.push(a);
            v
        });
    }
    out
}

/// `expr` or `name: expr`.
fn arg(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Arg> {
    let span = tight_span(&pair);
    let mut name = None;
    let mut value = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::arg_name => name = Some(ident(&part)),
            Rule::expr => value = expr(part, b),
            _ => {}
        }
    }
    Some(Arg { name, value: value?, span })
}
