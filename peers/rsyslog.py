"""A real rsyslog receiving RFC 5425 syslog over TLS (imtcp with the gtls driver) on loopback.

Every message is written to `received.jsonl` as a JSON string of rsyslog's raw message (the
syslog message without its framing), so tests can parse it with their own strict RFC 5424 parser
and compare it byte for byte. The main queue is direct: a message is written as it is received, so a
restart never discards messages rsyslog had taken (its in-memory queue would, after 1.5 s), which
would make the reliability run measure rsyslog's shutdown, not the agent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from peers.pki import CertificateAuthority, Issued

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Rsyslog:
    def __init__(self, directory: Path, ca: CertificateAuthority, server: Issued, port: int | None = None,
                 mode: str = "tls", gnutls_priority: str | None = None):
        """`gnutls_priority` limits what the TLS server offers, e.g. "NORMAL:-VERS-TLS1.3" (TLS 1.2 only)."""
        self.gnutls_priority = gnutls_priority
        self.directory = directory
        self.port = port or free_port()
        self.output = directory / "received.jsonl"
        self.process: subprocess.Popen | None = None
        (directory / "work").mkdir(parents=True, exist_ok=True)
        self.config = directory / "rsyslog.conf"
        self.config.write_text(self._config(ca, server, mode))

    def _config(self, ca: CertificateAuthority, server: Issued, mode: str) -> str:
        driver = 'StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"' if mode == "tls" else ""
        if self.gnutls_priority:
            driver += f' gnutlsPriorityString="{self.gnutls_priority}"'
        return f"""
global(workDirectory="{self.directory / 'work'}" maxMessageSize="1m"
       parser.escapeControlCharactersOnReceive="off"
       defaultNetstreamDriverCAFile="{ca.ca_file}"
       defaultNetstreamDriverCertFile="{server.cert_file}"
       defaultNetstreamDriverKeyFile="{server.key_file}")
main_queue(queue.type="Direct")
module(load="imtcp" {driver} maxSessions="200")
input(type="imtcp" address="127.0.0.1" port="{self.port}")
template(name="raw" type="list") {{
  constant(value="\\"") property(name="rawmsg" format="json") constant(value="\\"\\n")
}}
action(type="omfile" file="{self.output}" template="raw" flushOnTXEnd="on" asyncWriting="off")
"""

    def start(self) -> Rsyslog:
        log = open(self.directory / "rsyslogd.log", "ab")  # noqa: SIM115 - kept by the child
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.directory / "rsyslogd.pid")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {(self.directory / 'rsyslogd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rsyslogd did not listen within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        (self.directory / "rsyslogd.pid").unlink(missing_ok=True)

    def messages(self) -> list[str]:
        """Raw messages received so far (a line still being written is left for the next call)."""
        if not self.output.exists():
            return []
        data = self.output.read_bytes()
        lines = data.split(b"\n")[:-1]  # only LF ends a line: str.splitlines() also cuts at U+2028, \x1c, \x85 ...
        return [json.loads(line.decode("utf-8", "surrogateescape")) for line in lines]

    def __del__(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
