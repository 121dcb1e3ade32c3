"""Write an Open Inference Protocol request body for the load test (bench/load/load_test.sh):
one row (or --rows N consecutive rows, wrapping) of an example's reference.json, as JSON that
both the pipec server and bench/python/serve_fastapi.py accept.

    python make_body.py titanic|chain [ROW] [--rows N] [-o BODY.json]   (default: row 0, stdout)

Numbers are sent as FP32, strings as BYTES, missing values (null in reference.json) as null.
Standard library only.
"""
import argparse
import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def body(example, row, rows=1):
    ref = json.loads((EXAMPLES / example / "reference.json").read_text())
    n = ref["rows"]
    idx = [(row + i) % n for i in range(rows)]
    inputs = []
    for name, values in ref["inputs"].items():
        data = [values[i] for i in idx]
        is_str = any(isinstance(v, str) for v in values)
        inputs.append({"name": name, "shape": [rows], "datatype": "BYTES" if is_str else "FP32",
                       "data": data})
    return {"inputs": inputs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("example")
    ap.add_argument("row", type=int, nargs="?", default=0)
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    text = json.dumps(body(a.example, a.row, a.rows), separators=(",", ":"))
    if a.out:
        Path(a.out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
