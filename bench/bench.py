"""The pipec benchmark (run through bench/run.sh, which sets up this venv).

Measures, for the examples' pipelines and the same rows:
  * pipec's generated code on the CPU: the native one-row path and burn's `flex` backend, at
    batch sizes 1, 64, 4096 and 1,000,000 (target/release/pipec-bench);
  * the typed one-row call and a hand-written Rust port at batch size 1, also for MLPs with
    hidden layers 8 to 256 wide (`pipec-bench --mlps true`, tests/fixtures/mlp*);
  * scikit-learn (predict_proba of the fitted Pipeline) and ONNX Runtime (skl2onnx), and for
    the chained example each stage alone (bench/python/bench_reference.py);
  * each optimisation pass switched off in turn (pipec build --disable-pass, one runner crate
    per variant, built in the shared target directory);
  * the served pipeline under load (oha at concurrency 1, 16, 256) against the same pipeline
    in a FastAPI server (bench/load/load_test.sh).
Prints every figure with its ratio to pipec's (pipec = the native path, what the server runs
on the CPU) and writes target/bench/report.md and target/bench/results.jsonl.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
OUT = TARGET / "bench"
EXAMPLES = ["titanic", "chain"]
PASSES = ["const-fold", "cse", "affine-fold", "onehot-gather", "dce"]
PY = sys.executable


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def cargo():
    return os.environ.get("CARGO", "cargo")


def rust_side(sizes, budget_ms):
    run([cargo(), "build", "--release", "-p", "pipec", "-p", "pipec-bench"], cwd=ROOT)
    out = run([TARGET / "release/pipec-bench", "--sizes", ",".join(map(str, sizes)), "--budget-ms", budget_ms],
              cwd=ROOT, capture_output=True, text=True)
    return json_lines(out.stdout)


def mlp_rows(budget_ms):
    """The typed one-row `score` of the MLP fixtures and the examples against their hand ports,
    alternating in one process (pipec-bench --mlps true; built by rust_side)."""
    out = run([TARGET / "release/pipec-bench", "--mlps", "true", "--budget-ms", budget_ms],
              cwd=ROOT, capture_output=True, text=True)
    return [dict(r, table="mlps") for r in json_lines(out.stdout)]


RUNNER_TOML = """[package]
name = "pipec-bench-variant"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
pipeline = {{ path = "{crate}", package = "{package}" }}
pipec-bench = {{ path = "{bench}", default-features = false }}

[workspace]
"""


def variant(example, pipe, config, flags, sizes, budget_ms):
    """Builds `pipe` with `flags` into a runner crate of its own and measures it."""
    base = OUT / "variants" / f"{example}-{config}"
    crate = base / "crate"
    run([TARGET / "release/pipec", "build", pipe, "--emit-crate", crate, *flags], cwd=ROOT)
    runner = base / "runner"
    (runner / "src").mkdir(parents=True, exist_ok=True)
    (runner / "Cargo.toml").write_text(RUNNER_TOML.format(
        crate=crate, package=f"pipec-gen-{example}", bench=ROOT / "bench"))
    (runner / "src/main.rs").write_text(
        "fn main() -> std::process::ExitCode {\n"
        "    pipec_bench::runner_main::<pipeline::Pipeline>()\n}\n")
    if not (runner / "Cargo.lock").exists():
        shutil.copy(ROOT / "Cargo.lock", runner / "Cargo.lock")
    run([cargo(), "build", "--release", "--manifest-path", runner / "Cargo.toml",
         "--target-dir", TARGET], cwd=ROOT)
    out = run([TARGET / "release/pipec-bench-variant", "--example-dir", ROOT / f"examples/{example}",
               "--config", config, "--sizes", ",".join(map(str, sizes)), "--budget-ms", budget_ms],
              capture_output=True, text=True)
    return json_lines(out.stdout)


def pass_variants(sizes, budget_ms):
    """Each pass switched off in turn, and all of them, with every pass on as the baseline."""
    results = []
    for example in EXAMPLES:
        pipe = ROOT / f"examples/{example}/{example}.pipe"
        for disabled in [[]] + [[p] for p in PASSES] + [PASSES]:
            config = ("variant-all-passes" if not disabled
                      else "no-" + disabled[0] if len(disabled) == 1 else "no-passes")
            flags = [a for p in disabled for a in ("--disable-pass", p)]
            results += variant(example, pipe, config, flags, sizes, budget_ms)
    return results


def chain_stages(sizes, budget_ms):
    """Each stage of the chained example built and run alone (bench/pipes/)."""
    results = []
    for stage in ("stage1", "stage2"):
        for r in variant("chain", ROOT / f"bench/pipes/chain_{stage}.pipe", f"{stage}-alone", [], sizes, budget_ms):
            results.append({**r, "engine": f"{r['engine']}-{stage}", "config": "all-passes"})
    return results


def python_side(sizes):
    results = []
    for example in EXAMPLES:
        path = OUT / f"{example}-python.json"
        run([PY, ROOT / "bench/python/bench_reference.py", "--example", example,
             "--batch-sizes", ",".join(map(str, sizes)), "--json", path], cwd=ROOT / "bench/python")
        report = json.loads(path.read_text())
        for r in report["results"]:
            results.append({**r, "example": example, "config": "reference"})
    return results


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, seconds=300):
    import urllib.request
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {seconds} s")


def load_tests(seconds):
    """oha against the pipec server and the FastAPI server, one-row requests."""
    server = OUT / "titanic-server"
    run([TARGET / "release/pipec", "build", ROOT / "examples/titanic/titanic.pipe", "-o", server], cwd=ROOT)
    body = OUT / "titanic-body.json"
    run([PY, ROOT / "bench/load/make_body.py", "titanic", "0", "-o", body])
    results = []
    env = {**os.environ, "LOAD_SECONDS": str(seconds), "PYTHON": PY}
    servers = [
        ("pipec", lambda port: [server, "--port", port, "--log", "warn", "--max-batch-delay-us", "0"]),
        ("fastapi-sklearn", lambda port: [PY, ROOT / "bench/python/serve_fastapi.py", "--example", "titanic", "--port", port]),
    ]
    for label, command in servers:
        port = free_port()
        process = subprocess.Popen([str(c) for c in command(str(port))], cwd=ROOT / "bench/python",
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", process)
            out_dir = OUT / f"load-{label}"
            shutil.rmtree(out_dir, ignore_errors=True)
            run(["bash", ROOT / "bench/load/load_test.sh", f"http://127.0.0.1:{port}/v2/models/titanic/infer",
                 body, out_dir], env={**env, "LOAD_LABEL": label})
            results += [json.loads(line) for line in (out_dir / "load.jsonl").read_text().splitlines()]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return results


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s:.3g} s"


def report(results, load):
    lines = ["# pipec benchmark", "",
             "Latency is the median time per call; ratio = engine latency / pipec latency "
             "(pipec = the native path, all passes on; above 1 means pipec is faster).", ""]
    mlps = [r for r in results if r.get("table") == "mlps"]
    results = [r for r in results if r.get("table") != "mlps"]
    if mlps:
        lines += ["## One row: pipec's typed score against a hand port", "",
                  "| model | pipec | hand port | pipec / hand port |", "| --- | ---: | ---: | ---: |"]
        for name in dict.fromkeys(r["example"] for r in mlps):
            p = next(r["latency_s_median"] for r in mlps if r["example"] == name and r["engine"] == "pipec-native-row")
            h = next(r["latency_s_median"] for r in mlps if r["example"] == name and r["engine"] == "hand-port-rust")
            lines.append(f"| {name} | {fmt_time(p)} | {fmt_time(h)} | {p / h:.2f} |")
        lines.append("")
    for example in EXAMPLES:
        rows = [r for r in results if r["example"] == example and r["config"] in ("all-passes", "hand-written", "reference")]
        pipec = {r["batch"]: r["latency_s_median"] for r in rows
                 if r["engine"] == "pipec-native" and r["config"] == "all-passes"}
        lines += [f"## {example}", "", "| engine | config | batch | latency | rows/s | ratio to pipec |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for r in sorted(rows, key=lambda r: (r["batch"], r["config"] != "all-passes", r["engine"], r["config"])):
            base = pipec.get(r["batch"])
            ratio = f"{r['latency_s_median'] / base:.2f}" if base else "-"
            lines.append(f"| {r['engine']} | {r['config']} | {r['batch']} | {fmt_time(r['latency_s_median'])} "
                         f"| {r['rows_per_s']:.3g} | {ratio} |")
        stages = {(r["engine"], r["batch"]): r["latency_s_median"] for r in rows}
        for engine in ("pipec-native", "pipec-burn-flex", "sklearn", "onnxruntime"):
            for batch in sorted(pipec):
                whole, s1, s2 = (stages.get((e, batch)) for e in (engine, f"{engine}-stage1", f"{engine}-stage2"))
                if whole and s1 and s2:
                    lines.append(f"\n{engine}, batch {batch}: whole / slowest stage = {whole / max(s1, s2):.2f}")
        lines.append("")
        variants = [r for r in results if r["example"] == example and r["config"].startswith(("no-", "variant-"))]
        if variants:
            base = {(r["engine"], r["batch"]): r["latency_s_median"] for r in variants if r["config"] == "variant-all-passes"}
            lines += [f"### {example}: passes switched off", "",
                      "Each variant is built and run the same way; ratio = latency / latency with every pass on "
                      "(above 1: the pass helps).", "",
                      "| engine | batch | " + " | ".join(c for c in ["no-" + p for p in PASSES] + ["no-passes"]) + " |",
                      "| --- | ---: |" + " ---: |" * (len(PASSES) + 1)]
            for (engine, batch), b in sorted(base.items(), key=lambda kv: (kv[0][0], kv[0][1])):
                cells = []
                for config in ["no-" + p for p in PASSES] + ["no-passes"]:
                    v = next((r["latency_s_median"] for r in variants
                              if r["config"] == config and r["engine"] == engine and r["batch"] == batch), None)
                    cells.append("-" if v is None else f"{v / b:.2f}")
                lines.append(f"| {engine} | {batch} | " + " | ".join(cells) + " |")
            lines.append("")
    if load:
        lines += ["## Served, one-row requests (titanic)", "",
                  "| server | concurrency | req/s | p50 | p99 | errors |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in load:
            p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.3g} ms"
            p99 = "-" if r["p99_ms"] is None else f"{r['p99_ms']:.3g} ms"
            lines.append(f"| {r['label']} | {r['concurrency']} | {r['rps']:.0f} | {p50} | {p99} | {r['errors']} |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter measurements, no 1,000,000-row batches")
    ap.add_argument("--no-passes", action="store_true", help="skip the pass variants")
    ap.add_argument("--no-load", action="store_true", help="skip the load tests")
    ap.add_argument("--no-python", action="store_true", help="skip scikit-learn and ONNX Runtime")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [1, 64, 4096] if args.quick else [1, 64, 4096, 1_000_000]
    budget_ms = "200" if args.quick else "1000"
    results = rust_side(sizes, budget_ms)
    results += mlp_rows(budget_ms)
    results += chain_stages(sizes, budget_ms)
    if not args.no_passes:
        results += pass_variants([1, 4096] if args.quick else [1, 4096, 1_000_000], budget_ms)
    if not args.no_python:
        results += python_side(sizes)
    load = [] if args.no_load else load_tests(3 if args.quick else 10)
    with open(OUT / "results.jsonl", "w") as f:
        for r in results + load:
            f.write(json.dumps(r) + "\n")
    text = report(results, load)
    (OUT / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
