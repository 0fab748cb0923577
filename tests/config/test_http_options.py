"""http sink options are checked when the configuration loads; credentials never appear in an error."""

from __future__ import annotations

import pytest

from shipper.components import parse_config
from shipper.config.errors import ConfigError

BASE = """\
sources:
  app: {type: file, include: [/var/log/app/*.log]}
sinks:
  collector:
    type: http
    inputs: [app]
"""


def load(extra: str, environ: dict[str, str] | None = None):
    return parse_config(BASE + extra, "shipper.yaml", environ or {}).sinks["collector"]


def errors(extra: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load(extra, environ)
    return raised.value.render()


def test_a_valid_sink_loads_with_safe_defaults():
    sink = load("    uri: https://collector.example/logs\n")

    assert (sink.encoding, sink.compression, sink.method) == ("ndjson", "none", "post")
    assert sink.tls.verify_certificate and sink.tls.verify_hostname
    assert (sink.max_batch_events, sink.max_batch_bytes, sink.max_requests_in_flight) == (1000, 1024 * 1024, 4)


@pytest.mark.parametrize(("uri", "reason"), [
    ("ftp://collector.example/", "must be an http:// or https:// URI with a host"),
    ("https:///logs", "must be an http:// or https:// URI with a host"),
    ("https://user:pw@collector.example/", "credentials in the URI would show in logs: give them in `auth`"),
])
def test_a_uri_that_cannot_be_used_is_refused_with_the_reason(uri, reason):
    assert f"sinks.collector.uri: {reason}" in errors(f"    uri: {uri}\n")


def test_auth_must_be_complete_for_its_strategy():
    assert "basic auth takes user and password" in errors(
        "    uri: https://c.example/\n    auth: {strategy: basic, user: shipper}\n")
    assert "bearer auth takes a token" in errors("    uri: https://c.example/\n    auth: {strategy: bearer}\n")


def test_a_header_that_would_break_the_request_or_that_the_sink_sets_is_refused():
    assert "holds a line break" in errors('    uri: https://c.example/\n    headers: {X-Key: "a\\r\\nX-Evil: 1"}\n')
    assert "Content-Length is set by the sink itself" in errors(
        "    uri: https://c.example/\n    headers: {Content-Length: '1'}\n")
    assert "not both" in errors("    uri: https://c.example/\n    headers: {Authorization: Bearer x}\n"
                                "    auth: {strategy: bearer, token: y}\n")


def test_credentials_from_the_environment_are_never_echoed_in_an_error_nor_in_the_options():
    environ = {"TOKEN": "s3cr3t-token"}
    sink = load("    uri: https://c.example/\n    auth: {strategy: bearer, token: '${TOKEN}'}\n", environ)
    assert "s3cr3t" not in repr(sink) and sink.auth.token.get_secret_value() == "s3cr3t-token"

    text = errors("    uri: https://c.example/\n    auth: {strategy: basic, user: u, password: 123456789}\n"
                  "    headers: {X-Key: [987654321]}\n")

    assert "123456789" not in text and "987654321" not in text
    assert "sinks.collector.auth.password" in text and "sinks.collector.headers.X-Key" in text


@pytest.mark.parametrize("credentials", [
    "    auth: {strategy: bearer, token: t0ken}\n", "    headers: {X-Api-Key: k3y}\n",
    "    headers: {Authorization: Basic eDp5}\n"])
def test_credentials_to_a_remote_plain_http_uri_are_refused_unless_allowed(credentials):
    assert "would travel in plain text to http://collector.example/logs: use https://, or set allow_insecure" in (
        errors("    uri: http://collector.example/logs\n" + credentials))
    assert load("    uri: http://collector.example/logs\n    allow_insecure: true\n" + credentials)
    assert load("    uri: http://127.0.0.1:8080/logs\n" + credentials)  # on this host
    assert load("    uri: https://collector.example/logs\n" + credentials)
    assert load("    uri: http://collector.example/logs\n    headers: {X-Team: a}\n")  # no credentials
