"""Checks `pipec log --format parquet` against `pipec log`'s JSON with pandas and pyarrow, the
libraries a data scientist reads an export with.

Usage:
  audit_export.py compare EXPORT_DIR LOG_JSONL
      Reads the export with pandas.read_parquet (Hive partitions day= and model= become
      columns) and every record of the JSON lines, and compares each field of each row: f32
      values by their bits (JSON null is NaN), strings, booleans, times to the nanosecond,
      failed checks, and the partition keys. Prints one JSON object: records, rows, models,
      days, footer (a file's pipec.* metadata) and the first mismatches (empty when equal).
  audit_export.py tamper EXPORT_DIR OUT_DIR
      Copies the export, changing the last bit of the first champion row's p_survived, and
      prints what it changed.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def expected_bits(value):
    """The f32 bit pattern a JSON value stands for; None for missing (NaN)."""
    if value is None:
        return None
    if value == "inf":
        return int(np.array(np.inf, dtype=np.float32).view(np.uint32))
    if value == "-inf":
        return int(np.array(-np.inf, dtype=np.float32).view(np.uint32))
    return int(np.array(value, dtype=np.float32).view(np.uint32))


def same_value(json_value, parquet_value):
    if isinstance(parquet_value, (np.floating, float)) and not isinstance(parquet_value, bool):
        as_f32 = np.array(parquet_value, dtype=np.float32)
        if json_value is None:
            return bool(np.isnan(as_f32))
        return not np.isnan(as_f32) and int(as_f32.view(np.uint32)) == expected_bits(json_value)
    if isinstance(parquet_value, (np.bool_, bool)):
        return json_value is not None and bool(parquet_value) == json_value
    if parquet_value is None or (isinstance(parquet_value, float) and np.isnan(parquet_value)):
        return json_value is None
    return parquet_value == json_value


def compare(export, log_jsonl):
    frame = pd.read_parquet(export)
    frame = frame.sort_values(["seq", "row"]).reset_index(drop=True)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    position = {(int(s), int(r)): i for i, (s, r) in enumerate(zip(columns["seq"], columns["row"]))}
    records = [json.loads(line) for line in Path(log_jsonl).read_text().splitlines() if line.strip()]
    mismatches = []

    def differs(record, row, field, logged, exported):
        if len(mismatches) < 10:
            mismatches.append({"seq": record["seq"], "row": row, "field": field, "json": repr(logged), "parquet": repr(exported)})

    rows = 0
    for record in records:
        for row in range(record["rows"]):
            rows += 1
            i = position.get((record["seq"], row))
            if i is None:
                differs(record, row, "(row)", "present", "absent")
                continue
            scalars = {
                "request_id": record["request_id"],
                "pipeline": record["pipeline"],
                "answered": record["answered"],
                "route": record["route"],
                "batch.id": record["batch"]["id"],
                "batch.offset": record["batch"]["offset"],
                "batch.rows": record["batch"]["rows"],
                "rows": record["rows"],
                "model": record["model"],
            }
            for field, logged in scalars.items():
                exported = columns[field][i]
                if isinstance(exported, np.integer):
                    exported = int(exported)
                if str(exported) != str(logged) if field == "model" else exported != logged:
                    differs(record, row, field, logged, exported)
            if pd.Timestamp(columns["time"][i]).value != record["time_unix_nanos"]:
                differs(record, row, "time", record["time_unix_nanos"], columns["time"][i])
            if str(columns["day"][i])[:10] != record["time"][:10]:
                differs(record, row, "day", record["time"][:10], columns["day"][i])
            for group in ("inputs", "outputs"):
                for name, values in record[group].items():
                    exported = columns[f"{group}.{name}"][i]
                    logged = values[row]
                    if isinstance(logged, list):
                        ok = len(logged) == len(exported) and all(same_value(a, b) for a, b in zip(logged, exported))
                    else:
                        ok = same_value(logged, exported)
                    if not ok:
                        differs(record, row, f"{group}.{name}", logged, exported)
            failed = [f["check"] for f in record["failed_checks"] if row in f["rows"]]
            exported = list(columns["failed_checks"][i])
            if exported != failed:
                differs(record, row, "failed_checks", failed, exported)
    files = sorted(Path(export).rglob("*.parquet"))
    footer = pq.read_metadata(files[0]).metadata or {}
    print(json.dumps({
        "records": len(records),
        "rows": rows,
        "exported_rows": len(frame),
        "models": sorted({str(m) for m in columns["model"]}),
        "days": sorted({str(d)[:10] for d in columns["day"]}),
        "files": [str(f.relative_to(export)) for f in files],
        "footer": {k.decode(): v.decode() for k, v in footer.items() if k.startswith(b"pipec.")},
        "mismatches": mismatches,
    }))


def tamper(export, out):
    shutil.copytree(export, out)
    target = sorted(Path(out).rglob("model=champion/*.parquet"))[0]
    table = pq.read_table(target, partitioning=None)
    column = table.column("outputs.p_survived").to_numpy().astype(np.float32)
    before = float(column[0])
    column[0] = np.array(int(column[0].view(np.uint32)) ^ 1, dtype=np.uint32).view(np.float32)
    index = table.schema.get_field_index("outputs.p_survived")
    table = table.set_column(index, table.schema.field(index), pa.array(column, type=pa.float32()))
    pq.write_table(table, target)
    print(json.dumps({"file": str(target), "seq": int(table.column("seq")[0].as_py()), "before": before, "after": float(column[0])}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "compare":
        compare(sys.argv[2], sys.argv[3])
    elif command == "tamper":
        tamper(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
