#!/usr/bin/env bash
# Stop the LocalStack started by start.sh with the same STATE_DIR (or port).
set -euo pipefail
port="${SHIPPER_LOCALSTACK_PORT:-4566}"
state="${1:-${TMPDIR:-/tmp}/shipper-localstack-$port}"
pidfile="$state/localstack.pid"
[ -f "$pidfile" ] || { echo "no LocalStack pid file at $pidfile" >&2; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
