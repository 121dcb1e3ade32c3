//! The `checks` and `monitor` sections on examples/titanic/titanic_ops.pipe: output roles and
//! order, checks in the interpreter, baselines against a direct computation from the
//! reference CSV, and the build identity.

use pipec_compiler::interp::{Column, eval_outputs};
use pipec_compiler::ir::{Graph, OutputRole};
use pipec_compiler::{Checked, Pass, check_source};
use pipec_monitor::{AccuracySpec, Baseline, Source};
use std::path::{Path, PathBuf};

fn titanic_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/titanic")
}

fn check_in(dir: &Path, file: &str) -> Checked {
    let source = std::fs::read_to_string(dir.join(file)).unwrap();
    let outcome = check_source(&source, dir);
    match outcome.checked {
        Some(c) => c,
        None => panic!("{file} does not check: {:#?}", outcome.diagnostics),
    }
}

fn titanic_ops() -> Checked {
    check_in(&titanic_dir(), "titanic_ops.pipe")
}

/// The reference CSV's columns, parsed by hand (no quoting in this file).
fn reference_rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(titanic_dir().join("monitor_reference.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("age,sibsp,parch,sex,pclass"));
    lines.map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn outputs_then_checks_then_watched_features() {
    let checked = titanic_ops();
    let outputs: Vec<(&str, OutputRole)> =
        checked.graph().outputs().iter().map(|o| (o.name.as_str(), o.role)).collect();
    assert_eq!(
        outputs,
        [
            ("p_survived", OutputRole::Output),
            ("survived", OutputRole::Output),
            ("sibsp_ok", OutputRole::Check),
            ("parch_ok", OutputRole::Check),
            ("age_ok", OutputRole::Check),
            ("age_f", OutputRole::Watch),
        ]
    );
    let public: Vec<&str> = checked.graph().public_outputs().map(|o| o.name.as_str()).collect();
    assert_eq!(public, ["p_survived", "survived"]);
    // The same after every pass, with the monitor spec and the identity carried.
    let optimised = checked.optimised(&[]);
    let after: Vec<(&str, OutputRole)> =
        optimised.graph().outputs().iter().map(|o| (o.name.as_str(), o.role)).collect();
    assert_eq!(outputs, after);
    assert_eq!(optimised.monitor(), checked.monitor());
    assert_eq!(optimised.identity(), checked.identity());
}

#[test]
fn a_pipeline_without_the_sections_is_unchanged() {
    let plain = check_in(&titanic_dir(), "titanic.pipe");
    assert!(plain.graph().outputs().iter().all(|o| o.role == OutputRole::Output));
    assert_eq!(plain.graph().outputs().len(), 2);
    assert!(plain.monitor().is_none());
    assert_eq!(plain.identity().len(), 64);
}

fn columns(rows: &[(f32, f32, f32, &str, &str)]) -> Vec<Column> {
    vec![
        Column::F32(rows.iter().map(|r| r.0).collect()),
        Column::F32(rows.iter().map(|r| r.1).collect()),
        Column::F32(rows.iter().map(|r| r.2).collect()),
        Column::Str(rows.iter().map(|r| Some(r.3.into())).collect()),
        Column::Str(rows.iter().map(|r| Some(r.4.into())).collect()),
    ]
}

#[test]
fn checks_in_the_interpreter() {
    let rows = [
        (30.0, 1.0, 0.0, "male", "1st"),       // all fine
        (f32::NAN, 0.0, 2.0, "female", "3rd"), // missing age: age_ok
        (130.0, 12.0, 0.0, "male", "2nd"),     // age and sibsp out of range
        (-1.0, 0.0, -1.0, "female", "1st"),    // negative age and parch
    ];
    for graph in [titanic_ops().graph().clone(), titanic_ops().optimised(&[]).graph().clone()] {
        let out = eval_outputs(&graph, &columns(&rows), rows.len()).unwrap();
        assert_eq!(out.len(), 6);
        let as_bool = |v: &Vec<f32>| v.iter().map(|x| *x != 0.0).collect::<Vec<_>>();
        assert_eq!(as_bool(&out[2]), [true, true, false, true], "sibsp_ok");
        assert_eq!(as_bool(&out[3]), [true, true, true, false], "parch_ok");
        assert_eq!(as_bool(&out[4]), [true, true, false, false], "age_ok");
        assert_eq!(out[5], [30.0, 28.0, 130.0, -1.0], "age_f, the watched feature");
    }
    // A comparison with a missing value is false (and `!=` true), as IEEE NaN compares.
    let dir = Path::new(".");
    let source = "pipeline p { version \"1\" input { a: f32? } output { y = impute(a, 0) }
        checks { lt = a < 1 ge = a >= 1 eq = a == a ne = a != 1 } }";
    let checked = check_source(source, dir).checked.expect("checks");
    let out = eval_outputs(checked.graph(), &[Column::F32(vec![f32::NAN, 0.0])], 2).unwrap();
    assert_eq!(out[1..], [vec![0.0, 1.0], vec![0.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]]);
}

#[test]
fn baselines_match_the_reference_csv() {
    let checked = titanic_ops();
    let spec = checked.monitor().expect("a monitor spec");
    assert_eq!(spec.window, 200);
    assert_eq!(spec.drift_threshold, 0.2);
    assert_eq!(
        spec.accuracy,
        Some(AccuracySpec::Classifier { label: "survived".into(), probability: Some("p_survived".into()) })
    );
    let names: Vec<(&str, Source)> = spec.features.iter().map(|f| (f.name.as_str(), f.source)).collect();
    assert_eq!(
        names,
        [
            ("age", Source::Input),
            ("sibsp", Source::Input),
            ("sex", Source::Input),
            ("age_f", Source::Column),
            ("p_survived", Source::Column),
        ]
    );
    let rows = reference_rows();
    assert_eq!(rows.len(), 1159);
    let baseline = |name: &str| &spec.features.iter().find(|f| f.name == name).unwrap().baseline;

    // sex: the proportions of the CSV.
    let females = rows.iter().filter(|r| r[3] == "female").count() as f64 / rows.len() as f64;
    let Baseline::Categorical { categories, proportions, other, missing } = baseline("sex") else {
        panic!("sex is categorical")
    };
    assert_eq!(categories, &["male", "female"]);
    assert!((proportions[1] - females).abs() < 1e-12);
    assert!((proportions[0] - (1.0 - females)).abs() < 1e-12);
    assert_eq!((*other, *missing), (0.0, 0.0));

    // age: numeric with its missing share; age_f: the same values imputed with 28.
    let ages: Vec<f64> = rows.iter().map(|r| r[0].parse::<f64>().map_or(f64::NAN, |a| f64::from(a as f32))).collect();
    assert_eq!(baseline("age"), &Baseline::numeric(&ages).unwrap());
    let Baseline::Numeric { missing, .. } = baseline("age") else { panic!("age is numeric") };
    assert!((missing - 229.0 / 1159.0).abs() < 1e-12);
    let imputed: Vec<f64> = ages.iter().map(|a| if a.is_nan() { 28.0 } else { *a }).collect();
    assert_eq!(baseline("age_f"), &Baseline::numeric(&imputed).unwrap());
    let sibsp: Vec<f64> = rows.iter().map(|r| r[1].parse::<f64>().unwrap()).collect();
    assert_eq!(baseline("sibsp"), &Baseline::numeric(&sibsp).unwrap());

    // p_survived: the interpreter's outputs on the reference rows.
    let ref_rows: Vec<(f32, f32, f32, &str, &str)> = rows
        .iter()
        .map(|r| {
            let age = r[0].parse::<f32>().unwrap_or(f32::NAN);
            (age, r[1].parse().unwrap(), r[2].parse().unwrap(), r[3].as_str(), r[4].as_str())
        })
        .collect();
    let out = eval_outputs(checked.graph(), &columns(&ref_rows), ref_rows.len()).unwrap();
    let p: Vec<f64> = out[0].iter().map(|v| f64::from(*v)).collect();
    assert_eq!(baseline("p_survived"), &Baseline::numeric(&p).unwrap());
    spec.validate().unwrap();
}

#[test]
fn bool_values_have_categorical_baselines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let source = std::fs::read_to_string(dir.join("ok_monitor.pipe")).unwrap();
    let checked = check_source(&source, &dir).checked.expect("ok_monitor checks");
    let spec = checked.monitor().unwrap();
    let flag = spec.features.iter().find(|f| f.name == "flag").unwrap();
    assert_eq!(flag.source, Source::Input);
    assert_eq!(flag.baseline, Baseline::categorical(&[Some("true"), Some("false"), Some("true")]).unwrap());
    let high = spec.features.iter().find(|f| f.name == "high").unwrap();
    assert_eq!(high.source, Source::Column);
    // x2 is a feature: a Watch output after the check; high is an output already.
    let roles: Vec<(&str, OutputRole)> = checked.graph().outputs().iter().map(|o| (o.name.as_str(), o.role)).collect();
    assert_eq!(
        roles,
        [
            ("score", OutputRole::Output),
            ("high", OutputRole::Output),
            ("ok", OutputRole::Check),
            ("x2", OutputRole::Watch)
        ]
    );
}

/// A copy of examples/titanic in a fresh temporary folder.
fn copy_titanic(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pipec-identity-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in [
        "titanic_ops.pipe",
        "titanic.pipe",
        "mlp.safetensors",
        "stats.json",
        "pclass_vocab.json",
        "monitor_reference.csv",
    ] {
        std::fs::copy(titanic_dir().join(file), dir.join(file)).unwrap();
    }
    dir
}

fn flip_last_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn identity_follows_the_source_and_every_artifact() {
    let original = titanic_ops();
    let same_dir = copy_titanic("same");
    let again = check_in(&same_dir, "titanic_ops.pipe");
    assert_eq!(again.identity(), original.identity(), "same bytes, same identity");
    assert_eq!(original.identity().len(), 64);
    assert!(original.identity().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let mut seen = vec![original.identity().to_string()];
    // One small edit per file, each keeping the file valid (the last byte of the weight file
    // is part of a weight).
    for (file, edit) in [
        ("mlp.safetensors", None),
        ("stats.json", Some((" ", "  "))),
        ("pclass_vocab.json", Some(("]", " ]"))),
        ("monitor_reference.csv", Some(("59.0,", "59.5,"))),
        ("titanic_ops.pipe", Some(("window: 200", "window: 201"))),
    ] {
        let dir = copy_titanic(file);
        let path = dir.join(file);
        match edit {
            None => flip_last_byte(&path),
            Some((from, to)) => {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.contains(from), "{file}");
                std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            }
        }
        let changed = check_in(&dir, "titanic_ops.pipe");
        assert!(!seen.contains(&changed.identity().to_string()), "changing {file} changes the identity");
        seen.push(changed.identity().to_string());
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A file the pipeline does not read does not count.
    std::fs::write(same_dir.join("unrelated.txt"), "x").unwrap();
    assert_eq!(check_in(&same_dir, "titanic_ops.pipe").identity(), original.identity());
    let _ = std::fs::remove_dir_all(&same_dir);
    // The plain pipeline reads no CSV and has another source: another identity.
    assert_ne!(check_in(&titanic_dir(), "titanic.pipe").identity(), original.identity());
}

#[test]
fn identity_records_disabled_passes() {
    let checked = titanic_ops();
    let full = checked.optimised(&[]);
    assert_eq!(full.identity(), checked.identity());
    let no_fold = checked.optimised(&[Pass::AffineFold]);
    let no_dce = checked.optimised(&[Pass::Dce]);
    let both = checked.optimised(&[Pass::Dce, Pass::AffineFold]);
    let both_again = checked.optimised(&[Pass::AffineFold, Pass::Dce]);
    let ids = [full.identity(), no_fold.identity(), no_dce.identity(), both.identity()];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(both.identity(), both_again.identity(), "the order of the disabled passes does not matter");
    assert_eq!(no_fold.identity(), pipec_compiler::identity::with_disabled(checked.identity(), &[Pass::AffineFold]));
}

/// Every pass keeps the checks and the watched features (they are roots, like outputs).
#[test]
fn dce_keeps_check_and_watch_outputs() {
    let source = "pipeline p { version \"1\" input { a: f32 b: f32 }
        features { only_watched = exp(b) only_checked = log(a) }
        output { y = a * 2 }
        checks { ok = only_checked > 0 }
        monitor { reference: \"r.csv\" watch: [only_watched] } }";
    let dir = std::env::temp_dir().join(format!("pipec-dce-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("r.csv"), "a,b\n1,2\n3,4\n").unwrap();
    let outcome = check_source(source, &dir);
    let checked = outcome.checked.unwrap_or_else(|| panic!("{:#?}", outcome.diagnostics));
    assert!(outcome.diagnostics.is_empty(), "no unused warnings: {:#?}", outcome.diagnostics);
    let after: Graph = pipec_compiler::passes::dce(checked.graph());
    let text = pipec_compiler::ir::render_text(&after);
    assert!(text.contains("exp") && text.contains("log"), "{text}");
    assert!(text.contains("check ok =") && text.contains("watch only_watched ="), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
