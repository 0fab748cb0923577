#!/usr/bin/env bash
# Prove the README's two commands on a fresh machine: a new Debian bookworm root filesystem with only
# python3 and make, a clone of this checkout's HEAD inside, then `make demo` and `make test` in it.
#   sudo scripts/fresh-machine.sh [WORK_DIR]        (about 20 minutes; the log is WORK_DIR/run.log)
# What a machine of this kind has besides Debian comes along: pyenv's Pythons (LocalStack needs >= 3.13),
# the certificate authorities in /usr/local/share/ca-certificates (a proxy's), /etc/hosts.
# It shares this machine's network: stop anything on port 4566 first.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(realpath -m "${1:-/tmp/shipper-fresh}")/rootfs"
[[ "$(id -u)" == 0 ]] || { echo "run as root (mmdebstrap, chroot, mounts)" >&2; exit 1; }
rm -rf "$root" && mkdir -p "$(dirname "$root")"
mmdebstrap --quiet --variant=minbase --include=python3,make,ca-certificates,libreadline8,libncursesw6 \
  bookworm "$root" "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
echo fresh > "$root/etc/hostname"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$root" update-ca-certificates >/dev/null 2>&1
if [[ -d "$HOME/.pyenv/versions" ]]; then
  mkdir -p "$root/root/.pyenv/versions" && cp -a "$HOME"/.pyenv/versions/3.1[2-9]* "$root/root/.pyenv/versions/"
fi
git clone -q . "$root/root/shipper"
log="$(dirname "$root")/run.log"
echo "fresh machine at $root; make demo, then make test (log: $log)"
unshare --mount --pid --fork --propagation private bash -c '
  root="$1"
  mount --bind "$root" "$root"  # the root is a mount point, as / is on a machine (unshare -m needs it)
  mount -t proc proc "$root/proc"; mount --rbind /sys "$root/sys"; mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"; mount -t tmpfs tmpfs "$root/run"
  chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=xterm PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    bash -c "cd /root/shipper && make demo && make test"
' _ "$root" > "$log" 2>&1 && echo "make demo and make test passed" || { tail -30 "$log"; exit 1; }
