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
# The compiled kernels again with AddressSanitizer (gcc -fsanitize=address) and comparison hints for
# libFuzzer (-fsanitize-coverage=trace-cmp), loaded by their fuzz targets from build/asan. They are
# linked without gcc's own ASan runtime: the one that runs is atheris's asan_with_fuzzer.so, preloaded,
# which carries ASan and libFuzzer together. With gcc's libasan preloaded instead, libFuzzer's coverage
# hooks resolve to libasan's empty ones and the fuzzer runs blind (no input ever counts as new).
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
runtime="$("$python" -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
for kernel in shipper/kernels/_*.c; do
  name="$(basename "$kernel" .c)"
  libraries=()
  [[ "$name" == _journal ]] && libraries=(-lsystemd)
  gcc -c -fPIC -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address -fsanitize-coverage=trace-cmp \
    -Wall -Wextra -Werror -I"$include" "$kernel" -o "build/asan/${name}.o"
  gcc -shared "build/asan/${name}.o" "${libraries[@]}" -o "build/asan/${name}.so"
done
units() { grep -m1 -o "stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$'; }
asan=(env LD_PRELOAD="$runtime" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 SHIPPER_ASAN_KERNELS=build/asan)
for target in forward parse redact container cri_kernel syslog_kernel cloudwatch_kernel journal_kernel parse_kernel forward_kernel ndjson_kernel otlp_kernel; do
  log="build/fuzz/${target}.log"
  run=("$python")
  [[ "$target" == *_kernel ]] && run=("${asan[@]}" "$python")
  if "${run[@]}" -m tests.fuzz.run "$target" "$seconds" >"$log" 2>&1; then
    if grep -q "Coverage symbols are being provided by a library other than libFuzzer" "$log"; then
      echo "fuzz ${target}: ran without coverage (see ${log})" >&2
      exit 1
    fi
    echo "fuzz ${target}: $(units number_of_executed_units) inputs in ${seconds}s ($(units new_units_added) new), no failure"
  else
    echo "fuzz ${target}: FAILED (see ${log}); the input that failed:" >&2
    grep -A 30 "Uncaught Python exception" "$log" >&2 || tail -40 "$log" >&2
    echo "fuzz ${target}: what failed, as the log first says it:" >&2
    grep -m 4 -E "Uncaught Python exception|ERROR: AddressSanitizer|ERROR: libFuzzer|^[A-Za-z]*Error" "$log" >&2 || true
    exit 1
  fi
done
