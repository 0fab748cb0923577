"""One persistent TCP or TLS connection to the receiver.

A write returns once the transport's buffer is below its high-water mark; `handed_over` tells whether
the bytes up to a point of the connection's stream have left it for the kernel (a high-water mark of 0
would be simpler, but stalls asyncio's TLS transport for good). Before each write the connection is
checked: a close or reset the server sent is seen here (remote_syslog2 #176), and a connection idle
for long is replaced, because load balancers drop idle connections without a word and writes into
them vanish.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time

from shipper.sinks.syslog.config import SyslogOptions


class TransportError(Exception):
    """The connection failed or could not be made; what was not acknowledged is sent again."""


class HandshakeError(TransportError):
    """The TLS handshake failed for a reason no retry fixes until the config or the server changes (no
    common protocol version or cipher, a certificate refused): the sink is not ready."""


class CertificateError(HandshakeError):
    """The server's certificate failed verification."""


_CONNECTION_LOST = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)  # a reset, not a refusal
HANDSHAKE_RESETS = 3  # handshakes in a row that the server cuts (TCP fine): it refuses our TLS, say so


def tls_context(options: SyslogOptions) -> ssl.SSLContext | None:
    return options.tls.context() if options.mode == "tls" else None


class Connection:
    def __init__(self, options: SyslogOptions):
        self.options = options
        self.context = tls_context(options)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_write = 0.0
        self.written = 0  # bytes written on this connection
        self._handshakes_cut = 0  # handshakes in a row the server cut after accepting the TCP connection

    @property
    def usable(self) -> bool:
        """Open, not closed or reset by the server, and not idle past `idle_reconnect`."""
        if self._writer is None or self._reader is None:
            return False
        if self._writer.transport.is_closing() or self._reader.at_eof() or self._reader.exception() is not None:
            return False
        return time.monotonic() - self._last_write < self.options.idle_reconnect

    def handed_over(self, offset: int) -> bool:
        """Whether the first `offset` bytes written on this connection have left its buffer for the kernel."""
        if self._writer is None:
            return False
        return self.written - self._writer.transport.get_write_buffer_size() >= offset

    async def open(self) -> None:
        await self.close()
        options = self.options
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(options.host, options.port), options.connect_timeout)
        except (OSError, TimeoutError) as error:
            raise TransportError(f"cannot connect to {options.address}: {error or type(error).__name__}") from error
        if self.context is not None:
            await self._handshake()
        assert self._writer is not None  # connected just above
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._last_write = time.monotonic()
        self.written = 0

    async def _handshake(self) -> None:
        """TLS on the connected socket. A refusal (a certificate, no common version or cipher) is a
        HandshakeError; servers often cut the connection instead of saying why, so a handshake cut
        HANDSHAKE_RESETS times in a row after TCP succeeded is taken as one too."""
        assert self._writer is not None and self.context is not None
        options = self.options
        try:
            await asyncio.wait_for(self._writer.start_tls(
                self.context, server_hostname=options.tls.server_name or options.host), options.connect_timeout)
        except ssl.SSLCertVerificationError as error:
            await self.close()
            raise CertificateError(f"certificate of {options.address} failed verification: "
                                   f"{error.verify_message or error.reason}") from error
        except ssl.SSLError as error:
            await self.close()
            if not isinstance(error, _CONNECTION_LOST):
                raise HandshakeError(f"TLS handshake with {options.address} failed: {error.reason or error}") from error
            self._cut(error)
        except (OSError, TimeoutError) as error:
            await self.close()
            self._cut(error)
        self._handshakes_cut = 0

    def _cut(self, error: BaseException) -> None:
        self._handshakes_cut += 1
        if self._handshakes_cut >= HANDSHAKE_RESETS:
            raise HandshakeError(
                f"TLS handshake with {self.options.address} cut by the server {self._handshakes_cut} times in a row "
                f"(does it accept TLS {self.options.tls.min_version} or later, and our certificate?)") from error
        raise TransportError(f"TLS handshake with {self.options.address} cut: {error or type(error).__name__}") \
            from error

    async def write(self, data: bytes) -> None:
        if self._writer is None:
            raise TransportError("not connected")
        try:
            self._writer.write(data)
            self.written += len(data)
            await asyncio.wait_for(self._writer.drain(), self.options.write_timeout)
        except (OSError, TimeoutError, RuntimeError) as error:
            raise TransportError(f"write to {self.options.address} failed: {error or type(error).__name__}") from error
        self._last_write = time.monotonic()

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):  # a broken connection: nothing to save
                await asyncio.wait_for(writer.wait_closed(), 2)
