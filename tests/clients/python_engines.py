"""The pipeline's wheel (`pipec build --python`) in the engines it is for: PySpark
(`mapInArrow`, local[2]), Ray Data (`map_batches`, pyarrow batches) and Polars, each
compared bit for bit with `pipec score`'s output of the same file.

Usage:
  python_engines.py write REFERENCE_JSON ROWS FILE
      FILE.parquet: ROWS rows drawn (seed 0) from the example's reference rows, a `passenger`
      int64 key 0..ROWS first, missing ages as nulls, row groups of 8,192 rows.
  python_engines.py score MODULE INPUT SCORED
      Imports the wheel's MODULE, scores INPUT with it in Spark, Ray and Polars, and compares
      each output, sorted by `passenger`, with SCORED (pipec score's output of INPUT): column
      names in order, float bits, nulls, booleans and strings, and the pipec.* metadata.
      Also checks that the comparison catches one flipped bit, and that bad data raises
      ValueError with pipec score's messages. Prints one JSON object.
"""

import json
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NUMBERS = ("age", "sibsp", "parch")
STRINGS = ("sex", "pclass")


def write(reference_path, rows, path):
    with open(reference_path) as f:
        inputs = json.load(f)["inputs"]
    pick = np.random.default_rng(0).integers(0, len(inputs["age"]), rows)
    columns = {"passenger": pa.array(np.arange(rows, dtype=np.int64))}
    for name in NUMBERS:
        values = np.array([np.nan if v is None else v for v in inputs[name]], dtype=np.float64)[pick]
        columns[name] = pa.array(values, from_pandas=True)
    for name in STRINGS:
        columns[name] = pa.array(np.array(inputs[name], dtype=object)[pick], pa.string())
    pq.write_table(pa.table(columns), path, row_group_size=8192)


def bits(column):
    """A float column's bit patterns (nulls as a marker no float has here), else its values."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    if pa.types.is_floating(kind):
        width = {16: np.uint16, 32: np.uint32, 64: np.uint64}[kind.bit_width]
        values = column.fill_null(0).to_numpy(zero_copy_only=False).view(width).astype(object)
        values[column.is_null().to_numpy(zero_copy_only=False)] = None
        return list(values)
    if pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [None if v is None else bits(pa.array(v, kind.value_type)) for v in column.to_pylist()]
    return column.to_pylist()


def compare(reference, table):
    """The differences between two tables of the same rows: names, then values per column."""
    problems = []
    if table.column_names != reference.column_names:
        problems.append(f"columns {table.column_names}, expected {reference.column_names}")
        return problems
    if table.num_rows != reference.num_rows:
        problems.append(f"{table.num_rows} rows, expected {reference.num_rows}")
        return problems
    table = table.take(pc.sort_indices(table, [("passenger", "ascending")]))
    for name in reference.column_names:
        expected, got = bits(reference.column(name)), bits(table.column(name))
        if pa.types.is_floating(reference.column(name).type) and reference.column(name).type != table.column(name).type:
            problems.append(f"`{name}` is {table.column(name).type}, expected {reference.column(name).type}")
            continue
        if expected != got:
            row = next(i for i, (a, b) in enumerate(zip(expected, got)) if a != b)
            count = sum(a != b for a, b in zip(expected, got))
            problems.append(f"`{name}`: {count} rows differ, first passenger {reference.column('passenger')[row]}: {got[row]!r}, expected {expected[row]!r}")
    return problems


def metadata_problems(module, scored_path):
    footer = {k.decode(): v.decode() for k, v in (pq.read_metadata(scored_path).metadata or {}).items()}
    sample = pq.read_table(scored_path).slice(0, 10)
    inputs = sample.select([c for c in sample.column_names if c not in ("p_survived", "survived")])
    mine = module.score(inputs.to_batches()[0]).schema.metadata or {}
    mine = {k.decode(): v.decode() for k, v in mine.items()}
    wanted = {k: v for k, v in footer.items() if k.startswith("pipec.") and k != "pipec.input"}
    return [] if mine == wanted and module.identity == footer.get("pipec.identity") else [f"metadata {mine}, expected {wanted}"]


def spark_engine(module_name, source):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from pyspark.sql.types import BooleanType, FloatType, StructField, StructType

    spark = (SparkSession.builder.master("local[2]").appName("pipec-wheel")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.files.maxPartitionBytes", str(256 * 1024))
             .config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        frame = spark.read.parquet(source)
        # As docs/batch.md writes it: the input columns, then the outputs.
        schema = StructType([*frame.schema, StructField("p_survived", FloatType(), False), StructField("survived", BooleanType(), False)])

        def score_partition(batches):
            module = __import__(module_name)
            for batch in batches:
                yield module.score(batch)

        table = frame.mapInArrow(score_partition, schema).toArrow()
        return table, time.perf_counter() - started
    finally:
        spark.stop()


def ray_engine(module_name, source):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False

        def score_batch(table):
            return __import__(module_name).score(table)

        started = time.perf_counter()
        refs = ray.data.read_parquet(source).map_batches(score_batch, batch_format="pyarrow").to_arrow_refs()
        table = pa.concat_tables(ray.get(refs))
        return table, time.perf_counter() - started
    finally:
        ray.shutdown()


def polars_engine(module, source):
    import polars as pl

    started = time.perf_counter()
    frame = pl.read_parquet(source)
    out = pl.from_arrow(module.score(frame))
    return out.to_arrow(), time.perf_counter() - started


def errors(module, source):
    """Bad data raises ValueError with pipec score's messages."""
    table = pq.read_table(source).slice(0, 20)
    found = {}
    try:
        module.score(table.drop_columns(["sex"]).to_batches()[0])
    except ValueError as e:
        found["missing_column"] = str(e)
    sibsp = table.column("sibsp").to_pylist()
    sibsp[7] = None
    nulled = table.set_column(table.schema.get_field_index("sibsp"), "sibsp", pa.array(sibsp, pa.float64()))
    try:
        module.score(nulled)
    except ValueError as e:
        found["null"] = str(e)
    try:
        module.score([1, 2, 3])
    except TypeError as e:
        found["not_arrow"] = str(e)
    return found


def score(module_name, source, scored):
    module = __import__(module_name)
    reference = pq.read_table(scored)
    reference = reference.replace_schema_metadata(None)
    flipped = reference.column("p_survived").to_numpy().copy()
    flipped.view(np.uint32)[12345 % len(flipped)] ^= 1
    control = reference.set_column(reference.schema.get_field_index("p_survived"), "p_survived", pa.array(flipped))
    result = {
        "module": module_name,
        "identity": module.identity,
        "rows": reference.num_rows,
        "control_detected": bool(compare(reference, control)),
        "metadata": metadata_problems(module, scored),
        "errors": errors(module, source),
        "engines": {},
    }
    runs = {
        "spark": lambda: spark_engine(module_name, source),
        "ray": lambda: ray_engine(module_name, source),
        "polars": lambda: polars_engine(module, source),
    }
    for name, run in runs.items():
        table, seconds = run()
        result["engines"][name] = {"rows": table.num_rows, "seconds": seconds, "problems": compare(reference, table)}
    print(json.dumps(result))


def main():
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
