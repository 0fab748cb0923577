#!/usr/bin/env bash
# Install LocalStack into its own venv (it needs Python >= 3.13: it imports warnings.deprecated; the
# agent runs on 3.11).
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SHIPPER_LOCALSTACK_VENV:-$HOME/.cache/shipper/localstack-venv}"
version="2026.3.0"

find_python() {
  local candidate
  for candidate in python3.14 python3.13 \
      "$HOME"/.pyenv/versions/3.14*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
      /usr/bin/python3.14 /usr/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

# Kinesis runs on kinesis-mock, a Node.js program LocalStack installs from the npm registry (node and
# npm come from scripts/system-packages.sh); Firehose's provider imports kclpy-ext (the KCL's Python
# side, with its jars in the wheel).
extras() {
  "$venv/bin/pip" install --quiet -c "$here/constraints.txt" kclpy-ext
  # into the venv's own static libraries, which start.sh links into every state directory
  OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$venv/fs" "$venv/bin/python" -m localstack.cli.lpm install kinesis-mock >/dev/null
}

if [ -x "$venv/bin/python" ] &&
   "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('localstack-core') != '$version' or sys.version_info < (3, 13))" 2>/dev/null; then
  if ! "$venv/bin/python" -c "import amazon_kclpy" 2>/dev/null || [ ! -d "$venv/fs/usr/lib/localstack/kinesis-local" ]; then
    echo "adding kclpy-ext and kinesis-mock to localstack $version in $venv"
    extras
  fi
  echo "localstack $version already installed in $venv"
  exit 0
fi

python="$(find_python)" || {
  echo "error: LocalStack needs Python >= 3.13 and none was found (tried python3.14, python3.13, pyenv)." >&2
  echo "       install one (for example 'pyenv install 3.13') and run this script again." >&2
  exit 1
}
echo "installing localstack $version with $python into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -c "$here/constraints.txt" "localstack-core[base-runtime]==$version" moto-ext
extras
echo "localstack $version installed"
