"""The opentelemetry sink's options: where requests go, and what is refused before anything starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shipper.sinks.opentelemetry.config import OpenTelemetryOptions


def options(**given) -> OpenTelemetryOptions:
    return OpenTelemetryOptions.model_validate({"type": "opentelemetry", "inputs": ["app"], **given})


def test_requests_go_to_the_endpoints_v1_logs_as_otel_exporter_otlp_endpoint_works():
    assert options(endpoint="https://collector.example:4318").request_uri == "https://collector.example:4318/v1/logs"
    assert options(endpoint="http://127.0.0.1:4318/otlp/").request_uri == "http://127.0.0.1:4318/otlp/v1/logs"


@pytest.mark.parametrize(("given", "reason"), [
    ({"endpoint": "collector:4318"}, "must be an http:// or https:// URI with a host"),
    ({"endpoint": "https://user:pw@collector.example:4318"}, "credentials in the URI"),
    ({"endpoint": "https://collector.example:4318?key=1"}, "no query or fragment"),
    ({"endpoint": "http://collector.example:4318", "headers": {"Authorization": "Bearer x"}}, "plain text"),
    ({"endpoint": "https://collector.example:4318", "layout": "fluent_bit"}, "always writes OpenTelemetry's names"),
    ({"endpoint": "https://collector.example:4318", "encoding": "thrift"}, "'protobuf' or 'json'"),
])
def test_what_cannot_work_is_refused_with_its_reason(given, reason):
    with pytest.raises(ValidationError, match=reason):
        options(**given)
