"""TLS options: a client's (the syslog and http sinks: which server to trust, and our certificate) and
a server's (the forward source: our certificate, and which clients to trust)."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import Field, model_validator

from shipper.config.base import Options, readable_file_problem

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class _TlsFiles(Options):
    """What client and server TLS options share: files to read, and a context made from them."""

    def context(self) -> ssl.SSLContext:
        raise NotImplementedError

    def environment_issues(self, key: str = "tls") -> list[tuple[str, str]]:
        """Files that cannot be read, or certificates and keys that cannot be loaded, under `key`."""
        issues = []
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            problem = readable_file_problem(path) if path else None
            if problem:
                issues.append((f"{key}.{name}", problem))
        if not issues:
            try:
                self.context()
            except (ssl.SSLError, ValueError) as error:
                issues.append((key, f"the certificates or key cannot be loaded: {error}"))
        return issues


class TlsOptions(_TlsFiles):
    ca_file: str | None = Field(None, description="CA bundle that signs the server's certificate; None = the system's.")
    cert_file: str | None = Field(None, description="Client certificate, for receivers that require mutual TLS.")
    key_file: str | None = Field(None, description="Key of the client certificate.")
    server_name: str | None = Field(None, description="Name to verify and send as SNI; by default the address host.")
    verify_certificate: bool = Field(True, description="Check the server's certificate chain against ca_file.")
    verify_hostname: bool = Field(True, description="Check that the certificate names the server.")
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version accepted.")

    @model_validator(mode="after")
    def _pairs(self) -> TlsOptions:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        if self.verify_hostname and not self.verify_certificate:
            raise ValueError("verify_hostname needs verify_certificate")
        return self

    def context(self) -> ssl.SSLContext:
        """A client context: ssl.SSLError or ValueError when the files cannot be loaded."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = TLS_VERSIONS[self.min_version]
        context.check_hostname = self.verify_hostname
        context.verify_mode = ssl.CERT_REQUIRED if self.verify_certificate else ssl.CERT_NONE
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


class ServerTlsOptions(_TlsFiles):
    cert_file: str = Field(description="The server's certificate (PEM), with its chain.")
    key_file: str = Field(description="Its key.")
    ca_file: str | None = Field(None, description="CA bundle of client certificates: set, clients must present one.")
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version accepted.")

    def context(self) -> ssl.SSLContext:
        """A server context: ssl.SSLError or ValueError when the files cannot be loaded."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = TLS_VERSIONS[self.min_version]
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.ca_file:
            context.load_verify_locations(self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context
