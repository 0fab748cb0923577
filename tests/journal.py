"""Real journal files for tests: entries in journal export format, written by systemd-journal-remote."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

JOURNAL_REMOTE = shutil.which("systemd-journal-remote") or "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"
T0_US = 1795342500_000000


def export_entry(seq: int, fields: dict[str, str | bytes], realtime_us: int | None = None) -> bytes:
    """One entry in export format; a value with a newline or non-UTF-8 bytes is written as binary."""
    realtime = realtime_us if realtime_us is not None else T0_US + seq
    out = [f"__CURSOR=s=0;i={seq}\n__REALTIME_TIMESTAMP={realtime}\n__MONOTONIC_TIMESTAMP={seq}\n"
           f"_BOOT_ID={BOOT_ID}\n".encode()]
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode()
        if b"\n" in raw or isinstance(value, bytes):
            out.append(name.encode() + b"\n" + struct.pack("<Q", len(raw)) + raw + b"\n")
        else:
            out.append(name.encode() + b"=" + raw + b"\n")
    return b"".join(out) + b"\n"


def write_journal(path: Path, entries: list[bytes]) -> None:
    """Append the entries to the journal file at `path` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([JOURNAL_REMOTE, f"--output={path}", "-"], input=b"".join(entries), check=True,
                   capture_output=True)


def entry(seq: int, message: str | bytes, unit: str = "kubelet.service", priority: int = 6,
          identifier: str = "kubelet", realtime_us: int | None = None, **extra: str) -> bytes:
    return export_entry(seq, {"MESSAGE": message, "PRIORITY": str(priority), "_SYSTEMD_UNIT": unit,
                              "SYSLOG_IDENTIFIER": identifier, "_PID": "42", "_HOSTNAME": "node-1", **extra},
                        realtime_us)
