"""Writes the seed corpus of the `decode_request` fuzz target into seeds/decode_request/.

Each seed is one request body for `pipec_runtime::fuzzing::SPEC` (inputs x: FP32[3],
n: INT64 nullable, b: BOOL, s: BYTES nullable), laid out as the target reads it: two bytes
(little-endian) of JSON head length, the head, then the binary section (length 0: all JSON).
They are the decoder's own fuzz test seeds (runtime/src/server/protocol/decode_fuzz.rs) and
the request forms of cli/tests/protocol_edges.rs, moved onto this interface.
Run: python3 fuzz/seeds/make_decode_seeds.py
"""
import json
import struct
from pathlib import Path

OUT = Path(__file__).parent / "decode_request"


def body(head, binary=b""):
    text = json.dumps(head, separators=(",", ":")).encode()
    length = len(text) if binary else 0
    return struct.pack("<H", length) + text + binary


def strings(values):
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def f32s(values):
    return b"".join(struct.pack("<f", v) for v in values)


def i64s(values):
    return b"".join(struct.pack("<q", v) for v in values)


json_inputs = [
    {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4.5, -0.0, 1e-30]]},
    {"name": "n", "shape": [2], "datatype": "INT64", "data": [7, None]},
    {"name": "b", "shape": [2, 1], "datatype": "BOOL", "data": [True, False]},
    {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["\u00e9", None]},
]
binary_part = f32s([1, 2, 3, 4, 5, 6]) + i64s([7, -8]) + bytes([1, 0]) + strings(["ab", ""])
binary_inputs = [
    {"name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}},
    {"name": "n", "shape": [2], "datatype": "INT64", "parameters": {"binary_data_size": 16}},
    {"name": "b", "shape": [2], "datatype": "BOOL", "parameters": {"binary_data_size": 2}},
    {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 10}},
]
seeds = {
    "json_all_kinds": body({
        "id": "r1",
        "inputs": json_inputs,
        "outputs": [{"name": "a", "parameters": {"binary_data": True}}, {"name": "failed_checks"}],
        "parameters": {"binary_data_output": False},
    }),
    "binary_all_kinds": body({"inputs": binary_inputs, "parameters": {"binary_data_output": True}}, binary_part),
    "mixed_binary_and_json": body({"inputs": binary_inputs[:2] + json_inputs[2:]}, binary_part[:40]),
    "flat_data_one_row": body({"inputs": [
        {"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [0.1, 0.2, 0.3]},
        {"name": "n", "shape": [1], "datatype": "INT32", "data": [3]},
        {"name": "b", "shape": [1], "datatype": "BOOL", "data": [False]},
        {"name": "s", "shape": [1], "datatype": "BYTES", "data": ["x"]},
    ]}),
    "shape_overflow": body({"inputs": [{"name": "x", "shape": [1 << 60, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
    "binary_claims_more": body({"inputs": [
        {"name": "x", "shape": [1 << 20, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
    ]}, f32s([1, 2, 3])),
    "repeated_input": body({"inputs": json_inputs + json_inputs[:1]}),
    "unknown_output": body({"inputs": json_inputs, "outputs": [{"name": "nope"}]}),
    "parameters_wrong_type": body({"inputs": json_inputs, "parameters": {"binary_data_output": "yes"}}),
}
OUT.mkdir(exist_ok=True)
for name, data in seeds.items():
    (OUT / name).write_bytes(data)
print(f"wrote {len(seeds)} seeds to {OUT}")
