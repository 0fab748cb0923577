#!/usr/bin/env bash
# Make sure the Debian packages a make target needs are installed.
#   scripts/system-packages.sh demo|test|image
# As root, missing packages are installed with apt-get; otherwise one line names the exact command
# to run, and the script exits 1. Nothing is done when everything is already there.
set -euo pipefail
target="${1:?usage: $0 demo|test}"

# "package check" pairs: the check is a path that must exist, dpkg:NAME (installed per dpkg), or a
# command that must be on PATH.
demo_needs=(
  "python3-venv python3-venv"      # python3 -m venv (Debian splits ensurepip out of python3)
  "make make"
)
image_needs=(
  "mmdebstrap mmdebstrap"            # the image's Debian root filesystems
  "umoci umoci"                      # packs them as an OCI image
  "qemu-user-static /usr/lib/binfmt.d/qemu-aarch64.conf"   # runs the arm64 stages on another CPU,
  "arch-test arch-test"              # which mmdebstrap checks with it
)
test_needs=(
  "${demo_needs[@]}"
  "${image_needs[@]}"                # a test builds the image,
  "skopeo skopeo"                    # publishes it as docs/operations.md says
  "docker-registry docker-registry"  # to a real registry on loopback
  "gcc gcc"                          # systemd-python (the journald extra) is built from source,
  "python3-dev dpkg:python3-dev"     # against Python's headers
  "pkg-config pkg-config"
  "libsystemd-dev dpkg:libsystemd-dev"
  "systemd-journal-remote /lib/systemd/systemd-journal-remote"   # writes real journal files in tests
  "logrotate /usr/sbin/logrotate"
  "rsyslog /usr/sbin/rsyslogd"       # the TLS syslog receiver of the tests
  "rsyslog-gnutls dpkg:rsyslog-gnutls"
  "tmux tmux"                        # shipper status drawn in a real terminal
  "prometheus promtool"              # promtool checks and unit-tests the alert rules (manifests/monitoring)
  "systemd systemd-analyze"          # verifies and scores the EC2 unit,
  "procps /bin/kill"                 # whose ExecReload it checks exists (minimal systems lack it)
  "nodejs node"                      # the Fluentd project's Node.js client drives the forward source's tests
  "npm npm"                          #   (and node prints real stack traces for multiline's exceptions mode,
  "openjdk-17-jdk-headless javac"    #   as java, which runs a one-file program with the JDK's compiler,
  "golang-go go"                     #   and go do: tests/sources/test_exceptions.py)
)

has() {
  local package="$1" check="$2"
  case "$check" in
    python3-venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 ;;
    dpkg:*) dpkg -s "${check#dpkg:}" >/dev/null 2>&1 ;;
    /*) [ -e "$check" ] ;;
    *) command -v "$check" >/dev/null 2>&1 ;;
  esac
}

case "$target" in
  demo) needs=("${demo_needs[@]}") ;;
  test) needs=("${test_needs[@]}") ;;
  image) needs=("${image_needs[@]}") ;;
  *) echo "usage: $0 demo|test|image" >&2; exit 2 ;;
esac

missing=()
for need in "${needs[@]}"; do
  read -r package check <<<"$need"
  has "$package" "$check" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: 'make $target' needs these Debian packages, and this machine has no apt-get: ${missing[*]}" >&2
  echo "       install their equivalents with your package manager, then run 'make $target' again." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: 'make $target' needs packages that are not installed. Run:" >&2
  echo "       sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages for 'make $target': ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
