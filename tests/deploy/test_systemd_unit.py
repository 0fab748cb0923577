"""The EC2 systemd unit: `systemd-analyze verify` is silent and the hardening scores at most 3.0."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "shipper.service"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def installed_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable that exists here (verify checks it)."""
    unit = tmp_path / "shipper.service"
    unit.write_text(UNIT.read_text().replace("/opt/shipper/bin/shipper", sys.executable))
    return unit


def test_systemd_analyze_verify_prints_nothing(tmp_path):
    result = subprocess.run([ANALYZE, "verify", str(installed_copy(tmp_path))], capture_output=True, text=True)

    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_hardening_scores_at_most_3(tmp_path):
    result = subprocess.run([ANALYZE, "security", "--offline=true", str(installed_copy(tmp_path))],
                            capture_output=True, text=True)

    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)[1])
    assert score <= 3.0, result.stdout


def test_the_stop_timeout_outlives_the_shutdown_timeout_of_the_ec2_config():
    config = yaml.safe_load((ROOT / "deploy" / "ec2" / "shipper.yaml").read_text())
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", UNIT.read_text(), re.M)[1])

    assert stop > int(config["shutdown_timeout"].rstrip("s")) + 5
    assert "StateDirectory=shipper" in UNIT.read_text() and config["data_dir"] == "/var/lib/shipper"
