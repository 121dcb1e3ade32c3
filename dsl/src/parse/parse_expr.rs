//! Expressions, built from pest's tree with a node budget so that no expression can grow
//! deep enough to exhaust the stack of the phases that walk it.

use super::parse_literal::{ident, number, string, unterminated};
use super::{Rule, MAX_EXPR_NODES};
use crate::ast::{Arg, BinaryOp, Expr, ExprKind, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

type Result<T> = std::result::Result<T, Diagnostic>;

pub(super) fn expr(pair: Pair<'_, Rule>) -> Result<Expr> {
    Builder { nodes: 0 }.expr(pair)
}

pub(super) fn args(pair: Pair<'_, Rule>) -> Result<Vec<Arg>> {
    Builder { nodes: 0 }.args(pair)
}

struct Builder {
    nodes: usize,
}

impl Builder {
    fn node(&mut self, kind: ExprKind, span: Span) -> Result<Expr> {
        self.nodes += 1;
        if self.nodes > MAX_EXPR_NODES {
            return Err(Diagnostic::error("E0008", "expression too large")
                .with_primary(span, format!("more than {MAX_EXPR_NODES} operations in one expression"))
                .with_note("split it into several features"));
        }
        Ok(Expr { kind, span })
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = Span::from(pair.as_span());
        match pair.as_rule() {
            Rule::expr | Rule::paren => {
                let inner = first(pair, span)?;
                let mut e = self.expr(inner)?;
                // A parenthesised expression covers its parentheses.
                e.span = e.span.join(span);
                Ok(e)
            }
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr | Rule::cmp_expr => self.chain(pair),
            Rule::not_expr | Rule::neg_expr => self.prefixed(pair),
            Rule::postfix_expr => self.postfix(pair),
            Rule::number => {
                let v = number(pair)?;
                self.node(ExprKind::Number(v), span)
            }
            Rule::boolean => self.node(ExprKind::Bool(pair.as_str() == "true"), span),
            Rule::string => {
                let mut errors = Vec::new();
                let lit = string(pair, &mut errors);
                match errors.into_iter().next() {
                    Some(d) => Err(d),
                    None => self.node(ExprKind::Str(lit.value), span),
                }
            }
            Rule::unterminated_string => Err(unterminated(pair)),
            Rule::list => {
                let mut items = Vec::new();
                for item in pair.into_inner() {
                    items.push(self.expr(item)?);
                }
                self.node(ExprKind::List(items), span)
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                let callee = ident(inner.next().ok_or_else(|| malformed(span))?);
                let args = match inner.next() {
                    Some(a) => self.args(a)?,
                    None => Vec::new(),
                };
                self.node(ExprKind::Call { callee, args }, span)
            }
            Rule::ident => {
                let name = ident(pair);
                self.node(ExprKind::Name(name), span)
            }
            _ => Err(malformed(span)),
        }
    }

    fn args(&mut self, pair: Pair<'_, Rule>) -> Result<Vec<Arg>> {
        let mut out = Vec::new();
        for arg in pair.into_inner() {
            let span = Span::from(arg.as_span());
            let inner = first(arg, span)?;
            if inner.as_rule() == Rule::named_arg {
                let mut parts = inner.into_inner();
                let name = ident(parts.next().ok_or_else(|| malformed(span))?);
                let value = self.expr(parts.next().ok_or_else(|| malformed(span))?)?;
                out.push(Arg { name: Some(name), value, span });
            } else {
                let value = self.expr(inner)?;
                out.push(Arg { name: None, value, span });
            }
        }
        Ok(out)
    }

    /// `a op b op c`, left associative (comparisons take at most one operator).
    fn chain(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = Span::from(pair.as_span());
        let mut inner = pair.into_inner();
        let mut lhs = self.expr(inner.next().ok_or_else(|| malformed(span))?)?;
        while let Some(op_pair) = inner.next() {
            let op = binary_op(op_pair.as_str()).ok_or_else(|| malformed(span))?;
            let rhs = self.expr(inner.next().ok_or_else(|| malformed(span))?)?;
            let joined = lhs.span.join(rhs.span);
            lhs = self.node(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, joined)?;
        }
        Ok(lhs)
    }

    /// `not not x`, `- - x`: prefix operators applied right to left.
    fn prefixed(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = Span::from(pair.as_span());
        let mut ops = Vec::new();
        let mut operand = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::op_not => ops.push((UnaryOp::Not, Span::from(p.as_span()))),
                Rule::op_neg => ops.push((UnaryOp::Neg, Span::from(p.as_span()))),
                _ => operand = Some(self.expr(p)?),
            }
        }
        let mut e = operand.ok_or_else(|| malformed(span))?;
        for (op, op_span) in ops.into_iter().rev() {
            let joined = op_span.join(e.span);
            e = self.node(ExprKind::Unary { op, operand: Box::new(e) }, joined)?;
        }
        Ok(e)
    }

    /// `base[0][1]`.
    fn postfix(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = Span::from(pair.as_span());
        let mut inner = pair.into_inner();
        let mut e = self.expr(inner.next().ok_or_else(|| malformed(span))?)?;
        for suffix in inner {
            let suffix_span = Span::from(suffix.as_span());
            let index_expr = self.expr(first(suffix, suffix_span)?)?;
            let index = match index_expr.kind {
                ExprKind::Number(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => v as u32,
                _ => {
                    return Err(Diagnostic::error("E0006", "an index must be a non-negative integer literal")
                        .with_primary(index_expr.span, "expected an integer such as 0 or 3"));
                }
            };
            let joined = e.span.join(suffix_span);
            e = self.node(ExprKind::Index { base: Box::new(e), index, index_span: index_expr.span }, joined)?;
        }
        Ok(e)
    }
}

fn first(pair: Pair<'_, Rule>, span: Span) -> Result<Pair<'_, Rule>> {
    pair.into_inner().next().ok_or_else(|| malformed(span))
}

/// A parse tree that does not have the shape the grammar promises: a bug in this crate,
/// reported as a diagnostic rather than a panic.
fn malformed(span: Span) -> Diagnostic {
    Diagnostic::error("E0001", "internal error: unexpected syntax tree").with_primary(span, "while reading this")
}

fn binary_op(text: &str) -> Option<BinaryOp> {
    Some(match text {
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "and" => BinaryOp::And,
        "or" => BinaryOp::Or,
        _ => return None,
    })
}
