"""`make demo`: Kubernetes container logs -> shipper -> CloudWatch Logs (LocalStack on this host).

Starts LocalStack, writes CRI logs for a few pods the way kubelet lays them out (one rotated
midway, one line split into P/F fragments), runs the real agent with demo/config.yaml, prints what
arrived in CloudWatch grouped by log group and stream, then stops the agent (SIGTERM) and LocalStack.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PODS = (("shop", "checkout-7d9f", "app"), ("shop", "payments-5c2a", "app"), ("search", "indexer-0", "worker"))


def cri(stream: str, tag: str, text: str) -> str:
    now = time.time_ns()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"
    return f"{stamp} {stream} {tag} {text}\n"


def make_pod(root: Path, namespace: str, pod: str, container: str, n: int) -> Path:
    uid = f"0000000{n}-1111-2222-3333-444444444444"
    pod_dir = root / "var/log/pods" / f"{namespace}_{pod}_{uid}" / container
    pod_dir.mkdir(parents=True)
    links = root / "var/log/containers"
    links.mkdir(parents=True, exist_ok=True)
    os.symlink(pod_dir / "0.log", links / f"{pod}_{namespace}_{container}-{str(n) * 64}.log")
    return pod_dir / "0.log"


def write_logs(root: Path) -> int:
    written = 0
    for n, (namespace, pod, container) in enumerate(PODS):
        log = make_pod(root, namespace, pod, container, n)
        with open(log, "w") as f:
            for i in range(4):
                f.write(cri("stdout", "F", f"{pod} handled request {i} in {10 + 7 * i} ms"))
                written += 1
            f.write(cri("stderr", "P", f"{pod} warning: a long line the runtime split ") +
                    cri("stderr", "F", "into two fragments, joined again by shipper"))
            written += 1
    return written


def rotate_like_kubelet(root: Path) -> int:
    log = next((root / "var/log/pods").glob("shop_checkout-7d9f_*/app/0.log"))
    log.rename(log.with_name(f"0.log.{time.strftime('%Y%m%d-%H%M%S')}"))
    with open(log, "w") as f:
        f.write(cri("stdout", "F", "checkout-7d9f wrote this after kubelet rotated its log"))
    return 1


def show(client, prefix: str) -> int:
    total = 0
    for group in client.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]:
        name = group["logGroupName"]
        print(f"\n{name}   (retention {group.get('retentionInDays')} days)")
        for stream in client.describe_log_streams(logGroupName=name)["logStreams"]:
            print(f"  {stream['logStreamName']}")
            events = client.get_log_events(logGroupName=name, logStreamName=stream["logStreamName"],
                                           startFromHead=True)["events"]
            for event in events:
                print(f"    {event['message']}")
            total += len(events)
    return total


def count(client, prefix: str) -> int:
    total = 0
    for group in client.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]:
        for stream in client.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]:
            total += len(client.get_log_events(logGroupName=group["logGroupName"],
                                               logStreamName=stream["logStreamName"], startFromHead=True)["events"])
    return total


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="shipper-demo-"))
    state = scratch / "localstack"
    print("starting LocalStack (installed on first use; that takes a few minutes once) ...", flush=True)
    endpoint = subprocess.run(["bash", str(ROOT / "localstack/start.sh"), str(state)], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip()
    cluster = f"demo-{int(time.time())}"
    env = {**os.environ, "DEMO_DIR": str(scratch), "AWS_ENDPOINT_URL": endpoint, "CLUSTER_NAME": cluster,
           "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_REGION": "us-east-1"}
    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="demo", aws_secret_access_key="demo")
    prefix = f"/eks/{cluster}/"
    try:
        expected = write_logs(scratch)
        agent = subprocess.Popen([sys.executable, "-m", "shipper", "run", "--config", str(HERE / "config.yaml")],
                                 env=env, stdout=subprocess.DEVNULL)
        time.sleep(2)
        expected += rotate_like_kubelet(scratch)
        deadline = time.monotonic() + 60
        while count(client, prefix) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
        print(f"\nshipper exited with {code} after SIGTERM. What arrived in CloudWatch Logs ({endpoint}):")
        arrived = show(client, prefix)
        print(f"\n{arrived} of {expected} records arrived. Scratch directory: {scratch}")
        return code if arrived == expected else 1
    finally:
        subprocess.run(["bash", str(ROOT / "localstack/stop.sh"), str(state)], check=False)


if __name__ == "__main__":
    sys.exit(main())
