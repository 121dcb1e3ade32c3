#!/usr/bin/env bash
# Bounded libFuzzer runs of every cargo-fuzz target in fuzz/, for CI and by hand:
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
# Builds the targets with cargo-fuzz (optimised, with debug assertions and overflow checks;
# AddressSanitizer on the nightly toolchain) in target/fuzz, so that the workspace's own build
# is untouched. Then runs each for the given time from a corpus under target/fuzz-corpus/:
# the committed seeds (fuzz/seeds/), every .pipe file of the repository for the front end,
# and whatever earlier runs on this machine found. A crash, a broken invariant, a timeout
# (30 s) or an allocation over 2 GiB fails the run; the input is kept in
# fuzz/artifacts/<target>/ and the end of libFuzzer's log is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
# AddressSanitizer needs the nightly toolchain; without one, the targets are built on stable
# with libFuzzer's coverage instrumentation only (the code fuzzed has no `unsafe` of its own).
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz) sanitizer=address
else
  echo "fuzz/run.sh: no nightly toolchain; building without AddressSanitizer" >&2
  fuzz=(cargo fuzz) sanitizer=none
fi

target_dir="$PWD/target/fuzz"
"${fuzz[@]}" build --fuzz-dir fuzz --target-dir "$target_dir" --sanitizer "$sanitizer"

corpus="$PWD/target/fuzz-corpus"
mkdir -p "$corpus/decode_request" "$corpus/pipe_front_end"
cp fuzz/seeds/decode_request/* "$corpus/decode_request/"
# Every .pipe file the tests use: examples, fixtures, the diagnostics cases.
git ls-files '*.pipe' | while read -r pipe; do
  cp "$pipe" "$corpus/pipe_front_end/$(echo "$pipe" | tr '/' '_')"
done

for target in decode_request pipe_front_end; do
  echo "== $target: $seconds s from $(ls "$corpus/$target" | wc -l) corpus files"
  log="$target_dir/$target.log"
  status=0
  "${fuzz[@]}" run --fuzz-dir fuzz --target-dir "$target_dir" --sanitizer "$sanitizer" "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added|INFO: seed corpus)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 80 "$log"
    echo "fuzz/run.sh: $target found a failure (above; the input is in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
done
