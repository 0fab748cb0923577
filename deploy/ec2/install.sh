#!/usr/bin/env bash
# Install shipper as a systemd service on an EC2 host (Debian/Ubuntu or Amazon Linux, run as root):
#   sudo deploy/ec2/install.sh dist/shipper_agent-<version>-py3-none-any.whl [us-east-1]
set -euo pipefail
wheel=${1:?usage: install.sh WHEEL [REGION]}
region=${2:-${AWS_REGION:-us-east-1}}
here=$(cd "$(dirname "$0")" && pwd)

if command -v apt-get >/dev/null; then
  apt-get install -y -q python3-venv libsystemd-dev pkg-config gcc python3-dev
elif command -v dnf >/dev/null; then
  dnf install -y -q python3 systemd-devel pkgconf-pkg-config gcc python3-devel
fi
python3 -m venv /opt/shipper
/opt/shipper/bin/pip install --quiet --upgrade pip
/opt/shipper/bin/pip install --quiet "${wheel}[journald]"

install -d -m 0755 /etc/shipper
[ -f /etc/shipper/shipper.yaml ] || install -m 0644 "$here/shipper.yaml" /etc/shipper/shipper.yaml
[ -f /etc/shipper/env ] || printf 'AWS_REGION=%s\nENVIRONMENT=prod\n' "$region" > /etc/shipper/env
/opt/shipper/bin/shipper check --config /etc/shipper/shipper.yaml
install -m 0644 "$here/../systemd/shipper.service" /etc/systemd/system/shipper.service
systemctl daemon-reload
systemctl enable --now shipper
systemctl --no-pager status shipper
