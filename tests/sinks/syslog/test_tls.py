"""The syslog sink's TLS against a real rsyslog: a handshake that fails for a reason no retry fixes
(the server offers only TLS 1.2, the sink wants 1.3) is a HandshakeError, which makes the sink not
ready, not a passing connection fault."""

from __future__ import annotations

import pytest

from peers.pki import CertificateAuthority
from peers.rsyslog import Rsyslog
from shipper.sinks.syslog.config import SyslogOptions as Options
from shipper.sinks.syslog.transport import HANDSHAKE_RESETS, Connection, HandshakeError, TransportError

TLS_1_2_ONLY = "NORMAL:-VERS-TLS1.3"


@pytest.fixture
def tls12_server(tmp_path):
    ca = CertificateAuthority(tmp_path / "pki")
    server = Rsyslog(tmp_path / "rsyslog", ca, ca.issue("server"), gnutls_priority=TLS_1_2_ONLY).start()
    yield server, ca
    server.stop()


def options(port: int, ca: CertificateAuthority, min_version: str) -> Options:
    return Options.model_validate({"type": "syslog", "inputs": ["app"], "address": f"localhost:{port}",
                                   "tls": {"ca_file": str(ca.ca_file), "min_version": min_version}})


async def test_a_server_that_cuts_every_handshake_below_min_version_is_a_handshake_error_not_a_blip(tls12_server):
    server, ca = tls12_server
    connection = Connection(options(server.port, ca, "1.3"))

    for _ in range(HANDSHAKE_RESETS - 1):  # a cut handshake alone may be a server restarting
        with pytest.raises(TransportError) as first:
            await connection.open()
        assert not isinstance(first.value, HandshakeError)
    with pytest.raises(HandshakeError, match="cut by the server 3 times in a row"):
        await connection.open()


async def test_a_server_at_min_version_connects(tls12_server):
    server, ca = tls12_server
    connection = Connection(options(server.port, ca, "1.2"))

    await connection.open()

    assert connection.usable
    await connection.close()
