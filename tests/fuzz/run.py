"""Run one fuzz target under atheris: `python -m tests.fuzz.run TARGET [SECONDS]`.

New inputs go to build/fuzz/TARGET-inputs/ (the committed corpus is only read); a crash is written to
build/fuzz/ and ends the run non-zero: copy the file into tests/fuzz/corpus/TARGET/ and it becomes a
test (tests/fuzz/test_corpus.py)."""

from __future__ import annotations

import shutil
import sys
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
    scratch = ARTIFACTS / f"{target_name}-inputs"  # emptied each run: libFuzzer exits without cleaning up
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    arguments = [sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=4096", "-max_len=65536", "-timeout=10",
                 f"-artifact_prefix={ARTIFACTS}/{target_name}-", "-print_final_stats=1", str(scratch),
                 str(CORPUS / target_name)]
    if target_name.endswith("_kernel"):  # the kernels' C gives comparison hints only (gcc has no edge coverage
        arguments.insert(1, "-use_value_profile=1")  # libFuzzer takes): value profiles make use of them
    atheris.Setup(arguments, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
