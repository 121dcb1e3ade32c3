"""Soak test of one pipec server: a mixed load for a while, with the server's memory and open
file descriptors sampled every second.

Usage: soak.py SERVER_BINARY REFERENCE_JSON OUT_DIR [--seconds 600] [--concurrency 16]

- Valid requests: oha (the load test's client, bench/load/load_test.sh installs it) at
  --concurrency, in back-to-back windows of 60 s, each reporting its own p50/p99, so that
  latency can be compared over time. Every non-2xx answer or transport error counts as failed.
- Invalid clients, all the time: malformed JSON, unknown inputs and wrong shapes (400s); slow
  clients that send half a body and stall past --body-timeout-ms (408s); clients that open a
  connection and never send anything; and every few seconds a large request (50,000 rows,
  binary) that is scored.
- Sampling: VmRSS from /proc/PID/status and the count of /proc/PID/fd, every second.

The server is the binary given, started here on a free port (a titanic build: `pipec build
examples/titanic/titanic.pipe -o BIN`).

Writes OUT_DIR/samples.jsonl (one line per second), OUT_DIR/windows.jsonl (one line per oha
window) and OUT_DIR/summary.json, and prints the summary: RSS after the first window (the
warm-up) against the largest and the last RSS after it, the open descriptors, failed valid
requests, and p99 per window. Exits 1 when a goal is missed: RSS growth past 10% after
warm-up, descriptor growth, a failed valid request.
"""

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

WINDOW = 60


def start_server(binary, out):
    log = open(out / "server.log", "w")
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", "--log-format", "json", "--log", "warn,pipec_runtime=info",
         "--body-timeout-ms", "2000", "--header-timeout-ms", "2000", "--max-body-bytes", str(64 << 20)],
        stderr=subprocess.PIPE, text=True)
    address = None
    for line in process.stderr:
        log.write(line)
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("message") == "listening":
            address = event["address"]
            break
    if address is None:
        raise SystemExit("the server did not start; see server.log")
    threading.Thread(target=lambda: [log.write(l) for l in process.stderr], daemon=True).start()
    return process, address


def request_body(reference, rows):
    names = ["age", "sibsp", "parch", "sex", "pclass"]
    inputs = []
    for name in names:
        values = [reference["inputs"][name][i % len(reference["inputs"][name])] for i in range(rows)]
        datatype = "BYTES" if name in ("sex", "pclass") else "FP32"
        inputs.append({"name": name, "shape": [rows], "datatype": datatype, "data": values})
    return {"inputs": inputs}


def binary_body(reference, rows):
    """A binary-data request of `rows` rows: (JSON head length, body bytes)."""
    head = {"inputs": []}
    tail = b""
    for name in ["age", "sibsp", "parch", "sex", "pclass"]:
        column = reference["inputs"][name]
        if name in ("sex", "pclass"):
            data = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in (column[i % len(column)] for i in range(rows)))
            head["inputs"].append({"name": name, "shape": [rows], "datatype": "BYTES", "parameters": {"binary_data_size": len(data)}})
        else:
            values = [column[i % len(column)] for i in range(rows)]
            data = struct.pack(f"<{rows}f", *[float("nan") if v is None else v for v in values])
            head["inputs"].append({"name": name, "shape": [rows], "datatype": "FP32", "parameters": {"binary_data_size": len(data)}})
        tail += data
    head["parameters"] = {"binary_data_output": True}
    encoded = json.dumps(head).encode()
    return len(encoded), encoded + tail


def post(url, body, headers=None, timeout=60):
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except OSError:
        return None


def sample(pid):
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("reference")
    parser.add_argument("out")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--oha", default=os.environ.get("OHA") or shutil.which("oha"))
    args = parser.parse_args()
    if not args.oha:
        raise SystemExit("oha not found: set OHA, or run bench/load/load_test.sh once (it installs it)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = json.load(open(args.reference))
    process, address = start_server(args.binary, out)
    url = f"http://{address}/v2/models/titanic/infer"
    body_file = out / "body.json"
    body_file.write_text(json.dumps(request_body(reference, 4)))
    stop = threading.Event()
    counts = {"invalid": {}, "slow": 0, "idle": 0, "large": {}}
    lock = threading.Lock()

    def invalid_clients():
        bad = [b"{\"inputs\": [", b"[1, 2]", json.dumps({"inputs": [{"name": "agee", "shape": [1], "datatype": "FP32", "data": [1]}]}).encode(),
               json.dumps({"inputs": [{"name": "age", "shape": [1152921504606846976], "datatype": "FP32", "data": [1]}]}).encode()]
        i = 0
        while not stop.is_set():
            status = post(url, bad[i % len(bad)])
            with lock:
                counts["invalid"][str(status)] = counts["invalid"].get(str(status), 0) + 1
            i += 1
            time.sleep(0.01)

    def slow_clients():
        host, port = address.rsplit(":", 1)
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=10) as s:
                    s.sendall(b"POST /v2/models/titanic/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inputs\"")
                    s.settimeout(10)
                    s.recv(4096)
                with lock:
                    counts["slow"] += 1
            except OSError:
                pass

    def idle_clients():
        host, port = address.rsplit(":", 1)
        while not stop.is_set():
            held = []
            for _ in range(50):
                try:
                    held.append(socket.create_connection((host, int(port)), timeout=10))
                except OSError:
                    pass
            time.sleep(3)
            for s in held:
                s.close()
            with lock:
                counts["idle"] += len(held)

    def large_requests():
        length, body = binary_body(reference, 50_000)
        while not stop.is_set():
            status = post(url, body, {"inference-header-content-length": str(length)}, timeout=120)
            with lock:
                counts["large"][str(status)] = counts["large"].get(str(status), 0) + 1
            time.sleep(5)

    samples = []

    def sampler():
        started = time.monotonic()
        with open(out / "samples.jsonl", "w") as f:
            while not stop.is_set():
                rss, fds = sample(process.pid)
                line = {"t": round(time.monotonic() - started, 1), "rss": rss, "fds": fds}
                samples.append(line)
                f.write(json.dumps(line) + "\n")
                f.flush()
                time.sleep(1)

    threads = [threading.Thread(target=t, daemon=True) for t in (invalid_clients, slow_clients, idle_clients, large_requests, sampler)]
    for t in threads:
        t.start()
    windows = []
    deadline = time.monotonic() + args.seconds
    with open(out / "windows.jsonl", "w") as f:
        while time.monotonic() < deadline - 1:
            seconds = int(min(WINDOW, deadline - time.monotonic()))
            report = subprocess.run(
                [args.oha, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(args.concurrency),
                 "-m", "POST", "-T", "application/json", "-D", str(body_file), url],
                capture_output=True, text=True, check=True)
            data = json.loads(report.stdout)
            codes = {str(k): v for k, v in (data.get("statusCodeDistribution") or {}).items()}
            errors = data.get("errorDistribution") or {}
            ok = sum(n for code, n in codes.items() if code.startswith("2"))
            aborted = sum(n for kind, n in errors.items() if "deadline" in kind)
            failed = sum(n for code, n in codes.items() if not code.startswith("2")) + sum(errors.values()) - aborted
            line = {
                "window": len(windows), "seconds": seconds, "ok": ok, "failed": failed, "errors": errors,
                "aborted_at_deadline": aborted, "rps": ok / data["summary"]["total"],
                "p50_ms": data["latencyPercentiles"]["p50"] * 1e3, "p99_ms": data["latencyPercentiles"]["p99"] * 1e3,
            }
            windows.append(line)
            f.write(json.dumps(line) + "\n")
            f.flush()
            print(json.dumps(line), file=sys.stderr)
    stop.set()
    time.sleep(1.5)
    alive = process.poll() is None
    process.terminate()
    process.wait(timeout=60)
    warm_up = min(WINDOW, args.seconds / 2)
    warm = [s for s in samples if s["t"] >= warm_up]
    # The large requests make RSS swing by megabytes from second to second, so growth is
    # judged on the envelope: the largest RSS of the second half after warm-up against that
    # of the first half. A leak raises the envelope; a request in flight does not.
    middle = warm_up + (warm[-1]["t"] - warm_up) / 2
    first_half = max(s["rss"] for s in warm if s["t"] < middle)
    second_half = max(s["rss"] for s in warm if s["t"] >= middle)
    by_window = [[s["rss"] / 2**20 for s in samples if i * WINDOW <= s["t"] < (i + 1) * WINDOW] for i in range(len(windows))]
    summary = {
        "seconds": args.seconds, "concurrency": args.concurrency,
        "valid_ok": sum(w["ok"] for w in windows), "valid_failed": sum(w["failed"] for w in windows),
        "rss_max_first_half_mib": first_half / 2**20, "rss_max_second_half_mib": second_half / 2**20,
        "rss_growth": second_half / first_half - 1,
        "rss_max_mib_by_window": [round(max(w), 1) for w in by_window if w],
        "rss_median_mib_by_window": [round(sorted(w)[len(w) // 2], 1) for w in by_window if w],
        "rss_last_mib": warm[-1]["rss"] / 2**20,
        "fds_after_warmup": warm[0]["fds"], "fds_max": max(s["fds"] for s in warm), "fds_last": warm[-1]["fds"],
        "p99_ms_by_window": [round(w["p99_ms"], 3) for w in windows], "rps_by_window": [round(w["rps"]) for w in windows],
        "invalid": counts["invalid"], "slow_clients": counts["slow"], "idle_connections": counts["idle"],
        "large_requests": counts["large"], "server_alive_at_end": alive,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    # Descriptors: the idle and slow clients hold some at any moment; growth means a leak.
    missed = summary["rss_growth"] > 0.10 or summary["valid_failed"] > 0 or not alive or \
        summary["fds_last"] > summary["fds_after_warmup"] + 60
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
