"""cloudwatch_logs options are checked when the configuration loads, with the key and the reason."""

from __future__ import annotations

import pytest

from shipper.components import parse_config
from shipper.config.errors import ConfigError

BASE = """\
sources:
  pods: {type: kubernetes_logs}
sinks:
  cw:
    type: cloudwatch_logs
    inputs: [pods]
    group_name: /eks/{kubernetes.namespace}
    stream_name: "{kubernetes.pod_name}"
"""


def errors(extra: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + extra, "shipper.yaml", {})
    return raised.value.render()


def test_a_valid_sink_loads_with_safe_defaults():
    sink = parse_config(BASE, "shipper.yaml", {}).sinks["cw"]

    assert (sink.create_missing_group, sink.create_missing_stream, sink.max_event_size) == (False, True, 1048576)
    assert sink.encoding == "text" and sink.endpoint is None


def test_retention_days_must_be_a_value_cloudwatch_offers():
    assert ("sinks.cw.retention_days: 8 is not one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, "
            "731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (line 9)") in errors("    retention_days: 8\n")


def test_a_broken_name_template_is_reported():
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE.replace('"{kubernetes.pod_name}"', '"{kubernetes.pod_name"'), "shipper.yaml", {})

    assert "sinks.cw.stream_name: template '{kubernetes.pod_name': '{' at position 0 is never closed (line 8)" \
        in raised.value.render()


def test_a_fallback_name_cloudwatch_would_refuse_is_reported():
    assert "sinks.cw.fallback_group_name: 'no spaces' is not a log group name" in \
        errors("    fallback_group_name: no spaces\n")


def test_the_event_size_cannot_exceed_what_cloudwatch_accepts():
    assert "sinks.cw.max_event_size: 2097152 must be at most 1048576" in errors("    max_event_size: 2MiB\n")


def test_a_plain_http_endpoint_on_another_host_is_refused_without_explicit_consent():
    assert "plain http to another host" in errors("    endpoint: http://logs.internal.example:4566\n")
    assert "plain http to another host" in errors("    endpoint: http://10.0.0.5\n")


def test_https_loopback_and_consented_endpoints_are_accepted():
    for extra in ("    endpoint: https://logs.us-east-1.amazonaws.com\n", "    endpoint: http://127.0.0.1:4566\n",
                  "    endpoint: http://localhost:4566\n", "    endpoint: http://[::1]:4566\n",
                  "    endpoint: http://10.0.0.5\n    allow_insecure_endpoint: true\n"):
        assert parse_config(BASE + extra, "shipper.yaml", {}).sinks["cw"].endpoint


async def test_aws_region_alone_is_honoured_after_the_configuration_and_before_botocores_chain(monkeypatch):
    from shipper.sinks.cloudwatch.client import CloudWatchLogs

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # botocore's own: comes after AWS_REGION
    without = parse_config(BASE, "shipper.yaml", {}).sinks["cw"]
    chosen = parse_config(BASE + "    region: ap-south-1\n", "shipper.yaml", {}).sinks["cw"]
    client = CloudWatchLogs("cw", without)
    await client.open()
    try:
        assert client._client.meta.region_name == "us-west-2"
    finally:
        await client.close()

    assert without.environment_issues() == [] and without.resolved_region() == "us-west-2"
    assert chosen.resolved_region() == "ap-south-1"
    monkeypatch.delenv("AWS_REGION")
    assert without.resolved_region() is None and without.environment_issues() == []  # AWS_DEFAULT_REGION then


def test_assume_role_takes_a_role_arn_and_a_duration_sts_can_give_and_renew_in_time():
    loaded = parse_config(BASE + "    assume_role: {role_arn: 'arn:aws:iam::111122223333:role/central-logs'}\n",
                          "shipper.yaml", {}).sinks["cw"].assume_role

    assert (loaded.session_name, loaded.duration, loaded.external_id) == ("shipper", 3600.0, None)
    assert "sinks.cw.assume_role.role_arn" in errors("    assume_role: {role_arn: 'arn:aws:iam::1:user/x'}\n")
    assert "sinks.cw.assume_role.duration" in errors(
        "    assume_role: {role_arn: 'arn:aws:iam::111122223333:role/r', duration: 15m}\n")
