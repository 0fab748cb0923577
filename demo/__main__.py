"""`make demo`: sample application logs -> shipper -> console, in a scratch directory.

Writes a few log files (one of them rotated midway), runs the real agent on them with the shipped
example configuration, prints what it delivered, and stops it with SIGTERM as Kubernetes would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
SERVICES = ("checkout", "payments", "search")


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="shipper-demo-"))
    logs = scratch / "logs"
    logs.mkdir()
    env = {**os.environ, "DEMO_DIR": str(scratch)}
    for n, service in enumerate(SERVICES):
        with open(logs / f"{service}.log", "w") as f:
            for i in range(3 + n):
                f.write(f"{service} handled request {i} in {10 + i * 7} ms\n")
    output = scratch / "delivered.jsonl"
    with open(output, "wb") as stdout:
        agent = subprocess.Popen([sys.executable, "-m", "shipper", "run", "--config", str(HERE / "config.yaml")],
                                 stdout=stdout, env=env)
        time.sleep(1.5)
        (logs / "checkout.log").rename(logs / "checkout.log.1")  # logrotate's `create` mode
        with open(logs / "checkout.log", "w") as f:
            f.write("checkout started a new log file after rotation\n")
        time.sleep(1.5)
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
    print(f"\nshipper exited with {code}; records delivered from {logs}:\n")
    for line in output.read_bytes().splitlines():
        event = orjson.loads(line)
        print(f"  {Path(event['file']).name:<14} {event['message']}")
    print(f"\nscratch directory (spool and logs): {scratch}")
    return code


if __name__ == "__main__":
    sys.exit(main())
