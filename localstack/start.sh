#!/usr/bin/env bash
# Start LocalStack on the host (no Docker) and wait until it is ready.
#   localstack/start.sh [STATE_DIR]   -> prints the endpoint URL on stdout
# Environment: SHIPPER_LOCALSTACK_PORT (default 4566), SHIPPER_LOCALSTACK_VENV, SHIPPER_LOCALSTACK_SERVICES
# (default: the services the tests use; each starts on its first request).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SHIPPER_LOCALSTACK_VENV:-$HOME/.cache/shipper/localstack-venv}"
port="${SHIPPER_LOCALSTACK_PORT:-4566}"
state="${1:-${TMPDIR:-/tmp}/shipper-localstack-$port}"
endpoint="http://127.0.0.1:$port"

bash "$here/install.sh" >&2
mkdir -p "$state/fs/usr/lib" "$state/cache"
ln -sfn "$venv/fs/usr/lib/localstack" "$state/fs/usr/lib/localstack"  # kinesis-mock, installed once
pidfile="$state/localstack.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "error: LocalStack already running with pid $(cat "$pidfile") (state $state)" >&2
  exit 1
fi

# Another LocalStack on the port (a second test session) would answer the readiness check below, and
# this session's tests would then fail when that one stops: refuse instead, naming the way out.
if ! "$venv/bin/python" - "$port" 2>/dev/null <<'PY'; then
import socket, sys
with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free; a listener not
    probe.bind(("127.0.0.1", int(sys.argv[1])))
PY
  echo "error: port $port is taken (another LocalStack?); stop it, or set SHIPPER_LOCALSTACK_PORT" >&2
  exit 1
fi

OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$state/fs" XDG_CACHE_HOME="$state/cache" \
SERVICES=${SHIPPER_LOCALSTACK_SERVICES:-logs,iam,sts,firehose,s3,kinesis,kms} GATEWAY_LISTEN="127.0.0.1:$port" DNS_ADDRESS=0 \
S3_SKIP_KMS_KEY_VALIDATION=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 LOCALSTACK_TELEMETRY_DISABLED=1 \
  setsid "$venv/bin/python" -m localstack.runtime.main >"$state/localstack.log" 2>&1 </dev/null &
echo $! >"$pidfile"

for _ in $(seq 1 600); do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "error: LocalStack exited during start-up; its log follows" >&2
    tail -n 50 "$state/localstack.log" >&2
    exit 1
  fi
  if "$venv/bin/python" - "$endpoint" <<'PY' 2>/dev/null; then
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_localstack/init/ready", timeout=1) as r:
    sys.exit(0 if json.load(r).get("completed") else 1)
PY
    echo "$endpoint"
    exit 0
  fi
  sleep 0.1
done
echo "error: LocalStack not ready after 60 s; log: $state/localstack.log" >&2
exit 1
