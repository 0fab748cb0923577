"""A line cannot pass itself off as another host, file or pod: fields parsed from it never replace
the agent's own metadata, in templates or in JSON encodings; they are kept under `log`."""

from __future__ import annotations

from shipper.record import as_event, lookup
from shipper.sinks.cloudwatch.naming import Namer
from shipper.sources.files.formats import JsonDecoder
from shipper.templates import Template

COMMON = {"file": "/var/log/app/a.log", "host": "node-1", "source_type": "file",
          "kubernetes": {"namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}}}
FORGED = ('{"host": "node-9", "file": "/etc/shadow", "kubernetes": {"namespace": "payments"}, '
          '"timestamp": "1999-01-01", "message": "forged", "log": "its own log field", "level": "warn"}')


def test_reserved_names_of_a_line_are_kept_under_log_and_the_rest_stays_at_the_root():
    ((_, text, fields),) = JsonDecoder(1024).decode([FORGED], 0)

    assert text == FORGED
    assert fields == {"level": "warn", "log": {
        "host": "node-9", "file": "/etc/shadow", "kubernetes": {"namespace": "payments"},
        "timestamp": "1999-01-01", "message": "forged", "log": "its own log field"}}


def test_templates_and_json_events_read_the_agents_values_not_the_lines():
    (record,) = JsonDecoder(1024).decode([FORGED], 0)
    namer = Namer("/eks/{kubernetes.namespace}", "{host}.{level}", "/fallback", "fallback")

    event = as_event(COMMON, record)

    assert namer.name(COMMON, record) == ("/eks/shop", "node-1.warn")
    assert (event["host"], event["file"], event["kubernetes"]["namespace"]) == ("node-1", "/var/log/app/a.log", "shop")
    assert event["message"] == FORGED and event["log"]["host"] == "node-9"


def test_a_record_field_cannot_shadow_a_reserved_name_even_when_a_source_sets_one():
    record = (0, "text", {"kubernetes": {"namespace": "payments"}, "level": "info"})

    assert lookup(COMMON, record, ("kubernetes", "namespace")) == "shop"
    assert lookup(COMMON, record, ("level",)) == "info"


def test_a_template_addresses_keys_with_dots_and_slashes_in_brackets():
    template = Template('/eks/{kubernetes.labels["app.kubernetes.io/name"]}')

    assert template.render(lambda path: lookup(COMMON, (0, "", None), path)) == "/eks/web"
