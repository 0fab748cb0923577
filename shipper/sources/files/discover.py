"""Finding the files to read: include globs minus exclude globs minus rotated names."""

from __future__ import annotations

import fnmatch
import glob
import re

# Names that log rotation gives to old files: app.log.1, app.log.gz, 0.log.20261122-101500, app.log-20261122
ROTATED_NAME = re.compile(r"(\.(gz|bz2|xz|zst|zip|lz4|old|bak)|\.\d+|\.log[.\-]\d[\d\-T:.Z]*)$")


def discover(include: list[str], exclude: list[str]) -> list[str]:
    """Paths matching an include pattern and no exclude pattern, rotated names left out, sorted."""
    found: set[str] = set()
    for pattern in include:
        found.update(glob.glob(pattern, recursive="**" in pattern))
    return sorted(
        path for path in found
        if not ROTATED_NAME.search(path) and not any(fnmatch.fnmatchcase(path, ex) for ex in exclude)
    )
