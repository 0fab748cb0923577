"""Group and stream names: templates, CloudWatch's allowed characters, fallbacks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shipper.sinks.cloudwatch.naming import (
    Namer,
    check_group_name,
    check_stream_name,
    clean_group_name,
    clean_stream_name,
)

COMMON = {"kubernetes": {"namespace": "shop", "pod_name": "web:1*", "container_name": "app"}}


def namer() -> Namer:
    return Namer("/eks/prod/{kubernetes.namespace}", "{kubernetes.pod_name}.{kubernetes.container_name}",
                 "/eks/unrouted", "unrouted")


@given(st.text(min_size=1, max_size=700))
def test_cleaned_names_are_always_names_cloudwatch_accepts(name):
    check_group_name(clean_group_name(name))
    check_stream_name(clean_stream_name(name))


def test_a_record_is_named_from_the_block_metadata_with_forbidden_characters_replaced():
    assert namer().name(COMMON, (0, "m", None)) == ("/eks/prod/shop", "web_1_.app")


def test_a_record_lacking_a_template_field_goes_to_the_fallback_name_and_is_counted():
    names = namer()

    assert names.name({"kubernetes": {"namespace": "shop"}}, (0, "m", None)) == ("/eks/prod/shop", "unrouted")
    assert names.name({}, (0, "m", None)) == ("/eks/unrouted", "unrouted")
    assert names.fallbacks == 2


def test_names_are_rendered_per_record_only_when_a_record_carries_a_field_the_templates_use():
    by_stream = Namer("/g", "{stream}", "/f", "f")

    stdout = {"stream": "stdout"}

    assert not namer().per_record([stdout] * 3) and not namer().per_record([stdout, {"stream": "stderr"}])
    assert by_stream.per_record([stdout] * 3)  # one mapping shared by the whole block
    assert by_stream.per_record([None, {"stream": "stderr"}])
    assert not by_stream.per_record([None] * 3)
    assert by_stream.name({}, (0, "m", {"stream": "stderr"})) == ("/g", "stderr")


@given(st.text(max_size=600))
def test_a_label_only_ever_changes_the_templated_part_of_a_name_never_leaves_the_prefix(label):
    # a pod chooses its label: the group stays under the prefix the operator's IAM policy names
    named = Namer('/eks/prod/{kubernetes.labels["app.kubernetes.io/team"]}', "s", "/eks/unrouted", "unrouted")
    common = {"kubernetes": {"labels": {"app.kubernetes.io/team": label}}}

    group, _ = named.name(common, (0, "", None))

    assert group.startswith("/eks/prod/") or group == "/eks/unrouted"
    check_group_name(group)
