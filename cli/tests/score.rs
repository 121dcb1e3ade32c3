//! `pipec score`: the titanic example's CPU server scores its reference rows from Parquet,
//! Arrow and CSV files written by pyarrow, and the outputs, read back by pyarrow, are the
//! running server's answers bit for bit. Bad files and columns fail with a message that names
//! the place, and leave no output behind.

use pipec_tests::repo_root;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

use support::{Server, build_server, post, python_venv, target_dir};

fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-score", &["--batch"]))
}

fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| python_venv("venv-batch", &["pyarrow==26.0.1"]))
}

fn reference_json() -> PathBuf {
    repo_root().join("examples/titanic/reference.json")
}

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("pipec-e2e").join("score").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn batch_data(args: &[&str]) -> Output {
    let output = Command::new(python())
        .arg(repo_root().join("tests/clients/batch_data.py"))
        .args(args)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "batch_data.py {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn read(path: &Path) -> Value {
    let output = batch_data(&["read", path.to_str().expect("utf-8 path")]);
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// `pipec score <server binary> ARGS`.
fn pipec_score(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipec")).arg("score").arg(server_binary()).args(args).output().expect("pipec runs")
}

/// The server's answers for every reference row, as f32 bit patterns.
fn server_answers() -> (Vec<u32>, Vec<bool>, String) {
    let reference: Value = serde_json::from_slice(&std::fs::read(reference_json()).expect("reference")).expect("json");
    let server = Server::start(server_binary(), &[]);
    let inputs: Vec<Value> = ["age", "sibsp", "parch", "sex", "pclass"]
        .iter()
        .map(|&name| {
            let data = &reference["inputs"][name];
            let datatype = if matches!(name, "sex" | "pclass") { "BYTES" } else { "FP64" };
            json!({ "name": name, "shape": [data.as_array().expect("column").len()], "datatype": datatype, "data": data })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "inputs": inputs })).expect("request");
    let (status, _, answer) = post(&server.url("/v2/models/titanic/infer"), &body, &[]);
    let answer: Value = serde_json::from_slice(&answer).expect("json answer");
    assert_eq!(status, 200, "{answer}");
    let output = |name: &str| {
        answer["outputs"].as_array().expect("outputs").iter().find(|o| o["name"] == name).expect(name)["data"].clone()
    };
    let p = output("p_survived")
        .as_array()
        .expect("data")
        .iter()
        .map(|v| (v.as_f64().expect("number") as f32).to_bits())
        .collect();
    let survived = output("survived").as_array().expect("data").iter().map(|v| v.as_bool().expect("bool")).collect();
    (p, survived, answer["parameters"]["pipeline"].as_str().expect("identity").to_string())
}

fn bits(column: &Value) -> Vec<u32> {
    column["values"].as_array().expect("values").iter().map(|v| v.as_u64().expect("bits") as u32).collect()
}

fn booleans(column: &Value) -> Vec<bool> {
    column["values"].as_array().expect("values").iter().map(|v| v.as_bool().expect("bool")).collect()
}

#[test]
fn parquet_arrow_and_csv_score_to_the_servers_answers_bit_for_bit() {
    let dir = scratch("formats");
    batch_data(&["write", reference_json().to_str().unwrap(), dir.to_str().unwrap()]);
    let (p_server, survived_server, identity) = server_answers();
    assert_eq!(p_server.len(), 150);

    for (input, extra) in [
        ("rows.parquet", &[][..]),
        ("rows.arrow", &[][..]),
        ("rows.csv", &[][..]),
        // Small batches over two threads: answers come back in input order.
        ("rows.parquet", &["--threads", "2", "--batch-rows", "7"][..]),
    ] {
        let out = dir.join(format!("{input}.scored.parquet"));
        let (input_path, out_path) = (dir.join(input), out.clone());
        let mut args = vec!["--input", input_path.to_str().unwrap(), "--output", out_path.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let output = pipec_score(&args);
        assert!(output.status.success(), "pipec score {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        let summary: Value = serde_json::from_slice(&output.stdout).expect("the --json summary");
        assert_eq!(summary["rows"], 150, "{summary}");

        let scored = read(&out);
        let columns = &scored["columns"];
        assert_eq!(scored["rows"], 150);
        assert_eq!(columns["p_survived"]["type"], "float", "{input}: {}", columns["p_survived"]);
        assert_eq!(bits(&columns["p_survived"]), p_server, "{input} {extra:?}: p_survived differs from the server's");
        assert_eq!(booleans(&columns["survived"]), survived_server, "{input} {extra:?}: survived differs");
        assert_eq!(scored["metadata"]["pipec.identity"], identity.as_str(), "{}", scored["metadata"]);
        assert_eq!(scored["metadata"]["pipec.pipeline"], "titanic");
        // Every input column is kept, the key among them, in order.
        // CSV keeps the columns that are not inputs as text.
        let passenger: Vec<u64> = columns["passenger"]["values"]
            .as_array()
            .expect("key")
            .iter()
            .map(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).expect("a passenger number"))
            .collect();
        assert_eq!(passenger, (1000..1150).collect::<Vec<u64>>(), "{input}");
        assert!(columns["sex"].is_object() && columns["age"].is_object(), "{input}: input columns are not kept");
    }
}

#[test]
fn key_keeps_only_the_named_columns_and_arrow_output_works() {
    let dir = scratch("key");
    batch_data(&["write", reference_json().to_str().unwrap(), dir.to_str().unwrap()]);
    let out = dir.join("scored.arrow");
    let output = pipec_score(&[
        "--input",
        dir.join("rows.parquet").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--key",
        "passenger",
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let scored = read(&out);
    let names: Vec<&String> = scored["columns"].as_object().expect("columns").keys().collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["passenger", "p_survived", "survived"] {
        assert!(scored["columns"][name].is_object(), "no `{name}` in {names:?}");
    }
    assert!(scored["metadata"]["pipec.identity"].as_str().is_some_and(|i| i.len() == 64), "{}", scored["metadata"]);

    let unknown = pipec_score(&[
        "--input",
        dir.join("rows.parquet").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--key",
        "nope",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("--key `nope`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn bad_files_and_columns_fail_with_the_place_and_leave_no_output() {
    let dir = scratch("bad");
    batch_data(&["bad", reference_json().to_str().unwrap(), dir.to_str().unwrap()]);
    for (input, expected) in [
        ("missing_column.parquet", vec!["input `sex` has no column of that name", "`passenger`"]),
        ("wrong_type.parquet", vec!["column `sibsp` is Utf8", "takes numbers"]),
        ("null.parquet", vec!["column `sibsp`, row 7: null, but the input is not nullable"]),
        ("truncated.parquet", vec!["not a readable Parquet file"]),
        ("bad_number.csv", vec!["line 5", "column `age`: `abc` is not a number"]),
        ("absent.parquet", vec!["absent.parquet", "No such file"]),
    ] {
        let out = dir.join(format!("{input}.out.parquet"));
        let output = pipec_score(&["--input", dir.join(input).to_str().unwrap(), "--output", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{input}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "{input}: `{text}` not in:\n{stderr}");
        }
        assert!(!out.exists(), "{input}: an output was left behind");
    }
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.contains("pipec-partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}
