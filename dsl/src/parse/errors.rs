//! pest's errors as diagnostics that say, in words, what was expected.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::error::{ErrorVariant, InputLocation};

pub(super) fn from_pest(error: &pest::error::Error<Rule>, source: &str) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
    .min(source.len());
    let found = describe_found(source, pos);
    let span = found_span(source, pos);
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            names.sort_unstable();
            names.dedup();
            join_alternatives(&names)
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let expected = if expected.is_empty() { "valid syntax".to_string() } else { expected };
    Diagnostic::error("E0001", format!("syntax error: expected {expected}, found {found}"))
        .with_primary(span, format!("expected {expected}"))
}

fn found_span(source: &str, pos: usize) -> Span {
    match source[pos..].chars().next() {
        Some(c) => Span::new(pos, pos + c.len_utf8()),
        None => Span::new(pos, pos),
    }
}

fn describe_found(source: &str, pos: usize) -> String {
    let rest = &source[pos..];
    match rest.chars().next() {
        None => "end of file".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').take(40).collect();
            format!("`{word}`")
        }
        Some('\n') => "end of line".to_string(),
        Some(c) => format!("`{}`", c.escape_debug()),
    }
}

fn join_alternatives(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Readable names of the rules pest reports as expected; `None` hides a rule.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::ident => "a name",
        Rule::word => "a name",
        Rule::number | Rule::integer => "a number",
        Rule::string | Rule::unterminated_string => "a string",
        Rule::boolean => "`true` or `false`",
        Rule::pipeline | Rule::kw_pipeline => "`pipeline`",
        Rule::kw_version | Rule::version_decl => "`version`",
        Rule::input_section | Rule::section_input => "a section (input, features, models, output)",
        Rule::features_section | Rule::section_features => "a section (input, features, models, output)",
        Rule::models_section | Rule::section_models => "a section (input, features, models, output)",
        Rule::output_section | Rule::section_output => "a section (input, features, models, output)",
        Rule::unknown_section => "a section (input, features, models, output)",
        Rule::input_decl => "an input declaration `name: type`",
        Rule::type_expr => "a type such as f32, str or f32[8]",
        Rule::binding => "a binding `name = expression`",
        Rule::model_decl => "a model `name = kind(\"file\", ...)`",
        Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr
        | Rule::add_expr | Rule::mul_expr | Rule::neg_expr | Rule::postfix_expr | Rule::paren
        | Rule::list | Rule::call => "an expression",
        Rule::args | Rule::arg | Rule::named_arg => "an argument",
        Rule::index_suffix => "`[`",
        Rule::op_or | Rule::op_and => "an operator",
        Rule::op_not | Rule::op_neg => "an expression",
        Rule::op_cmp | Rule::op_add | Rule::op_mul => "an operator",
        Rule::nullable => "`?`",
        _ => return None,
    })
}
