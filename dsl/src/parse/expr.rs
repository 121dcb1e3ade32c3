//! Operators and their precedence. The grammar gives an expression as a flat row of prefix
//! operators, operands and infix operators; this file builds the tree with an operator stack
//! (no recursion per operator, so long chains cannot exhaust the stack).
//!
//! Lowest to highest: `or`; `and`; `not` (prefix); `< <= > >= == !=` (non-associative);
//! `+ -`; `* /`; `-` (prefix); then the postfix `[i]` of an operand (operand.rs).

use super::Rule;
use super::builder::Builder;
use super::operand::operand;
use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

#[derive(Clone, Copy)]
enum Op {
    Prefix(UnaryOp),
    Infix(BinaryOp),
}

impl Op {
    fn precedence(self) -> u8 {
        match self {
            Op::Infix(BinaryOp::Or) => 1,
            Op::Infix(BinaryOp::And) => 2,
            Op::Prefix(UnaryOp::Not) => 3,
            Op::Infix(op) if op.is_comparison() => 4,
            Op::Infix(BinaryOp::Add | BinaryOp::Sub) => 5,
            Op::Infix(_) => 6,
            Op::Prefix(UnaryOp::Neg) => 7,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Prefix(UnaryOp::Neg) => "-",
            Op::Prefix(UnaryOp::Not) => "not",
            Op::Infix(op) => op.symbol(),
        }
    }
}

/// An `expr` pair as a tree, or `None` after reporting what is wrong.
pub(super) fn expr(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Expr> {
    let whole = Span::from(pair.as_span());
    let mut operands: Vec<Expr> = Vec::new();
    let mut ops: Vec<(Op, Span)> = Vec::new();
    // The operator just before the current position (`None` after an operand), to place `not`.
    let mut previous: Option<Op> = None;
    // False once something was wrong (and reported): nothing more is built, but the operands
    // after it are still read for their own errors.
    let mut ok = true;
    for part in pair.into_inner() {
        let span = Span::from(part.as_span());
        let op = match part.as_rule() {
            Rule::operand => {
                match operand(part, b) {
                    Some(e) if ok => operands.push(e),
                    _ => ok = false,
                }
                previous = None;
                continue;
            }
            Rule::prefix_op if part.as_str() == "-" => Op::Prefix(UnaryOp::Neg),
            Rule::prefix_op => Op::Prefix(UnaryOp::Not),
            Rule::infix_op => match BinaryOp::from_symbol(part.as_str()) {
                Some(op) => Op::Infix(op),
                None => {
                    b.malformed(span);
                    ok = false;
                    continue;
                }
            },
            _ => continue,
        };
        let before = previous.replace(op);
        if !ok {
            continue;
        }
        match op {
            Op::Prefix(UnaryOp::Not) => {
                if let Some(before) = before.filter(|p| p.precedence() > op.precedence()) {
                    b.report(misplaced_not(span, before, ops.last().map(|(_, s)| *s)));
                    ok = false;
                    continue;
                }
            }
            Op::Prefix(UnaryOp::Neg) => {}
            Op::Infix(new) => {
                while let Some(&(top, top_span)) = ops.last() {
                    if top.precedence() < op.precedence() {
                        break;
                    }
                    if let Op::Infix(t) = top
                        && t.is_comparison()
                        && new.is_comparison()
                    {
                        b.report(chained_comparison(span, new, top_span, t));
                        ok = false;
                        break;
                    }
                    ops.pop();
                    if reduce(top, top_span, &mut operands, b).is_none() {
                        ok = false;
                        break;
                    }
                }
            }
        }
        ops.push((op, span));
    }
    if !ok {
        return None;
    }
    while let Some((op, op_span)) = ops.pop() {
        reduce(op, op_span, &mut operands, b)?;
    }
    match (operands.pop(), operands.is_empty()) {
        (Some(e), true) => Some(e),
        _ => {
            b.malformed(whole);
            None
        }
    }
}

/// Applies `op` (at `op_span`) to the operand(s) on top of the stack. The new node covers
/// its operands, and a prefix operator.
fn reduce(op: Op, op_span: Span, operands: &mut Vec<Expr>, b: &mut Builder) -> Option<()> {
    let last = operands.pop();
    let node = match (op, last) {
        (Op::Prefix(unary), Some(operand)) => {
            let span = op_span.join(operand.span);
            b.node(ExprKind::Unary { op: unary, operand: Box::new(operand) }, span)?
        }
        (Op::Infix(binary), Some(rhs)) => {
            let Some(lhs) = operands.pop() else {
                b.malformed(op_span);
                return None;
            };
            let span = lhs.span.join(rhs.span);
            b.node(ExprKind::Binary { op: binary, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span)?
        }
        (_, None) => {
            b.malformed(op_span);
            return None;
        }
    };
    operands.push(node);
    Some(())
}

/// `a + not b`: `not` binds more loosely than the operator before it.
fn misplaced_not(not_span: Span, before: Op, before_span: Option<Span>) -> Diagnostic {
    let mut d = Diagnostic::error("E0001", format!("`not` cannot follow `{}` without parentheses", before.text()))
        .with_primary(not_span, "expected an operand here; put `not ...` in parentheses");
    if let Some(s) = before_span {
        d = d.with_secondary(s, format!("`{}` binds more tightly than `not`", before.text()));
    }
    d.with_note(format!("write `a {} (not b)`", before.text()))
}

/// `a < b < c`: comparisons do not chain.
fn chained_comparison(span: Span, op: BinaryOp, first_span: Span, first: BinaryOp) -> Diagnostic {
    Diagnostic::error("E0001", "comparison operators cannot be chained")
        .with_primary(span, format!("expected `and`, `or` or the end of the expression before this `{}`", op.symbol()))
        .with_secondary(first_span, format!("the comparison `{}` is here", first.symbol()))
        .with_note(format!("write `a {} b and b {} c`, or use parentheses", first.symbol(), op.symbol()))
}
