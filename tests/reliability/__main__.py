"""The long reliability run, for before a release:

    python -m tests.reliability --minutes 15 [--seed N] [--keep DIR]

It starts its own LocalStack (installed on first use) and rsyslog, needs root (a tmpfs for the
data dir), prints the plan as it runs and the verdict at the end, and exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.reliability.faults import LONG
from tests.reliability.run import ReliabilityRun

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=LONG.duration / 60, help="how long faults go on")
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000), help="replays a plan")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (logs, spool)")
    args = parser.parse_args()
    scale = args.minutes * 60 / LONG.duration
    profile = dataclasses.replace(LONG, duration=args.minutes * 60, kills=max(20, round(LONG.kills * scale)),
                                  terms=max(2, round(LONG.terms * scale)))
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="shipper-reliability-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    port = os.environ.get("SHIPPER_LOCALSTACK_PORT", "4566")
    state = workdir / "localstack"
    env = {**os.environ, "SHIPPER_LOCALSTACK_PORT": port}
    endpoint = subprocess.run(["bash", str(ROOT / "localstack" / "start.sh"), str(state)], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
    print(f"reliability seed {args.seed}, {args.minutes:g} minutes of faults, in {workdir}", flush=True)
    try:
        report = ReliabilityRun(workdir / "run", args.seed, profile, endpoint).execute()
    finally:
        subprocess.run(["bash", str(ROOT / "localstack" / "stop.sh"), str(state)], env=env)
    print("\n".join(report.steps))
    print(report.render())
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
