"""Test data for `pipec score`, written and read with pyarrow (the reference Arrow and Parquet
implementation), from an example's reference.json.

Usage:
  batch_data.py write REFERENCE_JSON DIR
      DIR/rows.parquet (numbers as float64, strings as Utf8, a `passenger` int64 key column),
      DIR/rows.arrow (numbers as float32, strings dictionary-encoded), DIR/rows.csv; all the
      reference rows in order, missing ages as nulls.
  batch_data.py bad REFERENCE_JSON DIR
      Malformed inputs, one per file: missing_column.parquet (no `sex`), wrong_type.parquet
      (`sibsp` as strings), null.parquet (a null `sibsp` in row 7), truncated.parquet (the
      first half of a good file), bad_number.csv (`abc` as the age on line 5).
  batch_data.py read FILE
      Prints one JSON object: the columns (float32 values as their bit patterns, so that
      comparisons are exact), the row count and the file's key-value metadata.
"""

import json
import os
import struct
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

NUMBERS = ("age", "sibsp", "parch")
STRINGS = ("sex", "pclass")


def table(reference, number_type=pa.float64(), dictionary=False):
    inputs = reference["inputs"]
    rows = len(inputs["age"])
    columns = {"passenger": pa.array(range(1000, 1000 + rows), pa.int64())}
    for name in NUMBERS:
        columns[name] = pa.array(inputs[name], number_type)
    for name in STRINGS:
        column = pa.array(inputs[name], pa.string())
        columns[name] = column.dictionary_encode() if dictionary else column
    return pa.table(columns)


def write(reference, out):
    os.makedirs(out, exist_ok=True)
    pq.write_table(table(reference), os.path.join(out, "rows.parquet"), row_group_size=40)
    arrow = table(reference, pa.float32(), dictionary=True)
    with ipc.new_file(os.path.join(out, "rows.arrow"), arrow.schema) as writer:
        for batch in arrow.to_batches(max_chunksize=64):
            writer.write_batch(batch)
    pacsv.write_csv(table(reference), os.path.join(out, "rows.csv"))


def bad(reference, out):
    os.makedirs(out, exist_ok=True)
    good = table(reference)
    pq.write_table(good.drop_columns(["sex"]), os.path.join(out, "missing_column.parquet"))
    as_text = pa.array([str(v) for v in reference["inputs"]["sibsp"]], pa.string())
    pq.write_table(good.set_column(good.schema.get_field_index("sibsp"), "sibsp", as_text), os.path.join(out, "wrong_type.parquet"))
    sibsp = list(reference["inputs"]["sibsp"])
    sibsp[7] = None
    pq.write_table(good.set_column(good.schema.get_field_index("sibsp"), "sibsp", pa.array(sibsp, pa.float64())), os.path.join(out, "null.parquet"))
    whole = os.path.join(out, "whole.parquet")
    pq.write_table(good, whole)
    with open(whole, "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.parquet"), "wb") as f:
        f.write(data[: len(data) // 2])
    os.remove(whole)
    with open(os.path.join(out, "bad_number.csv"), "w") as f:
        f.write("age,sibsp,parch,sex,pclass\n")
        for i in range(6):
            age = "abc" if i == 3 else "30"
            f.write(f"{age},0,0,male,1st\n")


def plain(value):
    if isinstance(value, float):
        return struct.unpack("<I", struct.pack("<f", value))[0]
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def read(path):
    if path.endswith(".arrow"):
        with ipc.open_file(path) as reader:
            data = reader.read_all()
        metadata = data.schema.metadata or {}
    else:
        data = pq.read_table(path)
        metadata = pq.read_metadata(path).metadata or {}
    columns = {}
    for name in data.column_names:
        column = data.column(name)
        values = column.to_pylist()
        if pa.types.is_float32(column.type) or (pa.types.is_fixed_size_list(column.type) and pa.types.is_float32(column.type.value_type)):
            values = [plain(v) for v in values]
        columns[name] = {"type": str(column.type), "values": values}
    print(json.dumps({
        "rows": data.num_rows,
        "columns": columns,
        "metadata": {k.decode(): v.decode(errors="replace") for k, v in metadata.items() if not k.startswith(b"ARROW:")},
    }))


def main():
    command = sys.argv[1]
    if command == "read":
        read(sys.argv[2])
        return
    with open(sys.argv[2]) as f:
        reference = json.load(f)
    if command == "write":
        write(reference, sys.argv[3])
    elif command == "bad":
        bad(reference, sys.argv[3])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
