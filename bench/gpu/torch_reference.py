"""PyTorch on the same card doing the same computation as pipec's fused pipelines, for the
GPU part of the benchmark (bench/gpu/run_on_gpu.sh).

For each example and batch size: inputs cycled from reference.json, strings one-hot encoded on
the host beforehand (pipec does that mapping inside its timed call, so this favours PyTorch),
then per call: upload, the pipeline's arithmetic (impute, log1p, standardize or min-max,
dense layers), read back. One JSON line per measurement, in pipec-bench's format.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent.parent


def load_safetensors(path):
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(info["shape"]).copy())
    return out


def cycled(reference, name, rows):
    values = reference["inputs"].get(name) or reference["outputs"][name]
    return [values[i % len(values)] for i in range(rows)]


def titanic(rows, device):
    d = ROOT / "examples/titanic"
    ref = json.loads((d / "reference.json").read_text())
    stats = json.loads((d / "stats.json").read_text())
    w = {k: v.to(device) for k, v in load_safetensors(d / "mlp.safetensors").items()}
    mean = torch.tensor(stats["mean"], device=device)
    std = torch.tensor(stats["std"], device=device)
    num = np.array([[np.nan if v is None else v for v in cycled(ref, n, rows)] for n in ("age", "sibsp", "parch")],
                   dtype=np.float32).T.copy()
    sex = np.array([[s == "female", s == "male"] for s in cycled(ref, "sex", rows)], dtype=np.float32)
    cls = np.array([[c == "1st", c == "2nd", c == "3rd"] for c in cycled(ref, "pclass", rows)], dtype=np.float32)
    host = [torch.from_numpy(a).pin_memory() if device == "cuda" else torch.from_numpy(a) for a in (num, sex, cls)]

    def upload():
        return [t.to(device, non_blocking=True) for t in host]

    def compute(xs):
        x_num, x_sex, x_cls = xs
        age = torch.nan_to_num(x_num[:, :1], nan=28.0)
        raw = torch.cat([age, torch.log1p(x_num[:, 1:])], dim=1)
        x = torch.cat([(raw - mean) / std, x_sex, x_cls], dim=1)
        h = torch.relu(x @ w["layers.0.weight"].T + w["layers.0.bias"])
        h = torch.relu(h @ w["layers.1.weight"].T + w["layers.1.bias"])
        p = torch.sigmoid(h @ w["layers.2.weight"].T + w["layers.2.bias"])
        return torch.cat([p, (p > 0.5).float()], dim=1)

    return upload, compute, ref["outputs"]["p_survived"]


def chain(rows, device):
    d = ROOT / "examples/chain"
    ref = json.loads((d / "reference.json").read_text())
    mm = json.loads((d / "stage1_minmax.json").read_text())
    st = json.loads((d / "stage2_stats.json").read_text())
    s1 = {k: v.to(device) for k, v in load_safetensors(d / "stage1.safetensors").items()}
    s2 = {k: v.to(device) for k, v in load_safetensors(d / "stage2.safetensors").items()}
    lo, hi = (torch.tensor(mm[k], device=device) for k in ("min", "max"))
    mean, std = (torch.tensor(st[k], device=device) for k in ("mean", "std"))
    num = np.array([cycled(ref, n, rows) for n in ("balance", "income")], dtype=np.float32).T.copy()
    stu = np.array([[s == "No", s == "Yes"] for s in cycled(ref, "student", rows)], dtype=np.float32)
    host = [torch.from_numpy(a).pin_memory() if device == "cuda" else torch.from_numpy(a) for a in (num, stu)]

    def upload():
        return [t.to(device, non_blocking=True) for t in host]

    def compute(xs):
        x_num, x_stu = xs
        x1 = torch.cat([(x_num - lo) / (hi - lo), x_stu], dim=1)
        risk = torch.sigmoid(x1 @ s1["weight"].T + s1["bias"])
        x2 = torch.cat([(x_num - mean) / std, risk, x_stu], dim=1)
        h = torch.tanh(x2 @ s2["layers.0.weight"].T + s2["layers.0.bias"])
        p = torch.sigmoid(h @ s2["layers.1.weight"].T + s2["layers.1.bias"])
        return torch.cat([risk, p, (p > 0.5).float()], dim=1)

    return upload, compute, ref["outputs"]["p_default"]


def mlp30(rows, device):
    d = ROOT / "tests/fixtures/mlp30"
    ref = json.loads((d / "reference_pipe.json").read_text())
    st = json.loads((d / "stats.json").read_text())
    w = {k: v.to(device) for k, v in load_safetensors(d / "mlp.safetensors").items()}
    mean, std = (torch.tensor(st[k], device=device) for k in ("mean", "std"))
    x = np.array(cycled(ref, "x", rows), dtype=np.float32)
    host = torch.from_numpy(x).pin_memory() if device == "cuda" else torch.from_numpy(x)

    def upload():
        return host.to(device, non_blocking=True)

    def compute(x):
        h = torch.relu(((x - mean) / std) @ w["layers.0.weight"].T + w["layers.0.bias"])
        h = torch.relu(h @ w["layers.1.weight"].T + w["layers.1.bias"])
        return torch.sigmoid(h @ w["layers.2.weight"].T + w["layers.2.bias"])

    return upload, compute, ref["outputs"]["p"]


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def seconds_per_call(call, budget=1.0):
    call()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < budget / 5:
        call()
        n += 1
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(max(n, 1)):
            call()
        rounds.append((time.perf_counter() - t) / max(n, 1))
    return statistics.median(rounds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4096,65536,1000000")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    # End to end: host rows in, results back on the host. Kernel: inputs already on the card,
    # the computation alone, waited for.
    for name, build in (("titanic", titanic), ("chain", chain), ("mlp30", mlp30)):
        for rows in map(int, args.sizes.split(",")):
            upload, compute, expected = build(rows, args.device)
            column = {"chain": -2, "titanic": 0, "mlp30": 0}[name]
            got = compute(upload()).cpu()[: len(expected), column].double().numpy()
            n = min(len(expected), rows)
            err = float(np.max(np.abs(got[:n] - np.array(expected[:n]))))
            on_card = upload()

            def kernel():
                compute(on_card)
                synchronize(args.device)

            for engine, call in ((f"pytorch-{args.device}", lambda: compute(upload()).cpu()),
                                 (f"pytorch-{args.device}-kernel", kernel)):
                s = seconds_per_call(call)
                print(json.dumps({"example": name, "config": "reference", "engine": engine,
                                  "batch": rows, "latency_s_median": s, "rows_per_s": rows / s,
                                  "max_abs_error_vs_reference": err,
                                  "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu"}))


if __name__ == "__main__":
    main()
