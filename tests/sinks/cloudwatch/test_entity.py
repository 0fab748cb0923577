"""The `entity` option: its limits are checked when the file loads, and the Kubernetes preset fills
what CloudWatch documents for EKS from the agent's own metadata."""

from __future__ import annotations

import pytest

from shipper.sinks.cloudwatch.entity import EntityMaker, EntityOptions

K8S = {"kubernetes": {"cluster_name": "prod", "namespace": "shop", "pod_name": "web-7d9-x2k", "workload_name": "web",
                      "workload_kind": "Deployment", "node_name": "ip-10-0-1-5.ec2.internal"}}


def test_the_kubernetes_preset_names_the_workload_as_a_service_of_its_cluster_and_namespace():
    maker = EntityMaker(EntityOptions.model_validate({"preset": "kubernetes"}))

    assert maker.make(K8S) == {
        "keyAttributes": {"Type": "Service", "Name": "web", "Environment": "eks:prod/shop"},
        "attributes": {"PlatformType": "AWS::EKS", "EKS.Cluster": "prod", "K8s.Namespace": "shop",
                       "K8s.Workload": "web", "K8s.Node": "ip-10-0-1-5.ec2.internal", "K8s.Pod": "web-7d9-x2k",
                       "AWS.ServiceNameSource": "K8sWorkload"}}


def test_keys_given_beside_the_preset_win_and_missing_attributes_are_left_out():
    maker = EntityMaker(EntityOptions.model_validate({
        "preset": "kubernetes", "key_attributes": {"Environment": "production"}}))
    metadata = {"kubernetes": {k: v for k, v in K8S["kubernetes"].items() if k != "node_name"}}

    entity = maker.make(metadata)

    assert entity is not None
    assert entity["keyAttributes"]["Environment"] == "production"
    assert "K8s.Node" not in entity["attributes"]


def test_a_block_whose_key_attributes_lack_a_field_has_no_entity():
    maker = EntityMaker(EntityOptions.model_validate({"preset": "kubernetes"}))

    assert maker.make({"kubernetes": {"namespace": "shop"}}) is None


@pytest.mark.parametrize(("options", "reason"), [
    ({"key_attributes": {"Type": "Service"}}, "2 to 4"),
    ({"key_attributes": {"Type": "Service", "Team": "x"}}, "not one of"),
    ({"key_attributes": {"Type": "Service", "Name": "{level}"}}, "not the agent's own metadata"),
    ({"key_attributes": {"Type": "Service", "Name": "x"}, "attributes": {f"a{i}": "v" for i in range(11)}}, "at most"),
])
def test_an_entity_cloudwatch_would_refuse_is_refused_when_the_file_loads(options, reason):
    with pytest.raises(ValueError, match=reason):
        EntityOptions.model_validate(options)
