#!/usr/bin/env bash
# Each fuzz target (tests/fuzz/targets.py) under atheris for FUZZ_SECONDS (default 30) from the committed
# corpus; the compiled kernels' targets (`*_kernel`) under AddressSanitizer. A crash ends the run non-zero
# and leaves its input in build/fuzz/: copy it into tests/fuzz/corpus/<target>/ and
# tests/fuzz/test_corpus.py replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-.venv/bin/python}"
seconds="${FUZZ_SECONDS:-30}"
mkdir -p build/fuzz build/asan
# The compiled kernels again with AddressSanitizer (gcc -fsanitize=address), loaded by their fuzz
# targets from build/asan; libasan is preloaded so that it is the first library the process loads.
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
for kernel in shipper/kernels/_*.c; do
  name="$(basename "$kernel" .c)"
  libraries=()
  [[ "$name" == _journal ]] && libraries=(-lsystemd)
  gcc -shared -fPIC -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address -Wall -Wextra -Werror \
    -I"$include" "$kernel" "${libraries[@]}" -o "build/asan/${name}.so"
done
asan=(env LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
      SHIPPER_ASAN_KERNELS=build/asan)
for target in forward parse redact container cri_kernel syslog_kernel cloudwatch_kernel journal_kernel parse_kernel forward_kernel ndjson_kernel; do
  log="build/fuzz/${target}.log"
  run=("$python")
  [[ "$target" == *_kernel ]] && run=("${asan[@]}" "$python")
  if "${run[@]}" -m tests.fuzz.run "$target" "$seconds" >"$log" 2>&1; then
    echo "fuzz ${target}: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') inputs in ${seconds}s, no failure"
  else
    echo "fuzz ${target}: FAILED (see ${log}); the input that failed:" >&2
    grep -A 30 "Uncaught Python exception" "$log" >&2 || tail -40 "$log" >&2
    exit 1
  fi
done
