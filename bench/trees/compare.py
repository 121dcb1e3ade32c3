#!/usr/bin/env python3
"""Tree ensembles on one CPU thread: pipec against the libraries, as ratios to pipec.

For each fixture model (tests/fixtures/trees/, held-out rows from its reference.json, cycled
to the batch size) and each batch size, measures the time per row of:

  pipec-compact    pipec's compact walk (`pipec_runtime::Forest`, what the native server
                   runs), one row per call, from `pipec-bench --trees FILE`
  pipec-reference  the reference walk over the node tables (`pipec_forest::Forest`)
  xgboost          Booster.inplace_predict(X, predict_type="margin"), nthread=1 (xgb_* only)
  lightgbm         Booster.predict(X, raw_score=True, num_threads=1) (lgb_* only)
  tl2cgen          treelite's model compiled to C by tl2cgen, built with gcc,
                   Predictor(nthread=1).predict(DMatrix, pred_margin=True); the DMatrix is
                   built outside the timed call
  lleaves          lleaves.Model.compile(raw_score=True), predict(X, n_jobs=1) (lgb_* only;
                   its float64 input is converted outside the timed call)

Rows (--rows): "mixed" (default) takes every cell from a held-out row chosen by a hash, so
rows never repeat; "cycled" repeats the 100 held-out rows, whose paths a branchy walk (the
libraries, tl2cgen's and lleaves' generated code) learns in the branch predictor.

Before timing, every library's margins on the held-out rows must agree with pipec's within
1e-5 relative (|a - b| <= 1e-5 * max(|b|, 1)); pipec's compact walk must equal its reference
walk bit for bit (pipec-bench checks that). Each figure is the median of several rounds; the
ratio is the engine's time over pipec-compact's (above 1: pipec is that many times faster).

Usage (bench/trees/run.sh sets up the venv and builds pipec-bench):
  compare.py [--models xgb_large,lgb_binary] [--sizes 1,1000,100000] [--rounds 5]
             [--budget-ms 1000] [--rows mixed|cycled] [--bench target/release/pipec-bench]
             [--json OUT]
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/trees"
WORK = ROOT / "target/trees-bench"
MODELS = [
    "xgb_large", "xgb_binary", "xgb_regression", "xgb_multiclass",
    "lgb_binary", "lgb_regression", "lgb_multiclass", "lgb_categorical",
]
TOLERANCE = 1e-5


def held_out(model):
    rows = [[np.nan if v is None else v for v in r] for r in model["inputs"]]
    return np.asarray(rows, dtype=np.float32)


def cycled(rows, n):
    return np.ascontiguousarray(rows[np.arange(n) % len(rows)])


def mixed(rows, n):
    """Each cell from the held-out row splitmix64(row * features + feature) picks (the same
    rows as bench/src/trees.rs's mixed_rows): the held-out distribution, never repeating."""
    features = rows.shape[1]
    with np.errstate(over="ignore"):
        z = np.arange(n * features, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    pick = (z % np.uint64(len(rows))).astype(np.int64).reshape(n, features)
    return np.ascontiguousarray(rows[pick, np.arange(features)[None, :]])


def per_row_ns(call, batch, budget_s, rounds):
    """Median over `rounds` rounds of the time of one call, per row, in ns."""
    call()  # warm up (lazy initialisation, caches)
    calls, took = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            call()
        took = time.perf_counter() - start
        if took >= budget_s / 20 or calls >= 1 << 20:
            break
        calls *= 2
    per_round = max(1, int((budget_s / rounds) / (took / calls)))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            call()
        times.append((time.perf_counter() - start) / per_round)
    return statistics.median(times) / batch * 1e9


def file_key(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_pipec(bench, name, model, sizes, budget_ms, rows_kind):
    """pipec-bench's JSON lines for one model: {engine: {batch: ns/row}}, and its margins."""
    with tempfile.TemporaryDirectory() as tmp:
        margins_path = Path(tmp) / "margins.json"
        env = dict(os.environ, PIPEC_TREES_WGPU="0", PIPEC_TREES_MARGINS=str(margins_path),
                   PIPEC_TREES_ROWS=rows_kind)
        cmd = [str(bench), "--trees", f"tests/fixtures/trees/{model['file']}",
               "--sizes", ",".join(map(str, sizes)), "--budget-ms", str(budget_ms)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name}: {' '.join(cmd)} failed:\n{done.stderr}")
        margins = np.asarray(json.loads(margins_path.read_text())["margins"], dtype=np.float64)
    out = {}
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        engine = rec["engine"].replace("pipec-forest-", "pipec-").replace("-1-thread", "")
        out.setdefault(engine, {})[rec["batch"]] = rec["latency_s_median"] / rec["batch"] * 1e9
    return out, margins


def engines_for(name, model):
    """(engine, prepare(X) -> callable, margins(X) -> array) for each library that reads it."""
    path = FIXTURES / model["file"]
    out = []
    if model["library"] == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster(model_file=str(path))
        booster.set_param({"nthread": 1})

        def xgb_prepare(x):
            return lambda: booster.inplace_predict(x, predict_type="margin")

        out.append(("xgboost", xgb_prepare))
    else:
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(path))

        def lgb_prepare(x):
            return lambda: booster.predict(x, raw_score=True, num_threads=1)

        out.append(("lightgbm", lgb_prepare))
    try:
        out.append(("tl2cgen", tl2cgen_engine(name, model, path)))
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        print(f"{name}: tl2cgen not measured: {e}", file=sys.stderr)
    if model["library"] == "lightgbm":
        try:
            out.append(("lleaves", lleaves_engine(name, path)))
        except Exception as e:  # noqa: BLE001
            print(f"{name}: lleaves not measured: {e}", file=sys.stderr)
    return out


def tl2cgen_engine(name, model, path):
    import tl2cgen
    import treelite

    WORK.mkdir(parents=True, exist_ok=True)
    lib = WORK / f"{name}-{file_key(path)}.so"
    if not lib.exists():
        if model["library"] == "xgboost":
            tmodel = treelite.frontend.load_xgboost_model(str(path))
        else:
            tmodel = treelite.frontend.load_lightgbm_model(str(path))
        start = time.perf_counter()
        tl2cgen.export_lib(tmodel, toolchain="gcc", libpath=str(lib),
                           params={"parallel_comp": 8}, nthread=os.cpu_count() or 1)
        print(f"{name}: tl2cgen built {lib.name} in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
    predictor = tl2cgen.Predictor(str(lib), nthread=1)

    def prepare(x):
        dmat = tl2cgen.DMatrix(x, dtype="float32")
        return lambda: predictor.predict(dmat, pred_margin=True)

    return prepare


def lleaves_engine(name, path):
    import lleaves

    WORK.mkdir(parents=True, exist_ok=True)
    cache = WORK / f"{name}-{file_key(path)}.lleaves.o"
    model = lleaves.Model(model_file=str(path))
    model.compile(cache=str(cache), raw_score=True)

    def prepare(x):
        x64 = np.ascontiguousarray(x, dtype=np.float64)
        return lambda: model.predict(x64, n_jobs=1)

    return prepare


def agree(name, engine, got, want):
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    worst = float(err.max())
    if worst > TOLERANCE:
        row = int(np.unravel_index(err.argmax(), err.shape)[0])
        print(f"{name}: {engine} disagrees with pipec (row {row}: {got[row]} vs {want[row]}, "
              f"relative {worst:.2e}); not timed", file=sys.stderr)
        return False, worst
    return True, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sizes", default="1,1000,100000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budget-ms", type=int, default=1000)
    ap.add_argument("--bench", default=str(ROOT / "target/release/pipec-bench"))
    ap.add_argument("--rows", choices=["cycled", "mixed"], default="mixed",
                    help="cycled: the 100 held-out rows over and over (a branchy walk learns "
                         "their paths); mixed (default): every cell from a hashed held-out row")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    reference = json.loads((FIXTURES / "reference.json").read_text())["models"]
    budget_s = args.budget_ms / 1000
    results = {}
    for name in args.models.split(","):
        model = reference[name]
        rows = held_out(model)
        timings, pipec_margins = run_pipec(args.bench, name, model, sizes, args.budget_ms, args.rows)
        make_rows = mixed if args.rows == "mixed" else cycled
        checks = {}
        for engine, prepare in engines_for(name, model):
            ok, worst = agree(name, engine, prepare(rows)(), pipec_margins)
            checks[engine] = worst
            if not ok:
                continue
            for n in sizes:
                x = make_rows(rows, n)
                timings.setdefault(engine, {})[n] = per_row_ns(prepare(x), n, budget_s, args.rounds)
        results[name] = {"trees": None, "ns_per_row": timings, "max_rel_diff_vs_pipec": checks}
        print_model(name, timings, sizes)
    WORK.mkdir(parents=True, exist_ok=True)
    Path(args.json or WORK / f"results-{args.rows}.json").write_text(json.dumps(results, indent=1))
    print_summary(results, sizes)


ORDER = ["pipec-compact", "pipec-reference", "xgboost", "lightgbm", "tl2cgen", "lleaves"]


def print_model(name, timings, sizes):
    base = timings.get("pipec-compact", {})
    print(f"\n{name}: ns/row (ratio to pipec-compact; above 1 = pipec faster)", flush=True)
    print(f"  {'engine':<16}" + "".join(f"{'batch ' + str(n):>24}" for n in sizes))
    for engine in ORDER:
        if engine not in timings:
            continue
        cells = []
        for n in sizes:
            t = timings[engine].get(n)
            b = base.get(n)
            cells.append("-" if t is None else f"{t:10.1f} ({t / b:5.2f}x)" if b else f"{t:10.1f}")
        print(f"  {engine:<16}" + "".join(f"{c:>24}" for c in cells))
    sys.stdout.flush()


def print_summary(results, sizes):
    """A markdown table: pipec's ns/row and every other engine as a ratio to it."""
    print("\n| model | batch | pipec ns/row | reference | xgboost | lightgbm | tl2cgen | lleaves |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        t = r["ns_per_row"]
        for n in sizes:
            base = t.get("pipec-compact", {}).get(n)
            if base is None:
                continue
            cells = []
            for engine in ORDER[1:]:
                v = t.get(engine, {}).get(n)
                cells.append("-" if v is None else f"{v / base:.2f}x")
            print(f"| {name} | {n:,} | {base:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
