# Runs inside the build stage's chroot: every wheel the image installs, into /build/wheels.
set -eu
python3 -m venv /build/venv
pip="/build/venv/bin/pip --quiet --no-cache-dir --disable-pip-version-check"
$pip install --require-hashes -r /build/build-requirements.lock
# Every locked dependency, its hash checked; systemd-python has no wheel and is built from its sdist.
# -g0: no debug information, whose build paths are random, so the same sources give the same binary.
CFLAGS=-g0 $pip wheel --no-build-isolation --use-pep517 --require-hashes -r /build/requirements.lock \
  -w /build/wheels
# The agent with its compiled kernels (setup.py; gcc and the headers are in this stage), -g0 as above.
CFLAGS=-g0 $pip wheel --no-build-isolation --no-deps -w /build/wheels /build/src
# The final stage installs with Debian's own pip wheel, run from the wheel and left out of the image.
cp /usr/share/python-wheels/pip-*.whl /build/wheels/
