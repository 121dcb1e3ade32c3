//! `name = kind("file", key: value, ...)` declarations of the `models` section.

use super::Rule;
use super::args::args;
use super::builder::{Builder, tight_span};
use super::literal::ident;
use crate::ast::ModelDecl;
use pest::iterators::Pair;

pub(super) fn model_decl(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<ModelDecl> {
    let span = tight_span(&pair);
    let mut name = None;
    let mut kind = None;
    let mut arguments = Some(Vec::new());
    b.start_expression();
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::ident => name = Some(ident(&part)),
            Rule::model_kind => kind = Some(ident(&part)),
            Rule::args => arguments = args(part, b),
            _ => {}
        }
    }
    Some(ModelDecl { name: name?, kind: kind?, args: arguments?, span })
}
