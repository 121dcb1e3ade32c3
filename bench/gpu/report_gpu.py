"""Table of the GPU part: pipec (burn on wgpu, the fused kernel end to end and alone) against
PyTorch on the same card (end to end and kernels alone), and the fraction of the card's
memory bandwidth and of PCIe bandwidth pipec's traffic reaches.

Usage: report_gpu.py PIPEC_JSONL TORCH_JSONL NVIDIA_SMI_CSV
"""
import json
import sys

# Peak memory bandwidth in bytes/s by card name (vendor figures).
PEAK = {"H100 PCIe": 2.0e12, "H100 NVL": 3.9e12, "H100 80GB HBM3": 3.35e12, "H100": 3.35e12,
        "H200": 4.8e12, "A100-SXM4-80GB": 2.04e12, "A100": 1.56e12}
# PCIe 5.0 x16, one direction.
PCIE = 64e9


def main():
    pipec = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    torch = {(r["example"], r["batch"], r["engine"].endswith("-kernel")): r
             for r in (json.loads(l) for l in open(sys.argv[2]) if l.startswith("{"))}
    card = open(sys.argv[3]).read().splitlines()[-1].split(",")[0].strip()
    peak = next((v for k, v in PEAK.items() if k in card), None)
    print(f"card: {card}; peak memory bandwidth: {peak / 1e12 if peak else '?'} TB/s; PCIe assumed {PCIE / 1e9:.0f} GB/s")
    print(f"{'example':10} {'rows':>8} {'engine':20} {'pipec':>10} {'pytorch':>10} {'ratio':>6} {'GB/s':>8} {'of HBM':>7} {'of PCIe':>8}")
    for r in pipec:
        if r["engine"] == "pipec-native":
            continue
        kernel = r["engine"].endswith("-kernel")
        t = torch.get((r["example"], r["batch"], kernel))
        ratio = t["latency_s_median"] / r["latency_s_median"] if t else float("nan")
        gbs = r["bytes_per_s"]
        print(f"{r['example']:10} {r['batch']:>8} {r['engine']:20} {r['latency_s_median'] * 1e3:>8.3f}ms "
              f"{(t or {}).get('latency_s_median', float('nan')) * 1e3:>8.3f}ms {ratio:>6.2f} "
              f"{gbs / 1e9:>8.2f} {gbs / peak if peak else float('nan'):>7.2%} {gbs / PCIE:>8.2%}")


if __name__ == "__main__":
    main()
