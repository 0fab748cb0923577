"""Releases named by CHANGELOG.md, installed from the repository's own history for upgrade tests."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_RELEASE = re.compile(r"^## (?P<version>\S+) \((?:commit (?P<commit>[0-9a-f]{40})|unreleased)[^)]*\)\n+"
                      r"Spool version \*\*(?P<spool>\d+)\*\*", re.MULTILINE)


@dataclass(frozen=True)
class Release:
    version: str
    commit: str | None  # None: not cut yet (the working tree)
    spool_version: int


def releases() -> list[Release]:
    """Every release of CHANGELOG.md, newest first."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return [Release(m["version"], m["commit"], int(m["spool"])) for m in _RELEASE.finditer(text)]


def previous_release() -> Release:
    """The newest release that was cut: the one a rolling update starts from."""
    return next(release for release in releases() if release.commit)


def install(release: Release, directory: Path) -> Path:
    """The release's source from git history in `directory`/src, installed with the dependencies its own
    requirements.lock pins (hashes checked) into a venv of its own; returns that venv's `shipper`."""
    assert release.commit, f"{release.version} has not been cut"
    reachable = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{release.commit}^{{commit}}"],
                               capture_output=True)
    assert reachable.returncode == 0, (
        f"commit {release.commit} of release {release.version} is not in this clone: a full clone (not shallow) "
        "runs the upgrade tests")
    source = directory / "src"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", release.commit], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    # the journald extra (systemd-python, compiled) is left out: these tests read files
    lock = directory / "requirements.lock"
    pinned = (source / "requirements.lock").read_text()
    lock.write_text(re.sub(r"(?ms)^systemd-python==.*?(?=^\S|\Z)", "", pinned))
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    for step in (["--require-hashes", "--no-deps", "-r", str(lock)], ["--no-deps", str(source)]):
        done = subprocess.run([*pip, *step], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    shipper = venv / "bin" / "shipper"
    version = subprocess.run([str(shipper), "--version"], capture_output=True, text=True, check=True).stdout
    assert release.version in version, version
    return shipper
