//! `name = expression` bindings of the `features` and `output` sections.

use super::Rule;
use super::builder::{Builder, tight_span};
use super::expr::expr;
use super::literal::ident;
use crate::ast::Binding;
use pest::iterators::Pair;

pub(super) fn binding(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Binding> {
    let span = tight_span(&pair);
    let mut name = None;
    let mut value = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::ident => name = Some(ident(&part)),
            Rule::expr => {
                b.start_expression();
                value = expr(part, b);
            }
            _ => {}
        }
    }
    Some(Binding { name: name?, value: value?, span })
}
