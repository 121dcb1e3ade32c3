"""Table of the GPU part: pipec (burn on wgpu) against PyTorch on the same card, and the
fraction of the card's memory bandwidth pipec's host-device traffic reaches.

Usage: report_gpu.py PIPEC_JSONL TORCH_JSONL NVIDIA_SMI_CSV
"""
import json
import sys

# Peak memory bandwidth in bytes/s by card name (vendor figures).
PEAK = {"H100 PCIe": 2.0e12, "H100 NVL": 3.9e12, "H100 80GB HBM3": 3.35e12, "H100": 3.35e12,
        "H200": 4.8e12, "A100-SXM4-80GB": 2.04e12, "A100": 1.56e12}


def main():
    pipec = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    torch = {(r["example"], r["batch"]): r for r in (json.loads(l) for l in open(sys.argv[2]) if l.startswith("{"))}
    card = open(sys.argv[3]).read().splitlines()[-1].split(",")[0].strip()
    peak = next((v for k, v in PEAK.items() if k in card), None)
    print(f"card: {card}; peak memory bandwidth: {peak / 1e12 if peak else '?'} TB/s")
    print(f"{'example':8} {'rows':>8} {'pipec':>10} {'pytorch':>10} {'ratio':>6} {'pipec GB/s':>10} {'of peak':>8}")
    for r in pipec:
        t = torch.get((r["example"], r["batch"]))
        ratio = t["latency_s_median"] / r["latency_s_median"] if t else float("nan")
        share = r["bytes_per_s"] / peak if peak else float("nan")
        print(f"{r['example']:8} {r['batch']:>8} {r['latency_s_median'] * 1e3:>8.3f}ms "
              f"{(t or {}).get('latency_s_median', float('nan')) * 1e3:>8.3f}ms {ratio:>6.2f} "
              f"{r['bytes_per_s'] / 1e9:>10.2f} {share:>8.2%}")


if __name__ == "__main__":
    main()
