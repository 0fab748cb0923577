#!/usr/bin/env bash
# Build the agent's OCI image without a container engine:  image/build.sh [OUTPUT_DIR]
#
# One image per CPU architecture in ARCHITECTURES (default: "amd64 arm64"), gathered in one OCI image
# index, so a node pulls the image of its own CPU by the same tag and digest. A foreign architecture's
# stages run under qemu-user (Debian's qemu-user-static) through binfmt_misc, registered here when the
# kernel has not got it yet.
#
# Per architecture, two Debian bookworm root filesystems made by mmdebstrap:
#   build stage  compilers and headers; downloads every locked dependency (hashes required) and builds
#                the wheels that have none on the index (systemd-python, shipper itself);
#   final stage  python3, libsystemd0, libstdc++6 (RE2) and CA certificates, no package manager; a venv in /opt/shipper
#                installed from those wheels only (no index), bytecode compiled with hashes, not mtimes.
# Each final root filesystem is one layer, packed with umoci into an OCI layout at OUTPUT_DIR/oci
# (tags VERSION-ARCH); the index of them all is tagged VERSION, and OUTPUT_DIR/digest holds its digest.
#
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) fixes every timestamp, so the same
# source tree and the same Debian archive state give the same digest. The Debian archive moves with
# point releases and security updates; to rebuild an exact image later, set MIRROR and SECURITY_MIRROR
# to snapshot.debian.org URLs of one moment.
set -euo pipefail
cd "$(dirname "$0")/.."

output="$(realpath -m "${1:-build/image}")"
mirror="${MIRROR:-http://deb.debian.org/debian}"
security_mirror="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
architectures=(${ARCHITECTURES:-amd64 arm64})
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' shipper/__init__.py)"
inputs=(pyproject.toml setup.py README.md LICENSE requirements.lock shipper image)
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  # The last commit's time; without git (an unpacked tarball), the newest input file's mtime.
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null)" ||
    SOURCE_DATE_EPOCH="$(find "${inputs[@]}" -name __pycache__ -prune -o -type f -printf '%T@\n' | sort -n | tail -1 | cut -d. -f1)"
fi
export SOURCE_DATE_EPOCH
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
if [[ "$(id -u)" != 0 ]]; then
  echo "image/build.sh: run as root (mmdebstrap's root mode and chroot); for example: sudo make image" >&2
  exit 1
fi

work="$output/work"
rm -rf "$output" && mkdir -p "$work/context/src" "$work/wheels"
cp -r pyproject.toml setup.py README.md LICENSE shipper "$work/context/src/"
find "$work/context/src" -name __pycache__ -prune -exec rm -rf {} +
cp requirements.lock image/build-requirements.lock image/stage-build.sh "$work/context/"
# The build stage downloads from the package index with this host's certificate authorities (an
# intercepting proxy's included).
cp "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "$work/context/ca.crt"
# The final stage installs systemd-python from the wheel built here, not from the locked sdist.
awk '/^[A-Za-z0-9]/ { skip = /^systemd-python==/ } !skip' requirements.lock > "$work/context/runtime-wheels.lock"

sources=(
  "deb $mirror bookworm main"
  "deb $mirror bookworm-updates main"
  "deb $security_mirror bookworm-security main"
)
# The chroots see a clean environment: this host's CA and pip variables name host paths.
build_env="PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH PIP_CERT=/build/ca.crt"
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
  [[ -n "${!name:-}" ]] && build_env+=" $name=$(printf %q "${!name}")"
done
# Manual pages, translations and documentation other than the copyright files stay out.
common=(--mode=root --variant=essential --aptopt='Acquire::Retries "3"' --quiet
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright')

# Lets this kernel run ARCH's programs (qemu-user through binfmt_misc), or says exactly what is missing.
emulate() {
  local arch="$1" cpu
  [[ "$arch" == "$(dpkg --print-architecture)" ]] && return 0
  case "$arch" in
    arm64) cpu=aarch64 ;;
    *) echo "image/build.sh: no emulation known for $arch (supported: amd64, arm64)" >&2; return 1 ;;
  esac
  local rule="/usr/lib/binfmt.d/qemu-$cpu.conf" misc=/proc/sys/fs/binfmt_misc
  if [[ ! -e "$rule" ]]; then
    echo "image/build.sh: building for $arch needs qemu-user-static ($rule): apt-get install qemu-user-static" >&2
    return 1
  fi
  mountpoint -q "$misc" || mount -t binfmt_misc binfmt_misc "$misc" || {
    echo "image/build.sh: building for $arch needs binfmt_misc, and mounting it on $misc failed" >&2; return 1; }
  # The rule's F flag opens the emulator now, so it also runs inside the chroots.
  [[ -e "$misc/qemu-$cpu" ]] || cat "$rule" > "$misc/register" || {
    echo "image/build.sh: registering qemu-$cpu with binfmt_misc failed" >&2; return 1; }
  [[ "$(head -1 "$misc/qemu-$cpu")" == enabled ]] || {
    echo "image/build.sh: binfmt_misc has qemu-$cpu disabled; enable it: echo 1 > $misc/qemu-$cpu" >&2; return 1; }
}

# The final root filesystem of ARCH in $work/rootfs-ARCH.tar.
root_filesystem() {
  local arch="$1"
  echo "image/build.sh: $arch build stage (wheels)" >&2
  rm -rf "$work/wheels" && mkdir -p "$work/wheels"
  mmdebstrap "${common[@]}" --architectures="$arch" \
    --include=python3,python3-venv,python3-dev,gcc,libc6-dev,pkg-config,libsystemd-dev,ca-certificates \
    --customize-hook='mkdir "$1/build"' --customize-hook="sync-in $work/context /build" \
    --customize-hook="chroot \"\$1\" env -i $build_env sh /build/stage-build.sh" \
    --customize-hook="sync-out /build/wheels $work/wheels" \
    bookworm /dev/null "${sources[@]}"

  echo "image/build.sh: $arch final stage (root filesystem)" >&2
  rm -rf "$work/context-final" && mkdir -p "$work/context-final"
  cp "$work/context/runtime-wheels.lock" image/stage-final.sh "$work/context-final/"
  cp -r "$work/wheels" "$work/context-final/"
  mmdebstrap "${common[@]}" --architectures="$arch" \
    --include=python3,libsystemd0,libstdc++6,ca-certificates \
    --customize-hook='mkdir "$1/build"' --customize-hook="sync-in $work/context-final /build" \
    --customize-hook='chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh /build/stage-final.sh' \
    bookworm "$work/rootfs-$arch.tar" "${sources[@]}"
}

# The image of ARCH, tagged VERSION-ARCH in the layout.
pack() {
  local arch="$1" tag="$layout:$version-$arch"
  umoci new --image "$tag"
  umoci raw add-layer --image "$tag" --history.created "$created" \
    --history.created_by "image/build.sh (mmdebstrap bookworm $arch, /opt/shipper venv)" "$work/rootfs-$arch.tar"
  umoci config --image "$tag" --created "$created" --history.created "$created" \
    --os linux --architecture "$arch" \
    --config.user 65534:65534 \
    --config.env PATH=/opt/shipper/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.entrypoint /opt/shipper/bin/shipper \
    --config.cmd run --config.cmd --config --config.cmd /etc/shipper/shipper.yaml \
    --config.label org.opencontainers.image.title=shipper \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    --config.label org.opencontainers.image.created="$created"
  rm "$work/rootfs-$arch.tar"
}

for arch in "${architectures[@]}"; do emulate "$arch"; done
layout="$output/oci"
umoci init --layout "$layout"
for arch in "${architectures[@]}"; do
  root_filesystem "$arch"
  echo "image/build.sh: packing $arch" >&2
  pack "$arch"
done
rm -rf "$work"
digest="$(python3 image/index.py "$layout" "$version" "${architectures[@]}")"
echo "$digest" > "$output/digest"
echo "image/build.sh: $layout:$version $digest (${architectures[*]})" >&2
