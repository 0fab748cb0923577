"""requirements.lock (the image installs from it, hashes required) satisfies every runtime
dependency pyproject.toml asks for, and pins every package it lists with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ("journald", "kubernetes")  # what the image installs


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every pin in requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\]+)", block)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def test_the_lock_satisfies_every_runtime_dependency_and_every_pin_has_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in EXTRAS for r in project["optional-dependencies"][extra]]
    pins = locked()

    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name][0]}, pyproject.toml asks for {requirement}"
    assert all(hashes for _, hashes in pins.values())
