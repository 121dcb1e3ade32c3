#!/usr/bin/env bash
# Run here (no GPU needed): builds the GPU part of the benchmark into gpu_carry/ (ignored by
# git), the folder the GPU machine receives with the working tree (../shared/docs/GPU.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p pipec-bench
mkdir -p gpu_carry
cp target/release/pipec-bench gpu_carry/
strip gpu_carry/pipec-bench
gzip -9f gpu_carry/pipec-bench
if [ ! -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ]; then apt-get install -y -qq libvulkan1 >/dev/null; fi
cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 gpu_carry/
grep -qx 'gpu_carry/' .git/info/exclude 2>/dev/null || echo 'gpu_carry/' >> .git/info/exclude
ls -la gpu_carry
echo "now run on the GPU machine, from the repository root: bash bench/gpu/run_on_gpu.sh (carry gpu_carry)"
