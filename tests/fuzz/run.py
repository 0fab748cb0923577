"""Run one fuzz target under atheris: `python -m tests.fuzz.run TARGET [SECONDS]`.

New inputs go to a scratch directory (the committed corpus is only read); a crash is written to
build/fuzz/ and ends the run non-zero: copy the file into tests/fuzz/corpus/TARGET/ and it becomes a
test (tests/fuzz/test_corpus.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

CORPUS = Path(__file__).resolve().parent / "corpus"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "fuzz"


def main() -> None:
    target_name, seconds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with atheris.instrument_imports():
        from tests.fuzz.targets import TARGETS
    target = TARGETS[target_name]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f"fuzz-{target_name}-")
    arguments = [sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=4096", "-max_len=65536", "-timeout=10",
                 f"-artifact_prefix={ARTIFACTS}/{target_name}-", "-print_final_stats=1", scratch,
                 str(CORPUS / target_name)]
    if target_name.endswith("_kernel"):  # the kernels' C gives comparison hints only (gcc has no edge coverage
        arguments.insert(1, "-use_value_profile=1")  # libFuzzer takes): value profiles make use of them
    atheris.Setup(arguments, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
