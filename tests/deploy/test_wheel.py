"""The wheel builds with its compiled kernels, installs into a clean venv with its dependencies, and its
`shipper` command runs and says which kernels are compiled."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from shipper import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_into_a_clean_venv_and_shipper_version_runs(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"),
                    str(ROOT)], check=True)
    (wheel,) = (tmp_path / "dist").glob("shipper_agent-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    venv = tmp_path / "venv" / "bin"
    subprocess.run([venv / "pip", "install", "--quiet", str(wheel)], check=True)

    result = subprocess.run([venv / "shipper", "--version"], capture_output=True, text=True, check=True,
                            cwd=tmp_path)  # not the source tree: the installed package must be enough

    kernels = "compiled kernels: cloudwatch, cri, forward, journal, ndjson, otlp, parse, syslog"
    assert result.stdout.splitlines() == [f"shipper {__version__}", kernels]
    assert wheel.name.startswith(f"shipper_agent-{__version__}-cp3")  # the kernels make it a platform wheel
    with zipfile.ZipFile(wheel) as archive:
        info = f"shipper_agent-{__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        assert f"{info}/licenses/LICENSE" in archive.namelist()
    assert "Name: shipper-agent" in metadata and "License-Expression: Apache-2.0" in metadata
