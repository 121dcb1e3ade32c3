//! State shared by the `parse_*` files while they turn pest's tree into the AST.

use super::{MAX_EXPR_NODES, Rule};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

pub(super) struct Builder {
    /// Everything wrong found so far, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// Nodes of the current expression, against [`MAX_EXPR_NODES`].
    nodes: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder { diagnostics: Vec::new(), nodes: 0 }
    }

    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Starts the node budget of a new expression (a binding's value, a model's arguments).
    pub fn start_expression(&mut self) {
        self.nodes = 0;
    }

    /// A new expression node, or `None` (and E0008, once) past the node budget.
    pub fn node(&mut self, kind: ExprKind, span: Span) -> Option<Expr> {
        self.nodes += 1;
        if self.nodes > MAX_EXPR_NODES {
            if self.nodes == MAX_EXPR_NODES + 1 {
                // Point at the newest part of the node, not at the whole (long) expression.
                let focus = match &kind {
                    ExprKind::Binary { rhs, .. } => rhs.span,
                    ExprKind::Unary { operand, .. } => Span::new(span.start, operand.span.start.max(span.start)),
                    ExprKind::Index { index_span, .. } => *index_span,
                    // `[` or the callee's first letter: one ASCII byte.
                    ExprKind::List(_) | ExprKind::Call { .. } => Span::new(span.start, (span.start + 1).min(span.end)),
                    _ => span,
                };
                self.report(
                    Diagnostic::error("E0008", "expression too large")
                        .with_primary(
                            focus,
                            format!("expected at most {MAX_EXPR_NODES} terms and operators in one expression"),
                        )
                        .with_note("split it into several features"),
                );
            }
            return None;
        }
        Some(Expr { kind, span })
    }

    /// A parse tree without the shape the grammar promises: a bug of this crate, reported as a
    /// diagnostic rather than a panic.
    pub fn malformed(&mut self, span: Span) {
        self.report(
            Diagnostic::error("E0001", "internal error of the parser: unexpected syntax tree")
                .with_primary(span, "expected valid syntax here; please report this as a bug of pipec"),
        );
    }
}

/// The span of `pair` without the whitespace and comments pest leaves at the end of a rule
/// that ends with an optional part: from its start to the end of its last token.
pub(super) fn tight_span(pair: &Pair<'_, Rule>) -> Span {
    let start = pair.as_span().start();
    let mut last = pair.clone();
    while let Some(child) = last.clone().into_inner().next_back() {
        last = child;
    }
    Span::new(start, last.as_span().end().max(start))
}
