//! The file and its sections.

use super::parse_decl::{binding, input_decl, model_decl};
use super::parse_literal::{ident, string};
use super::Rule;
use crate::ast::{Pipeline, SectionKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};

pub(super) fn build(mut pairs: Pairs<'_, Rule>, source: &str) -> Result<Pipeline, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let file = pairs.next().ok_or_else(|| vec![empty(source)])?;
    let pipeline_pair = file.into_inner().find(|p| p.as_rule() == Rule::pipeline).ok_or_else(|| vec![empty(source)])?;
    let span = Span::from(pipeline_pair.as_span());
    let mut inner = pipeline_pair.into_inner().filter(|p| p.as_rule() != Rule::kw_pipeline);
    let name = inner.next().map(ident).ok_or_else(|| vec![empty(source)])?;
    let mut pipeline = Pipeline {
        name,
        version: None,
        inputs: Vec::new(),
        features: Vec::new(),
        models: Vec::new(),
        outputs: Vec::new(),
        sections: Vec::new(),
        span,
    };
    for item in inner {
        let item_span = Span::from(item.as_span());
        match item.as_rule() {
            Rule::version_decl => {
                let Some(lit) = item.into_inner().find(|p| p.as_rule() == Rule::string) else { continue };
                let lit = string(lit, &mut diagnostics);
                if let Some(first) = &pipeline.version {
                    diagnostics.push(
                        Diagnostic::error("E0004", "`version` is given twice")
                            .with_primary(item_span, "second version here")
                            .with_secondary(first.span, "first version here"),
                    );
                } else {
                    pipeline.version = Some(lit);
                }
            }
            Rule::input_section => section(&mut pipeline, SectionKind::Input, item, &mut diagnostics),
            Rule::features_section => section(&mut pipeline, SectionKind::Features, item, &mut diagnostics),
            Rule::models_section => section(&mut pipeline, SectionKind::Models, item, &mut diagnostics),
            Rule::output_section => section(&mut pipeline, SectionKind::Output, item, &mut diagnostics),
            Rule::unknown_section => {
                let name = item.into_inner().next().map(ident);
                let (text, name_span) = name.map_or((String::new(), item_span), |n| (n.name, n.span));
                diagnostics.push(
                    Diagnostic::error("E0005", format!("unknown section `{text}`"))
                        .with_primary(name_span, "expected one of: input, features, models, output"),
                );
            }
            _ => {}
        }
    }
    if diagnostics.is_empty() { Ok(pipeline) } else { Err(diagnostics) }
}

fn empty(source: &str) -> Diagnostic {
    Diagnostic::error("E0001", "expected a pipeline").with_primary(Span::new(0, source.len().min(1)), "expected `pipeline NAME { ... }`")
}

fn section(pipeline: &mut Pipeline, kind: SectionKind, pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) {
    let mut inner = pair.into_inner();
    let Some(keyword) = inner.next() else { return };
    let keyword_span = Span::from(keyword.as_span());
    if let Some((_, first)) = pipeline.sections.iter().find(|(k, _)| *k == kind) {
        diagnostics.push(
            Diagnostic::error("E0004", format!("section `{}` appears twice", keyword.as_str()))
                .with_primary(keyword_span, "second occurrence")
                .with_secondary(*first, "first occurrence")
                .with_note("each section may appear at most once"),
        );
        return;
    }
    pipeline.sections.push((kind, keyword_span));
    for entry in inner {
        match kind {
            SectionKind::Input => {
                if let Some(d) = input_decl(entry, diagnostics) {
                    pipeline.inputs.push(d);
                }
            }
            SectionKind::Features => {
                if let Some(b) = binding(entry, diagnostics) {
                    pipeline.features.push(b);
                }
            }
            SectionKind::Models => {
                if let Some(m) = model_decl(entry, diagnostics) {
                    pipeline.models.push(m);
                }
            }
            SectionKind::Output => {
                if let Some(b) = binding(entry, diagnostics) {
                    pipeline.outputs.push(b);
                }
            }
        }
    }
}
