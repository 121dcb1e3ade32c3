//! `pipec build --python`: the titanic example's wheel, built by maturin and installed into a
//! venv, scores 100,000 rows in PySpark (`mapInArrow`, local[2]), Ray Data (`map_batches`)
//! and Polars, and each output is `pipec score`'s output of the same file bit for bit
//! (`tests/clients/python_engines.py`, which also proves it would catch one flipped bit).
//! Bad data raises ValueError with `pipec score`'s messages.

use pipec_tests::repo_root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{build_server, python_venv, target_dir};

const ROWS: usize = 100_000;

/// The venv the engines run in; the wheel is installed into it.
const PACKAGES: &[&str] =
    &["maturin==1.16.0", "pyarrow==26.0.1", "polars==2.1.0", "pyspark==4.3.0", "ray[data]==2.60.0"];

/// Runs `command` to its end, killing it after `limit`; returns its output.
fn run_bounded(command: &mut Command, limit: Duration) -> Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let id = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done_tx.send(());
        output
    });
    let started = Instant::now();
    if done_rx.recv_timeout(limit).is_err() {
        let _ = Command::new("kill").arg("-KILL").arg(id.to_string()).status();
        panic!("{command:?} did not finish in {} s", started.elapsed().as_secs());
    }
    waiter.join().expect("the waiter").expect("the command's output")
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `pipec build titanic.pipe --python -o DIR` with the venv's maturin; returns the wheel.
fn build_wheel(python: &Path, dir: &Path) -> PathBuf {
    let maturin = python.with_file_name("maturin");
    let output = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_pipec"))
            .arg("build")
            .arg(repo_root().join("examples/titanic/titanic.pipe"))
            .arg("--python")
            .arg("-o")
            .arg(dir)
            .arg("--target-dir")
            .arg(target_dir())
            .arg("--maturin")
            .arg(&maturin),
        Duration::from_secs(1800),
    );
    assert!(output.status.success(), "pipec build --python failed:\n{}", text(&output));
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the wheel folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let name = wheels[0].file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.starts_with("pipec_titanic-1.0.0-cp39-abi3-"), "{name}: not one abi3 wheel for CPython >= 3.9");
    wheels[0].clone()
}

#[test]
fn the_wheel_scores_as_pipec_score_in_spark_ray_and_polars() {
    let python = python_venv("venv-python-engines", PACKAGES);
    let dir = target_dir().join("pipec-e2e").join("python-wheel");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");

    let wheel = build_wheel(&python, &dir.join("wheel"));
    let installed = run_bounded(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps"]).arg(&wheel),
        Duration::from_secs(300),
    );
    assert!(installed.status.success(), "pip install {}:\n{}", wheel.display(), text(&installed));

    let script = repo_root().join("tests/clients/python_engines.py");
    let input = dir.join("rows.parquet");
    let written = run_bounded(
        Command::new(&python)
            .arg(&script)
            .arg("write")
            .arg(repo_root().join("examples/titanic/reference.json"))
            .arg(ROWS.to_string())
            .arg(&input),
        Duration::from_secs(300),
    );
    assert!(written.status.success(), "python_engines.py write:\n{}", text(&written));

    let server = build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-score", &["--batch"]);
    let scored = dir.join("scored.parquet");
    let score = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_pipec"))
            .arg("score")
            .arg(&server)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&scored)
            .arg("--quiet"),
        Duration::from_secs(300),
    );
    assert!(score.status.success(), "pipec score:\n{}", text(&score));

    let engines = run_bounded(
        Command::new(&python).arg(&script).arg("score").arg("pipec_titanic").arg(&input).arg(&scored),
        Duration::from_secs(1200),
    );
    assert!(engines.status.success(), "python_engines.py score:\n{}", text(&engines));
    let stdout = String::from_utf8_lossy(&engines.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON report:\n{}", text(&engines)));

    assert_eq!(report["rows"], ROWS, "{report}");
    assert_eq!(report["control_detected"], true, "the comparison missed a flipped bit: {report}");
    assert_eq!(report["metadata"], Value::Array(Vec::new()), "{report}");
    for engine in ["spark", "ray", "polars"] {
        let result = &report["engines"][engine];
        assert_eq!(result["rows"], ROWS, "{engine}: {result}");
        assert_eq!(result["problems"], Value::Array(Vec::new()), "{engine} differs from pipec score: {result}");
    }
    let errors = &report["errors"];
    let message = |key: &str| {
        errors[key].as_str().unwrap_or_else(|| panic!("no ValueError/TypeError for {key}: {report}")).to_string()
    };
    assert!(message("missing_column").contains("the pipeline's input `sex` has no column of that name"), "{errors}");
    assert!(message("null").contains("column `sibsp`, row 7: null, but the input is not nullable"), "{errors}");
    assert!(message("not_arrow").contains("__arrow_c_array__"), "{errors}");
}
