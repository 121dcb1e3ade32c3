"""Batch scoring throughput: one Parquet file of the titanic example's inputs scored end to end
(file in, file with the outputs out) by `pipec score`, by scikit-learn and by ONNX Runtime, in
one run on one machine.

    python bench/batch/score_file.py --server SERVER_BIN [--rows 10000000] [--json OUT.json]

SERVER_BIN is the titanic server built with `pipec build examples/titanic/titanic.pipe --batch
-o SERVER_BIN` (bench/batch/run.sh does both). The input, made once under target/bench-batch/,
holds ROWS rows drawn (seed 0) from examples/titanic/reference.json, with a `passenger` key.

Engines, each reading the same file and writing the outputs beside the input columns:
- `pipec score --threads 1` and `--threads N` (N = cores): the native path; its JSON summary
  also gives the time spent in the pipeline itself, from which the native path's rows/s on
  one core (the baseline of the efficiency ratio) comes in the same process;
- scikit-learn: pyarrow -> pandas -> the fitted Pipeline's predict_proba in chunks of 1 M rows
  (BLAS threads: N) -> pyarrow -> Parquet;
- ONNX Runtime: the same Pipeline converted by skl2onnx (bench/python/onnx_export.py), N
  intra-op threads, the same chunks.
- with `--wheel MODULE` (the wheel `pipec build --python` made, installed in this venv): the
  wheel in PySpark (`mapInArrow`, local[N], Parquet folder out) and in Ray Data
  (`map_batches`, N CPUs, Parquet folder out); the session's start-up is not timed.
Before timing, the first 100,000 rows of each Python engine's output are checked against
pipec's (1e-5), so that every engine provably scores the same model; the wheel's outputs,
every row, must be pipec's bit for bit.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench" / "python"))
import onnx_export  # noqa: E402
import pipelines  # noqa: E402

CHUNK = 1 << 20
TOLERANCE = 1e-5


def make_input(path, rows):
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    ref = pipelines.load_reference("titanic")["inputs"]
    pick = np.random.default_rng(0).integers(0, len(ref["age"]), rows)
    columns = {"passenger": pa.array(np.arange(rows, dtype=np.int64))}
    for name in ("age", "sibsp", "parch"):
        values = np.array([np.nan if v is None else v for v in ref[name]], dtype=np.float64)[pick]
        columns[name] = pa.array(values, from_pandas=True)
    for name in ("sex", "pclass"):
        columns[name] = pa.array(np.array(ref[name], dtype=object)[pick], pa.string())
    pq.write_table(pa.table(columns), path, row_group_size=CHUNK)


def pipec(server, source, out, threads):
    started = time.perf_counter()
    done = subprocess.run(
        [server, "score", "--input", source, "--output", out, "--threads", str(threads), "--json", "--quiet"],
        check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = json.loads(done.stdout)
    return seconds, summary


def python_engine(source, out, predict):
    """Reads the file, scores it in chunks with `predict(frame) -> p`, writes the outputs."""
    started = time.perf_counter()
    table = pq.read_table(source)
    parts = []
    for offset in range(0, table.num_rows, CHUNK):
        frame = table.slice(offset, CHUNK).select(list(pipelines.COLUMNS["titanic"])).to_pandas()
        for name, kind in pipelines.COLUMNS["titanic"].items():
            if kind == "s":
                frame[name] = frame[name].astype(object)
        parts.append(np.asarray(predict(frame), dtype=np.float32))
    p = np.concatenate(parts)
    table = table.append_column("p_survived", pa.array(p)).append_column("survived", pa.array(p > 0.5))
    pq.write_table(table, out)
    return time.perf_counter() - started, p


def same_bits(folder, reference):
    """Whether the p_survived of a folder of Parquet files, ordered by passenger, is `reference`
    (pipec's, in file order) bit for bit."""
    table = pq.read_table(folder, columns=["passenger", "p_survived"])
    order = np.argsort(table.column("passenger").to_numpy(), kind="stable")
    p = table.column("p_survived").to_numpy()[order]
    return p.dtype == np.float32 and np.array_equal(p.view(np.uint32), reference.view(np.uint32))


def wheel_in_spark(module, source, out, threads):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from pyspark.sql.types import BooleanType, FloatType, StructField, StructType

    spark = (SparkSession.builder.master(f"local[{threads}]").appName("pipec-wheel-bench")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "4g")
             .config("spark.sql.files.maxPartitionBytes", str(8 << 20)).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        frame = spark.read.parquet(source)
        schema = StructType([*frame.schema, StructField("p_survived", FloatType(), False), StructField("survived", BooleanType(), False)])

        def score(batches):
            scorer = __import__(module)
            for batch in batches:
                yield scorer.score(batch)

        frame.mapInArrow(score, schema).write.mode("overwrite").parquet(out)
        return time.perf_counter() - started
    finally:
        spark.stop()


def wheel_in_ray(module, source, out, threads):
    import ray
    import ray.data

    ray.init(num_cpus=threads, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        def score(table):
            return __import__(module).score(table)

        started = time.perf_counter()
        ray.data.read_parquet(source).map_batches(score, batch_format="pyarrow").write_parquet(out)
        return time.perf_counter() - started
    finally:
        ray.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--json")
    parser.add_argument("--wheel", metavar="MODULE", help="also time this installed pipec wheel in Spark and Ray")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    work = REPO / "target" / "bench-batch"
    source = work / f"titanic-{args.rows}.parquet"
    make_input(source, args.rows)
    out = str(work / "scored.parquet")

    results = {}
    for n in sorted({1, threads}):
        seconds, summary = pipec(args.server, str(source), out, n)
        results[f"pipec score --threads {n}"] = {"seconds": seconds, "summary": summary}
    pipec_p = pq.read_table(out, columns=["p_survived"]).column(0).to_numpy()
    reference = pipec_p[:100_000]

    if args.wheel:
        for name, engine in (("wheel in Spark", wheel_in_spark), ("wheel in Ray", wheel_in_ray)):
            folder = str(work / f"scored-{name.split()[-1].lower()}")
            shutil.rmtree(folder, ignore_errors=True)
            seconds = engine(args.wheel, str(source), folder, threads)
            assert same_bits(folder, pipec_p), f"{name}: outputs differ from pipec score's"
            results[f"{name} ({threads} cores)"] = {"seconds": seconds, "bit_identical_to_pipec": True}

    fitted = pipelines.fit("titanic")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    model = onnx_export.convert(fitted.model, pipelines.COLUMNS["titanic"])
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    engines = {
        "scikit-learn": fitted.predict_proba,
        "onnxruntime": lambda frame: session.run(None, onnx_export.feed(pipelines.COLUMNS["titanic"], frame))[0][:, 1],
    }
    with threadpool_limits(threads):
        for name, predict in engines.items():
            seconds, p = python_engine(str(source), out, predict)
            error = float(np.abs(p[:100_000].astype(np.float64) - reference).max())
            assert error <= TOLERANCE, f"{name} differs from pipec by {error}"
            results[name] = {"seconds": seconds, "max_abs_error_vs_pipec": error}

    rows = args.rows
    best = results[f"pipec score --threads {threads}"]
    summary = best["summary"]
    native_per_core = rows / summary["pipeline_seconds"]  # summed over the workers
    print(f"{rows} rows of the titanic example's inputs, Parquet in and out, {threads} cores")
    print(f"{'engine':<26} {'seconds':>8} {'rows/s':>12} {'vs pipec':>9}")
    for name, result in results.items():
        rate = rows / result["seconds"]
        result["rows_per_second"] = rate
        print(f"{name:<26} {result['seconds']:>8.2f} {rate:>12,.0f} {best['seconds'] / result['seconds']:>8.2f}x")
    efficiency = (rows / best["seconds"]) / (native_per_core * threads)
    print(f"native path alone: {native_per_core:,.0f} rows/s per core (time inside the pipeline, same run); "
          f"pipec score on {threads} cores reaches {efficiency:.2f} x (native rows/s x cores)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "threads": threads, "results": results,
                                               "native_rows_per_second_per_core": native_per_core,
                                               "efficiency": efficiency}, indent=1))


if __name__ == "__main__":
    main()
