"""`fields`: copy, rename, lift, add, set and remove, without touching records other blocks share, and
without letting a record write the agent's own metadata."""

from __future__ import annotations

import pytest

from tests.transforms.helpers import block, make, run

K8S = {"host": "node-1", "kubernetes": {"namespace": "shop", "pod_name": "web-1",
                                        "annotations": {"note": "big"}, "labels": {"app": "web"}}}


def test_operations_apply_in_their_documented_order():
    fields = make("fields", copy={"level": "severity"}, rename={"msg": "text"}, lift=["http"],
                  add={"env": "prod", "level": "ignored"},
                  set={"where": "{kubernetes.namespace}/{kubernetes.pod_name}"},
                  remove=["tmp", "kubernetes.annotations"])
    shared = {"level": "info", "msg": "hi", "http": {"status": 200, "host": "x"}, "tmp": 1}

    (out,) = run(fields, block(("line", shared), common=K8S))["t"]

    assert out.records == [(1, "line", {"level": "info", "severity": "info", "text": "hi", "status": 200,
                                        "log": {"host": "x"}, "env": "prod", "where": "shop/web-1"})]
    assert out.common == {"host": "node-1", "kubernetes": {"namespace": "shop", "pod_name": "web-1",
                                                           "labels": {"app": "web"}}}
    assert shared == {"level": "info", "msg": "hi", "http": {"status": 200, "host": "x"}, "tmp": 1}
    assert "annotations" in K8S["kubernetes"]


def test_nested_paths_are_written_with_copies_of_the_maps_on_the_way():
    inner = {"a": 1}
    fields = make("fields", set={"outer.b": 2, "count": 3})

    (out,) = run(fields, block(("x", {"outer": inner})))["t"]

    assert out.records[0][2] == {"outer": {"a": 1, "b": 2}, "count": 3}
    assert inner == {"a": 1}


def test_a_template_naming_a_missing_field_sets_nothing():
    fields = make("fields", set={"app": "{kubernetes.labels.app}"})

    (out,) = run(fields, block("x", common={"host": "n"}))["t"]

    assert out.records[0][2] is None


def test_message_may_be_set_from_a_parsed_field():
    fields = make("fields", copy={"log.message": "message"})

    (out,) = run(fields, block(('{"message": "inner"}', {"log": {"message": "inner"}})))["t"]

    assert out.records[0][1] == "inner"


def test_metadata_can_be_copied_out_but_a_record_field_never_takes_its_place():
    fields = make("fields", copy={"kubernetes.pod_name": "pod"})

    (out,) = run(fields, block(("x", {"kubernetes": {"pod_name": "forged"}}), common=K8S))["t"]

    assert out.records[0][2]["pod"] == "web-1"


@pytest.mark.parametrize("options", [
    {"set": {"kubernetes.namespace": "evil"}},
    {"add": {"host": "elsewhere"}},
    {"rename": {"user": "file"}},
    {"copy": {"x": "timestamp"}},
    {"rename": {"message": "text"}},
    {"remove": ["message"]},
    {"set": {"x": "{unclosed"}},
])
def test_writing_what_the_agent_reserves_or_a_broken_template_is_refused_at_load(options):
    with pytest.raises(ValueError):
        make("fields", **options)
