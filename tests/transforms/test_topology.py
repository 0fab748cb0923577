"""The graph between sources, transforms and sinks: what `check` refuses, prints, and what each source stores."""

from __future__ import annotations

import pytest

from shipper.cli import describe_pipeline
from shipper.components import parse_config
from shipper.config.errors import ConfigError

BASE = """
data_dir: /tmp/shipper-topology
sources:
  app: {type: file, include: [/var/log/app.log]}
  other: {type: file, include: [/var/log/other.log]}
"""


def config(text: str):
    return parse_config(BASE + text, "shipper.yaml", {})


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config(text)
    return [f"{issue.path}: {issue.reason}" for issue in raised.value.issues]


def test_a_sink_may_take_a_transform_and_check_prints_the_graph():
    loaded = config("""
transforms:
  json: {type: parse, inputs: [app, other], format: json}
  split: {type: route, inputs: [json], routes: {errors: {field: level, equals: error}}}
sinks:
  errors: {type: console, inputs: [split.errors]}
  rest: {type: console, inputs: [split._unmatched]}
""")

    text = describe_pipeline(loaded)

    assert "transforms:\n  json (parse json of message) <- app, other\n" in text
    assert "  split (route: errors, _unmatched) <- json\n" in text
    assert "  errors (console) <- split.errors\n" in text


def test_an_input_naming_nothing_is_refused_with_its_key():
    found = issues("""
transforms:
  json: {type: parse, inputs: [ap], format: json}
sinks:
  out: {type: console, inputs: [json, other]}
""")

    assert found == ["transforms.json.inputs[0]: 'ap' is not the id of a source or transform output "
                     "(known: app, json, other)", "sources.app: nothing takes this source in its inputs"]


def test_a_cycle_is_refused_naming_the_loop():
    found = issues("""
transforms:
  a: {type: filter, inputs: [app, b], exclude: {field: message, regex: x}}
  b: {type: filter, inputs: [a], exclude: {field: message, regex: y}}
sinks:
  out: {type: console, inputs: [b, other]}
""")

    assert found == ["transforms.b.inputs: a cycle: a -> b -> a"]


def test_a_transform_nobody_takes_is_refused():
    found = issues("""
transforms:
  unused: {type: parse, inputs: [app], format: json}
sinks:
  out: {type: console, inputs: [app, other]}
""")

    assert found == ["transforms.unused: nothing takes this transform's output in its inputs"]


def test_a_route_is_taken_by_one_of_its_outputs_not_by_its_id():
    found = issues("""
transforms:
  split: {type: route, inputs: [app, other], routes: {a: {field: message, regex: a}}}
sinks:
  out: {type: console, inputs: [split]}
""")

    assert found[0] == "sinks.out.inputs[0]: 'split' has named outputs: take one of split.a, split._unmatched"


def test_a_transform_may_not_take_the_id_of_a_source():
    found = issues("""
transforms:
  app: {type: parse, inputs: [other], format: json}
sinks:
  out: {type: console, inputs: [app]}
""")

    assert "transforms.app: 'app' is already the id of a source" in found


def test_each_source_stores_each_stream_a_sink_takes_once_whatever_the_number_of_sinks():
    loaded = config("""
transforms:
  json: {type: parse, inputs: [app], format: json}
  errors: {type: filter, inputs: [json, other], include: {field: level, equals: error}}
sinks:
  a: {type: console, inputs: [json, errors]}
  b: {type: console, inputs: [json]}
  c: {type: console, inputs: [other]}
""")
    topology = loaded.topology()

    app, other = topology.plan("app"), topology.plan("other")

    assert [step.transform for step in app.steps] == ["json", "errors"]
    assert app.streams == ("json", "errors")
    assert [(step.transform, step.inputs) for step in other.steps] == [("errors", ("other",))]
    assert other.streams == ("other", "errors")


def test_a_template_typo_is_still_caught_through_transforms_that_keep_fields():
    from shipper.config.preflight import warnings

    loaded = config("""
transforms:
  quiet: {type: filter, inputs: [app, other], exclude: {field: message, regex: x}}
  json: {type: parse, inputs: [quiet], format: json}
sinks:
  by_host: {type: syslog, inputs: [quiet], address: "127.0.0.1:6514", app_name: "{hots}"}
  parsed: {type: syslog, inputs: [json], address: "127.0.0.1:6514", app_name: "{anything}"}
""")

    found = [str(w) for w in warnings(loaded, globs=False)]

    assert found == ["sinks.by_host.app_name: {hots} is a field no input of this sink produces (quiet): "
                     "did you mean {host}?"]
