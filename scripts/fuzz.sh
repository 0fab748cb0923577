#!/usr/bin/env bash
# Each fuzz target (tests/fuzz/targets.py) under atheris for FUZZ_SECONDS (default 30) from the committed
# corpus. A crash ends the run non-zero and leaves its input in build/fuzz/: copy it into
# tests/fuzz/corpus/<target>/ and tests/fuzz/test_corpus.py replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-.venv/bin/python}"
seconds="${FUZZ_SECONDS:-30}"
mkdir -p build/fuzz
for target in forward parse redact container; do
  log="build/fuzz/${target}.log"
  if "$python" -m tests.fuzz.run "$target" "$seconds" >"$log" 2>&1; then
    echo "fuzz ${target}: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') inputs in ${seconds}s, no failure"
  else
    echo "fuzz ${target}: FAILED (see ${log}); the input that failed:" >&2
    grep -A 30 "Uncaught Python exception" "$log" >&2 || tail -40 "$log" >&2
    exit 1
  fi
done
