#!/usr/bin/env bash
# Run on the GPU machine, from the repository root, with gpu_carry/ from prepare.sh: the fused
# pipelines through wgpu at 4,096 to 1,000,000 rows against PyTorch on the same card, and the
# fraction of the card's memory bandwidth pipec's traffic reaches. Prints JSON lines and a table.
set -euo pipefail
root="$PWD"
cd gpu_carry
gunzip -kf ./*.gz
chmod +x ./pipec-bench
printf '{"file_format_version":"1.0.1","ICD":{"library_path":"/usr/local/nvidia/lib64/libEGL_nvidia.so.0","api_version":"1.4.312"}}' > nvidia_egl_icd.json
export LD_LIBRARY_PATH=$PWD VK_ICD_FILENAMES=$PWD/nvidia_egl_icd.json
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv | tee gpu.txt
sizes="${GPU_SIZES:-4096,65536,262144,1000000}"
(cd "$root" && "$root/gpu_carry/pipec-bench" --device wgpu --sizes "$sizes" --budget-ms 1000) | tee pipec_gpu.jsonl
python3 "$root/bench/gpu/torch_reference.py" --sizes "$sizes" | tee torch_gpu.jsonl
python3 "$root/bench/gpu/report_gpu.py" pipec_gpu.jsonl torch_gpu.jsonl gpu.txt
