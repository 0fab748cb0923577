# Runs inside the final stage's chroot: the agent's venv in /opt/shipper, from /build/wheels only.
set -eu
python3 -m venv --without-pip /opt/shipper
pip="/opt/shipper/bin/python $(echo /build/wheels/pip-*.whl)/pip"
options="--quiet --no-cache-dir --disable-pip-version-check --no-index --no-compile --find-links /build/wheels"
$pip install $options --require-hashes -r /build/runtime-wheels.lock
$pip install $options --no-deps systemd-python shipper-agent
# Bytecode validated by source hash, not mtime: reproducible, and the read-only root never needs a write.
# -f: also rewrites the timestamped bytecode an import during the install may have left.
PYTHONHASHSEED=0 /opt/shipper/bin/python -m compileall -q -f --invalidation-mode unchecked-hash /opt/shipper/lib
rm -rf /build
