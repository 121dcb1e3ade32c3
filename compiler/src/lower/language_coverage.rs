//! Tests that the ops fixture (`tests/fixtures/ops/ops.pipe`) and the language reference
//! (`docs/language.md`) cover every built-in: every function of [`function_names`], every
//! operator, and every [`UnaryFn`] and [`BinaryFn`] the language reaches. The lists come from
//! the code (`UnaryFn::ALL`, `BinaryFn::ALL`, the built-in function table), so a new
//! built-in fails here, by name, until the fixture uses it and the reference documents it.

use super::builtins::function_names;
use super::expr::{binary_fn, unary_fn};
use crate::ir::{BinaryFn, Op, UnaryFn};
use pipec_dsl::ast::{Arg, BinaryOp, Expr, ExprKind, Pipeline, UnaryOp};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// Functions of the IR that `.pipe` source cannot write: ONNX casts truncate.
const ONNX_ONLY: [UnaryFn; 1] = [UnaryFn::Trunc];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the compiler sits in the workspace").to_path_buf()
}

fn ops_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures").join("ops")
}

fn ops_source() -> String {
    std::fs::read_to_string(ops_dir().join("ops.pipe")).expect("the ops fixture is readable")
}

/// What one `.pipe` file's source writes: the functions it calls and the operators it uses.
#[derive(Default)]
struct Written<'a> {
    calls: BTreeSet<&'a str>,
    binary: HashSet<BinaryOp>,
    unary: HashSet<UnaryOp>,
}

impl<'a> Written<'a> {
    fn of(ast: &'a Pipeline) -> Written<'a> {
        let mut written = Written::default();
        let bindings = ast.features.iter().chain(&ast.outputs).chain(&ast.checks);
        let mut stack: Vec<&Expr> = bindings.map(|b| &b.value).collect();
        stack.extend(ast.models.iter().flat_map(|m| m.args.iter().map(|a: &Arg| &a.value)));
        while let Some(expr) = stack.pop() {
            match &expr.kind {
                ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Name(_) => {}
                ExprKind::List(items) => stack.extend(items),
                ExprKind::Call { callee, args } => {
                    written.calls.insert(callee.name.as_str());
                    stack.extend(args.iter().map(|a| &a.value));
                }
                ExprKind::Unary { op, operand } => {
                    written.unary.insert(*op);
                    stack.push(operand);
                }
                ExprKind::Binary { op, lhs, rhs } => {
                    written.binary.insert(*op);
                    stack.extend([&**lhs, &**rhs]);
                }
                ExprKind::Index { base, .. } => stack.push(base),
            }
        }
        written
    }

    fn unary_fns(&self) -> HashSet<UnaryFn> {
        let called = self.calls.iter().filter_map(|c| UnaryFn::from_name(c));
        self.unary.iter().map(|op| unary_fn(*op)).chain(called).collect()
    }

    fn binary_fns(&self) -> HashSet<BinaryFn> {
        let called = self.calls.iter().filter_map(|c| BinaryFn::from_name(c));
        self.binary.iter().map(|op| binary_fn(*op)).chain(called).collect()
    }
}

/// How the language reference writes a prefix operator (its table of operators).
fn unary_spelling(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-a",
        UnaryOp::Not => "not a",
    }
}

/// The section of `docs/language.md` under `heading`, up to the next `## ` heading.
fn docs_section(heading: &str) -> String {
    let docs = std::fs::read_to_string(repo_root().join("docs").join("language.md")).expect("docs/language.md");
    let start = docs.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("docs/language.md has no `{heading}`"));
    let rest = &docs[start + heading.len() + 2..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

/// The code spans (`` `...` ``) of column `column` (from 0) of each table row of `section`.
fn table_code(section: &str, column: usize) -> Vec<String> {
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|--") && !l.starts_with("|---"))
        .filter_map(|l| l.split('|').nth(column + 1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn ops_fixture_calls_every_builtin_function_and_operator() {
    let source = ops_source();
    let ast = pipec_dsl::parse(&source).expect("the ops fixture parses");
    let written = Written::of(&ast);
    let functions: Vec<&str> = function_names().filter(|f| !written.calls.contains(f)).collect();
    let unary: Vec<&str> = UnaryFn::ALL
        .into_iter()
        .filter(|f| !ONNX_ONLY.contains(f) && !written.unary_fns().contains(f))
        .map(UnaryFn::name)
        .collect();
    let binary: Vec<&str> =
        BinaryFn::ALL.into_iter().filter(|f| !written.binary_fns().contains(f)).map(BinaryFn::name).collect();
    assert!(
        functions.is_empty() && unary.is_empty() && binary.is_empty(),
        "tests/fixtures/ops/ops.pipe does not use the built-in functions {functions:?}, \
         nor the operators or functions of the IR's unary {unary:?} and binary {binary:?}"
    );
}

#[test]
fn ops_fixture_computes_every_function_of_the_ir() {
    let outcome = crate::check_source(&ops_source(), &ops_dir());
    let checked = outcome.checked.unwrap_or_else(|| panic!("the ops fixture checks: {:#?}", outcome.diagnostics));
    let mut unary = HashSet::new();
    let mut binary = HashSet::new();
    for node in checked.graph().nodes() {
        match node.op {
            Op::Unary { op, .. } => unary.insert(op),
            Op::Binary { op, .. } => binary.insert(op),
            _ => false,
        };
    }
    let missing_unary: Vec<&str> =
        UnaryFn::ALL.into_iter().filter(|f| !ONNX_ONLY.contains(f) && !unary.contains(f)).map(UnaryFn::name).collect();
    let missing_binary: Vec<&str> =
        BinaryFn::ALL.into_iter().filter(|f| !binary.contains(f)).map(BinaryFn::name).collect();
    assert!(
        missing_unary.is_empty() && missing_binary.is_empty(),
        "the ops fixture's graph has no {missing_unary:?} {missing_binary:?}"
    );
}

#[test]
fn language_reference_documents_every_builtin_function() {
    let documented: BTreeSet<String> = table_code(&docs_section("## Built-in functions"), 0)
        .iter()
        .filter_map(|code| code.split_once('(').map(|(name, _)| name.to_string()))
        .collect();
    let undocumented: Vec<&str> = function_names().filter(|f| !documented.contains(*f)).collect();
    assert!(undocumented.is_empty(), "docs/language.md's built-in table lacks {undocumented:?}");
    let unknown: Vec<&String> = documented.iter().filter(|d| !function_names().any(|f| f == d.as_str())).collect();
    assert!(unknown.is_empty(), "docs/language.md documents functions the compiler does not have: {unknown:?}");
}

#[test]
fn language_reference_documents_every_operator() {
    // The fixture uses every operator (`ops_fixture_calls_every_builtin_function_and_operator`).
    let source = ops_source();
    let ast = pipec_dsl::parse(&source).expect("the ops fixture parses");
    let written = Written::of(&ast);
    let code = table_code(&docs_section("## Expressions"), 1);
    let words: BTreeSet<&str> = code.iter().flat_map(|c| c.split_whitespace()).collect();
    let mut undocumented: Vec<&str> =
        written.binary.iter().map(|op| op.symbol()).filter(|symbol| !words.contains(symbol)).collect();
    undocumented.extend(written.unary.iter().map(|op| unary_spelling(*op)).filter(|s| !code.iter().any(|c| c == s)));
    assert!(undocumented.is_empty(), "docs/language.md's operator table lacks {undocumented:?}");
}

#[test]
fn onnx_only_functions_are_not_in_the_language() {
    for f in ONNX_ONLY {
        assert!(
            !function_names().any(|name| name == f.name()),
            "{f:?} is a built-in function: test it in the ops fixture"
        );
    }
}
