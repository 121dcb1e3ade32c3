//! The words for what pest expected: each grammar rule as the reader knows it.

use super::Rule;

/// What a rule stands for in "expected ..." messages, with its place in the list (lower
/// first); `None` for rules never worth naming.
pub(super) fn expected(rule: Rule) -> Option<(u8, &'static str)> {
    use Rule::*;
    Some(match rule {
        expr | operand | prefix_op | number | bad_number | boolean | string | unterminated_string | list | call
        | paren => (0, EXPRESSION),
        args | arg => (1, ARGUMENT),
        index_literal | bad_index => (2, INDEX),
        type_name | type_expr => (3, "a type such as f32, str or f32[8]"),
        type_len => (4, "a vector length such as 8"),
        version_value => (5, "a version string such as \"1.0.0\""),
        model_kind => (6, "a model kind such as `mlp`, `linear` or `logistic`"),
        pipeline_name => (7, "a pipeline name"),
        ident | arg_name | input_decl | binding | model_decl | monitor_entry => (8, NAME),
        infix_op => (9, OPERATOR),
        colon => (10, "`:`"),
        assign => (11, "`=`"),
        nullable => (12, "`?`"),
        lparen => (13, "`(`"),
        lbracket | index => (14, "`[`"),
        comma => (15, "`,`"),
        rparen => (16, "`)`"),
        rbracket => (17, "`]`"),
        lbrace | skipped_block => (18, "`{`"),
        kw_version | version_decl => (19, "`version`"),
        kw_input | kw_features | kw_models | kw_output | kw_checks | kw_monitor | input_section | features_section
        | models_section | output_section | checks_section | monitor_section | unknown_section => (20, SECTION),
        rbrace => (21, "`}`"),
        kw_pipeline | pipeline | file => (22, "`pipeline`"),
        EOI => (23, END_OF_FILE),
        _ => return None,
    })
}

pub(super) const EXPRESSION: &str = "an expression";
pub(super) const ARGUMENT: &str = "an argument";
pub(super) const INDEX: &str = "an index such as 0";
pub(super) const NAME: &str = "a name";
pub(super) const OPERATOR: &str = "an operator";
pub(super) const SECTION: &str = "a section (`input`, `features`, `models`, `output`, `checks` or `monitor`)";
pub(super) const END_OF_FILE: &str = "end of file";

/// The readable list of what `rules` stand for: deduplicated, in a fixed order, without the
/// vaguer words when a more precise one is there.
pub(super) fn expected_list(rules: &[Rule]) -> Vec<&'static str> {
    let mut named: Vec<(u8, &'static str)> = rules.iter().filter_map(|r| expected(*r)).collect();
    named.sort_unstable();
    named.dedup();
    let has = |text: &str| named.iter().any(|(_, t)| *t == text);
    let drop_name = has(SECTION) || has(EXPRESSION) || has(ARGUMENT);
    let drop_expression = has(INDEX) || has(ARGUMENT);
    named
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| !(drop_name && *t == NAME || drop_expression && *t == EXPRESSION))
        .collect()
}

/// `a`, `a or b`, `a, b or c`.
pub(super) fn join_alternatives(names: &[&str]) -> String {
    match names {
        [] => "valid syntax".to_string(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
