//! The `monitor` section: which values the server watches for drift, the outputs live
//! accuracy compares with ground truth, and the baselines, computed here from the reference
//! CSV with the interpreter.
//!
//! Sources: a watched input is read from the request (`Source::Input`); a watched output is
//! read from its column; a watched feature that is not an output becomes an extra output with
//! role `Watch` (after the checks) and is read from that column. Baselines: f32 values are
//! numeric, booleans categorical (`"false"` / `"true"`), `str` inputs categorical.

use super::scope::{Decl, suggest};
use super::{Lowerer, Val};
use crate::interp::{self, Column};
use crate::ir::{InputKind, NodeId, Op, OutputRole, OutputSpec, Ty};
use pipec_dsl::ast::{self, Expr, ExprKind, Ident};
use pipec_dsl::{Diagnostic, Span};
use pipec_monitor::{AccuracySpec, Baseline, FeatureBaseline, MonitorSpec, Source};
use std::collections::HashMap;

/// The keys of the monitor section.
pub(crate) const KEYS: [&str; 7] =
    ["reference", "watch", "window", "drift_threshold", "label", "probability", "prediction"];
pub(crate) const DEFAULT_WINDOW: usize = 1000;
pub(crate) const DEFAULT_DRIFT_THRESHOLD: f64 = 0.2;
/// The largest `window` accepted.
pub(crate) const MAX_WINDOW: f64 = 10_000_000.0;

/// The names of the `watch` list (for the unused-name warnings), whatever their validity.
pub(crate) fn watched_idents(ast: &ast::Pipeline) -> Vec<&Ident> {
    let Some(monitor) = &ast.monitor else { return Vec::new() };
    let Some(entry) = monitor.entries.iter().find(|e| e.key.name == "watch") else { return Vec::new() };
    match &entry.value.kind {
        ExprKind::List(items) => items
            .iter()
            .filter_map(|e| match &e.kind {
                ExprKind::Name(ident) => Some(ident),
                _ => None,
            })
            .collect(),
        ExprKind::Name(ident) => vec![ident],
        _ => Vec::new(),
    }
}

/// A watched value, resolved.
struct Watched<'a> {
    ident: &'a Ident,
    what: WatchedKind,
}

enum WatchedKind {
    /// A numeric or boolean input: its node and input number.
    Input { node: NodeId },
    /// A string input: its input number.
    StrInput { input: u32 },
    /// A feature or output's node; `output` when it is already an output.
    Column { node: NodeId, output: bool },
}

/// The settings of the monitor section, each read if it has the right kind of value.
struct Settings<'a> {
    /// The reference CSV's path and where it is written.
    reference: Option<(String, Span)>,
    window: Option<usize>,
    drift_threshold: Option<f64>,
    watch: Vec<&'a Ident>,
    accuracy: Option<AccuracySpec>,
}

/// The `monitor` section, in phases: its keys ([`known_entries`]), their values
/// ([`read_settings`], with [`read_accuracy`]), the watched values ([`resolve_watch_list`]),
/// then the baselines from the reference file ([`compute_baselines`]), which set
/// `Graph::monitor` and add the watched features' columns.
pub(crate) fn lower_monitor(lw: &mut Lowerer) {
    let Some(section) = &lw.ast.monitor else { return };
    let entries = known_entries(lw, section);
    let settings = read_settings(lw, &entries);
    let watched = resolve_watch_list(lw, &settings.watch);
    compute_baselines(lw, settings, &watched);
}

/// The entries of the section by key: known keys, once each, `reference` and `watch` there.
fn known_entries<'a>(lw: &mut Lowerer, section: &'a ast::Monitor) -> HashMap<&'a str, &'a ast::MonitorEntry> {
    let mut entries: HashMap<&str, &ast::MonitorEntry> = HashMap::new();
    for entry in &section.entries {
        let key = entry.key.name.as_str();
        if !KEYS.contains(&key) {
            let mut d = Diagnostic::error("E0501", format!("unknown monitor setting `{key}`"))
                .with_primary(entry.key.span, format!("expected one of: {}", KEYS.join(", ")));
            if let Some(s) = suggest(key, KEYS) {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            lw.error(d);
        } else if let Some(first) = entries.get(key) {
            let first_span = first.key.span;
            lw.error(
                Diagnostic::error("E0502", format!("monitor setting `{key}` is given twice"))
                    .with_primary(entry.key.span, "given again here")
                    .with_secondary(first_span, "first given here"),
            );
        } else {
            entries.insert(key, entry);
        }
    }
    for required in ["reference", "watch"] {
        if !entries.contains_key(required) {
            let example = if required == "reference" { "reference: \"reference.csv\"" } else { "watch: [x, y]" };
            lw.error(
                Diagnostic::error("E0504", format!("the monitor section needs `{required}`"))
                    .with_primary(section.keyword, format!("add `{example}` to this section")),
            );
        }
    }
    entries
}

/// Each setting's value, if it has the right kind; reports those that do not.
fn read_settings<'a>(lw: &mut Lowerer, entries: &HashMap<&str, &'a ast::MonitorEntry>) -> Settings<'a> {
    let reference = entries.get("reference").and_then(|e| match &e.value.kind {
        ExprKind::Str(path) => Some((path.clone(), e.value.span)),
        _ => {
            wrong_kind(lw, e, "a file path string such as \"reference.csv\"");
            None
        }
    });
    let window = match entries.get("window") {
        None => Some(DEFAULT_WINDOW),
        Some(e) => match e.value.kind {
            ExprKind::Number(n) if (1.0..=MAX_WINDOW).contains(&n) && n.fract() == 0.0 => Some(n as usize),
            _ => {
                wrong_kind(lw, e, "a whole number of rows from 1 to 10000000");
                None
            }
        },
    };
    let drift_threshold = match entries.get("drift_threshold") {
        None => Some(DEFAULT_DRIFT_THRESHOLD),
        Some(e) => match e.value.kind {
            ExprKind::Number(n) if n.is_finite() && n >= 0.0 => Some(n),
            _ => {
                wrong_kind(lw, e, "a number such as 0.2 (the PSI above which a value has drifted)");
                None
            }
        },
    };
    let watch = entries.get("watch").and_then(|e| watch_names(lw, e)).unwrap_or_default();
    let accuracy = read_accuracy(lw, entries);
    Settings { reference, window, drift_threshold, watch, accuracy }
}

/// The names of the `watch` list: a name, or a non-empty list of names.
fn watch_names<'a>(lw: &mut Lowerer, entry: &'a ast::MonitorEntry) -> Option<Vec<&'a Ident>> {
    let items: Vec<&Expr> = match &entry.value.kind {
        ExprKind::List(items) if !items.is_empty() => items.iter().collect(),
        ExprKind::Name(_) => vec![&entry.value],
        _ => {
            wrong_kind(lw, entry, "a non-empty list of names such as [age, income]");
            return None;
        }
    };
    let mut names = Vec::new();
    for item in items {
        match &item.kind {
            ExprKind::Name(ident) => names.push(ident),
            _ => {
                lw.error(
                    Diagnostic::error("E0503", "`watch` lists names only")
                        .with_primary(item.span, "expected the name of an input, feature or output"),
                );
                return None;
            }
        }
    }
    Some(names)
}

/// Live accuracy: `label` (with `probability`) of a classifier or `prediction` of a
/// regressor, each an output of the right type.
fn read_accuracy(lw: &mut Lowerer, entries: &HashMap<&str, &ast::MonitorEntry>) -> Option<AccuracySpec> {
    let mut name_of = |key: &str| -> Option<(String, Span)> {
        let e = entries.get(key)?;
        match &e.value.kind {
            ExprKind::Name(ident) => Some((ident.name.clone(), ident.span)),
            _ => {
                wrong_kind(lw, e, "the name of an output");
                None
            }
        }
    };
    let label = name_of("label");
    let probability = name_of("probability");
    let prediction = name_of("prediction");

    let label = label.and_then(|(n, s)| output_of(lw, "label", &n, s, Ty::Bool(1)).then_some(n));
    let probability = probability.and_then(|(n, s)| output_of(lw, "probability", &n, s, Ty::F32(1)).then_some(n));
    let prediction = prediction.and_then(|(n, s)| output_of(lw, "prediction", &n, s, Ty::F32(1)).then_some(n));
    if let (Some(l), Some(p)) = (entries.get("label"), entries.get("prediction")) {
        lw.error(
            Diagnostic::error("E0507", "`label` and `prediction` exclude each other")
                .with_primary(p.key.span, "`prediction` is for regressors")
                .with_secondary(l.key.span, "`label` is for classifiers")
                .with_note("keep `label` (and `probability`) for a classifier, or `prediction` for a regressor"),
        );
    }
    if let (None, Some(p)) = (entries.get("label"), entries.get("probability")) {
        lw.error(
            Diagnostic::error("E0507", "`probability` needs `label`")
                .with_primary(p.key.span, "the probability of the classifier's `label` output")
                .with_note("add `label: <a bool output>`"),
        );
    }
    match (label, prediction) {
        (Some(label), None) => Some(AccuracySpec::Classifier { label, probability }),
        (None, Some(prediction)) => Some(AccuracySpec::Regressor { prediction }),
        _ => None,
    }
}

/// The watched names resolved, each once.
fn resolve_watch_list<'a>(lw: &mut Lowerer, watch: &[&'a Ident]) -> Vec<Watched<'a>> {
    let mut watched: Vec<Watched> = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for &ident in watch {
        if let Some(first) = seen.get(ident.name.as_str()) {
            let first = *first;
            lw.error(
                Diagnostic::error("E0502", format!("`{}` is watched twice", ident.name))
                    .with_primary(ident.span, "watched again here")
                    .with_secondary(first, "first watched here"),
            );
            continue;
        }
        seen.insert(ident.name.as_str(), ident.span);
        if let Some(what) = resolve_watched(lw, ident) {
            watched.push(Watched { ident, what });
        }
    }
    watched
}

/// The baselines of the watched values over the reference file, computed with the
/// interpreter: only for a pipeline without errors, so that the graph is complete. Sets
/// `Graph::monitor` and adds a `Watch` output for each watched feature that is not an output.
fn compute_baselines(lw: &mut Lowerer, settings: Settings, watched: &[Watched]) {
    let Settings { reference, window, drift_threshold, accuracy, .. } = settings;
    let Some((path, path_span)) = reference else { return };
    let bytes = match lw.read_artifact_at(&path, path_span, "reference file") {
        Ok(bytes) => bytes,
        Err(diagnostic) => {
            lw.error(diagnostic);
            return;
        }
    };
    let (Some(window), Some(drift_threshold)) = (window, drift_threshold) else { return };
    if lw.diagnostics.iter().any(Diagnostic::is_error) {
        return;
    }
    let Some((reference, values)) = evaluate_reference(lw, &bytes, (&path, path_span), watched) else { return };
    let mut features = Vec::new();
    let mut watch_outputs = Vec::new();
    for w in watched {
        let name = w.ident.name.clone();
        let (source, baseline) = match w.what {
            WatchedKind::StrInput { input } => {
                let Column::Str(strings) = &reference.columns[input as usize] else { continue };
                let refs: Vec<Option<&str>> = strings.iter().map(|s| s.as_deref()).collect();
                (Source::Input, Baseline::categorical(&refs))
            }
            WatchedKind::Input { node } => (Source::Input, baseline_of(lw, node, &values[node.index()])),
            WatchedKind::Column { node, output } => {
                if !output {
                    watch_outputs.push(OutputSpec { name: name.clone(), node, role: OutputRole::Watch });
                }
                (Source::Column, baseline_of(lw, node, &values[node.index()]))
            }
        };
        match baseline {
            Ok(baseline) => features.push(FeatureBaseline { name, source, baseline }),
            Err(e) => lw.error(
                Diagnostic::error("E0302", format!("`{path}` gives no baseline for `{name}`: {e}"))
                    .with_primary(w.ident.span, "this watched value")
                    .with_secondary(path_span, "in this reference file"),
            ),
        }
    }
    for output in watch_outputs {
        lw.graph.push_output(output);
    }
    lw.graph.monitor = Some(MonitorSpec { window, drift_threshold, features, accuracy });
}

/// The reference file's input columns (those the watched values need) and every node's
/// values over them; reports a file that does not parse or evaluate.
fn evaluate_reference(
    lw: &mut Lowerer,
    bytes: &[u8],
    (path, path_span): (&str, Span),
    watched: &[Watched],
) -> Option<(Reference, Vec<Vec<f32>>)> {
    let needed = needed_inputs(lw, watched);
    let reference = match read_reference(lw, bytes, &needed) {
        Ok(reference) => reference,
        Err(reason) => {
            lw.error(
                Diagnostic::error("E0302", format!("`{path}` is not a valid monitor reference: {reason}"))
                    .with_primary(path_span, "this reference file")
                    .with_note("a CSV file with a header row naming the inputs; an empty cell is a missing value"),
            );
            return None;
        }
    };
    match interp::eval_nodes(&lw.graph, &reference.columns, reference.rows) {
        Ok(values) => Some((reference, values)),
        Err(e) => {
            lw.error(
                Diagnostic::error("E0302", format!("`{path}`: {e}")).with_primary(path_span, "this reference file"),
            );
            None
        }
    }
}

fn wrong_kind(lw: &mut Lowerer, entry: &ast::MonitorEntry, expected: &str) {
    lw.error(
        Diagnostic::error("E0503", format!("wrong value for monitor setting `{}`", entry.key.name))
            .with_primary(entry.value.span, format!("expected {expected}")),
    );
}

/// Whether `name` is an output of the `output` section of type `ty`; reports why not.
fn output_of(lw: &mut Lowerer, key: &str, name: &str, span: Span, ty: Ty) -> bool {
    let expected = if ty == Ty::Bool(1) { "a `bool` output (the predicted class)" } else { "an `f32` output" };
    match lw.scope.get(name).copied() {
        None => {
            let mut d = Diagnostic::error("E0101", format!("unknown name `{name}`"))
                .with_primary(span, format!("expected {expected}"));
            if let Some(s) = suggest(name, lw.scope.names()) {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            lw.error(d);
            false
        }
        Some(Decl::Output(_)) => {
            let Some(output) = lw.graph.outputs().iter().find(|o| o.name == name && o.role == OutputRole::Output)
            else {
                return false; // its own error was reported
            };
            let found = lw.graph.ty(output.node);
            if found == ty {
                return true;
            }
            lw.error(
                Diagnostic::error("E0506", format!("`{key}` must be {expected}"))
                    .with_primary(span, format!("`{name}` is `{found}`")),
            );
            false
        }
        Some(_) => {
            lw.error(
                Diagnostic::error("E0506", format!("`{key}` must be {expected}"))
                    .with_primary(span, format!("`{name}` is not an output"))
                    .with_note("accuracy compares an output with the ground truth posted later"),
            );
            false
        }
    }
}

fn resolve_watched(lw: &mut Lowerer, ident: &Ident) -> Option<WatchedKind> {
    let name = ident.name.as_str();
    let not_watchable = |lw: &mut Lowerer, why: String| {
        lw.error(
            Diagnostic::error("E0505", format!("`{name}` cannot be watched"))
                .with_primary(ident.span, why)
                .with_note("watch values of width 1 (an f32 or bool) or `str` inputs; index a vector: `v[0]`"),
        );
    };
    match lw.scope.get(name).copied() {
        None => {
            let mut d = Diagnostic::error("E0101", format!("unknown name `{name}`"))
                .with_primary(ident.span, "not an input, feature or output of this pipeline");
            if let Some(s) = suggest(name, lw.scope.names()) {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            lw.error(d);
            None
        }
        Some(Decl::Model(_)) => {
            not_watchable(lw, "this is a model; watch the feature it computes".into());
            None
        }
        Some(Decl::Check(_)) => {
            not_watchable(lw, "this is a check; the server counts failed checks already".into());
            None
        }
        Some(Decl::Input(i)) => {
            let input = lw.graph.inputs[i].clone();
            if input.width != 1 {
                not_watchable(
                    lw,
                    format!("this input is `{}[{}]`, {} values wide", input.kind.keyword(), input.width, input.width),
                );
                return None;
            }
            match lw.env.get(name) {
                Some(Val::Num { id, .. }) => Some(WatchedKind::Input { node: *id }),
                Some(Val::Str { input, .. }) => Some(WatchedKind::StrInput { input: *input }),
                _ => None,
            }
        }
        Some(decl @ (Decl::Feature(_) | Decl::Output(_))) => {
            let output = matches!(decl, Decl::Output(_));
            match lw.env.get(name).cloned() {
                Some(Val::Num { id, .. }) => {
                    let ty = lw.graph.ty(id);
                    if ty.width() != 1 {
                        not_watchable(lw, format!("this is `{ty}`, {} values wide", ty.width()));
                        return None;
                    }
                    // An output that failed its own checks is not in the graph's outputs.
                    if output && !lw.graph.outputs().iter().any(|o| o.name == name) {
                        return None;
                    }
                    Some(WatchedKind::Column { node: id, output })
                }
                Some(Val::Str { .. }) => {
                    not_watchable(lw, "this is a string feature; watch the `str` input it comes from".into());
                    None
                }
                _ => None, // an error of its own was reported
            }
        }
    }
}

/// The inputs the watched values are computed from, by input number.
fn needed_inputs(lw: &Lowerer, watched: &[Watched]) -> Vec<bool> {
    let graph = &lw.graph;
    let mut needed = vec![false; graph.inputs.len()];
    let mut live = vec![false; graph.nodes().len()];
    for w in watched {
        match w.what {
            WatchedKind::StrInput { input } => needed[input as usize] = true,
            WatchedKind::Input { node } | WatchedKind::Column { node, .. } => live[node.index()] = true,
        }
    }
    for id in graph.ids().rev() {
        if !live[id.index()] {
            continue;
        }
        match &graph.node(id).op {
            Op::Input { input } | Op::Category { input, .. } => needed[*input as usize] = true,
            op => op.operands().into_iter().for_each(|o| live[o.index()] = true),
        }
    }
    needed
}

fn baseline_of(lw: &Lowerer, node: NodeId, values: &[f32]) -> Result<Baseline, pipec_monitor::BaselineError> {
    match lw.graph.ty(node) {
        Ty::Bool(_) => {
            let cats: Vec<Option<&str>> =
                values.iter().map(|v| Some(if *v != 0.0 { "true" } else { "false" })).collect();
            Baseline::categorical(&cats)
        }
        _ => Baseline::numeric(&values.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()),
    }
}

/// The interpreter's input columns from the reference CSV.
pub(crate) struct Reference {
    pub columns: Vec<Column>,
    pub rows: usize,
}

/// Reads the reference CSV: a header naming columns; for every needed input a column of its
/// name (`name[i]` for element `i` of a vector input). An empty cell is a missing value
/// (NaN, or `None` for a string); it is an error for an input that is not nullable. Inputs
/// that are not needed get missing values.
fn read_reference(lw: &Lowerer, bytes: &[u8], needed: &[bool]) -> Result<Reference, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read its header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    // For each input, the CSV column of each of its elements.
    let mut positions: Vec<Vec<usize>> = Vec::with_capacity(lw.graph.inputs.len());
    for (input, is_needed) in lw.graph.inputs.iter().zip(needed) {
        if !is_needed {
            positions.push(Vec::new());
            continue;
        }
        let names: Vec<String> = if input.is_vector {
            (0..input.width).map(|i| format!("{}[{i}]", input.name)).collect()
        } else {
            vec![input.name.clone()]
        };
        let mut cols = Vec::new();
        for n in names {
            let Some(p) = header.iter().position(|h| *h == n) else {
                return Err(format!("no column `{n}` (input `{}` is needed by the watched values)", input.name));
            };
            cols.push(p);
        }
        positions.push(cols);
    }
    let mut columns: Vec<Column> = lw
        .graph
        .inputs
        .iter()
        .map(|i| match i.kind {
            InputKind::Str => Column::Str(Vec::new()),
            InputKind::Bool => Column::Bool(Vec::new()),
            _ => Column::F32(Vec::new()),
        })
        .collect();
    let mut rows = 0usize;
    for record in reader.records() {
        let record = record.map_err(|e| format!("{e}"))?;
        let line = record.position().map_or(rows + 2, |p| p.line() as usize);
        for ((input, cols), column) in lw.graph.inputs.iter().zip(&positions).zip(columns.iter_mut()) {
            if cols.is_empty() {
                match column {
                    Column::F32(v) => v.extend(std::iter::repeat_n(f32::NAN, input.width)),
                    Column::Bool(v) => v.extend(std::iter::repeat_n(false, input.width)),
                    Column::Str(v) => v.push(None),
                }
                continue;
            }
            for &p in cols {
                let cell = record.get(p).unwrap_or("").trim();
                let col_name = &header[p];
                let bad = |what: &str| format!("line {line}, column `{col_name}`: `{cell}` is not {what}");
                if cell.is_empty() {
                    if !input.nullable {
                        return Err(format!(
                            "line {line}, column `{col_name}`: a missing value, but input `{}` is not nullable",
                            input.name
                        ));
                    }
                    match column {
                        Column::F32(v) => v.push(f32::NAN),
                        Column::Bool(_) => {
                            return Err(format!(
                                "line {line}, column `{col_name}`: a missing `bool?` value cannot be computed with"
                            ));
                        }
                        Column::Str(v) => v.push(None),
                    }
                    continue;
                }
                match (&mut *column, input.kind) {
                    (Column::Str(v), _) => v.push(Some(cell.into())),
                    (Column::Bool(v), _) => v.push(match cell {
                        "true" | "True" | "TRUE" | "1" => true,
                        "false" | "False" | "FALSE" | "0" => false,
                        _ => return Err(bad("a boolean (true or false)")),
                    }),
                    (Column::F32(v), InputKind::I64) => {
                        // `3` or `3.0` (as pandas writes integer columns with missing values).
                        let x = match cell.parse::<i64>() {
                            Ok(i) => i as f64,
                            Err(_) => cell
                                .parse::<f64>()
                                .ok()
                                .filter(|f| f.fract() == 0.0)
                                .ok_or_else(|| bad("an integer (i64)"))?,
                        };
                        v.push(x as f32)
                    }
                    (Column::F32(v), kind) => {
                        let x: f64 = cell.parse().map_err(|_| bad(&format!("a number ({})", kind.keyword())))?;
                        v.push(x as f32)
                    }
                }
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err("it has no rows after its header".to_string());
    }
    Ok(Reference { columns, rows })
}
