"""The kernels' fuzz targets without atheris: each committed corpus input and seeded mutants of it.

`python tests/fuzz/replay.py CORPUS_DIR MUTANTS SEED [JOURNALS]` runs every `*_kernel` target of targets.py
(beside this file, loaded by path, so that it runs wherever the agent is installed, with none of the
test dependencies) on its corpus and on MUTANTS byte-level mutants of each input, the same for the
same SEED. Each target asserts that its kernel gives exactly the reference's output. libFuzzer does
not run where this is for: the image's arm64 root filesystem under qemu-user (tests/deploy/
test_image.py), where `char` is unsigned and the kernels were compiled by another gcc backend.

The journal kernel's inputs are journal files, which only systemd-journal-remote writes: where it
is missing, `write_journals` (run where it is) writes them into JOURNALS beforehand, one directory
per input, and the replay reads each with the kernel and with the reference.

Prints one line per target (`target: N inputs`) and exits 1 at the first input a target fails on,
printing it in base64 (a journal by its directory).
"""

from __future__ import annotations

import base64
import importlib.util
import random
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType


def mutant(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """`data` changed in 1 to 4 places, as libFuzzer's simplest mutators change an input."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        kind = rng.randrange(6)
        if kind == 0 and at < len(out):
            out[at] = rng.randrange(256)
        elif kind == 1:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2:
            del out[at:at + rng.randint(1, 16)]
        elif kind == 3:
            out[at:at] = out[at:at + rng.randint(1, 32)]
        elif kind == 4:
            del out[at:]
        else:
            out[at:at] = other[rng.randint(0, len(other)):][:rng.randint(1, 64)]
    return bytes(out)


def candidates(rng: random.Random, inputs: list[bytes], mutants: int) -> Iterator[bytes]:
    """Each input, then `mutants` mutants of it (spliced with another input of the same target)."""
    for data in inputs:
        yield data
        yield from (mutant(rng, data, rng.choice(inputs)) for _ in range(mutants))


def corpus_of(corpus: Path, name: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((corpus / name).iterdir())]


def replayed(name: str, cases: Iterable[tuple[bytes | str, Callable[[], object]]]) -> bool:
    """Runs each case (its input or what it is, the call); prints the count, or the first failure and
    what failed (an input in base64)."""
    count = 0
    for what, call in cases:
        try:
            call()
        except Exception:  # any failure is the finding: what failed is printed
            traceback.print_exc()
            print(f"{name}: FAILED on {base64.b64encode(what).decode() if isinstance(what, bytes) else what}")
            return False
        count += 1
    print(f"{name}: {count} inputs")
    return True


def load_targets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("targets", Path(__file__).with_name("targets.py"))
    assert spec is not None and spec.loader is not None
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)
    return targets


def write_journals(corpus: Path, mutants: int, seed: int, out: Path) -> int:
    """The journals of the journal kernel's corpus inputs and `mutants` mutants of each, a directory
    each under `out`, readable by anyone; how many systemd-journal-remote wrote."""
    targets, rng = load_targets(), random.Random(seed)
    written = 0
    for candidate in candidates(rng, corpus_of(corpus, "journal_kernel"), mutants):
        directory = out / f"{written:05d}"
        directory.mkdir(parents=True)
        if targets.write_journal_of(candidate, directory):
            written += 1
        else:
            directory.rmdir()
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return written


def main() -> int:
    corpus, mutants, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    journals = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    targets, rng = load_targets(), random.Random(seed)
    for name, target in sorted(targets.TARGETS.items()):
        if not name.endswith("_kernel"):
            continue
        cases: Iterable[tuple[bytes | str, Callable[[], object]]]
        if name == "journal_kernel":
            if journals is None:
                print(f"{name}: not run (no JOURNALS written beforehand)")
                continue
            cases = ((f"the journal in {directory}",
                      partial(targets.journal_reads_alike, str(directory), targets.kernels.journal))
                     for directory in sorted(journals.iterdir()))
        else:
            cases = ((candidate, partial(target, candidate))
                     for candidate in candidates(rng, corpus_of(corpus, name), mutants))
        if not replayed(name, cases):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
