"""The Kubernetes manifests: valid for 1.29 and 1.33 (strict), and consistent with the agent's config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shipper.components import load_config

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
RESOURCES = sorted(p for p in MANIFESTS.glob("*.yaml") if p.name not in ("kustomization.yaml", "shipper.yaml"))
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: kustomize builds untested")


def validate(paths: list[Path], version: str) -> tuple[int, str]:
    """kubernetes-validate --strict; a warning (it only warns on an unknown apiVersion) counts as a failure."""
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version,
                             *map(str, paths)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    failed = result.returncode != 0 or any(line.startswith(("WARN", "ERROR")) for line in output.splitlines())
    return (1 if failed else 0), output


def documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]


def agent_config_text() -> str:
    return (MANIFESTS / "shipper.yaml").read_text()


def kustomize(directory: Path) -> list[dict]:
    """What `kubectl kustomize` makes of a kustomization."""
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def with_component(tmp_path: Path, component: str = "pod-identity") -> Path:
    """A kustomization of a user's own: the repository's manifests with one of its components."""
    own = tmp_path / "own"
    own.mkdir()
    relative = Path(os.path.relpath(MANIFESTS, own))
    (own / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(relative)], "components": [str(relative / "components" / component)]}))
    return own


def built(documents: list[dict], kind: str) -> dict:
    (found,) = [doc for doc in documents if doc["kind"] == kind and doc["metadata"]["name"].startswith("shipper")]
    return found


@pytest.mark.parametrize("version", ["1.29.0", "1.33.0"])
def test_every_manifest_validates_strictly(version):
    code, output = validate(RESOURCES, version)

    assert code == 0, output


def test_an_unknown_api_version_is_rejected_not_just_warned_about(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v9\nkind: DaemonSet\nmetadata: {name: x}\nspec: {}\n")

    code, output = validate([bad], "1.33.0")

    assert code == 1 and "apps/v9" in output


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())

    assert sorted(kustomization["resources"]) == [p.name for p in RESOURCES]


@needs_kubectl
@pytest.mark.parametrize("version", ["1.29.0", "1.33.0"])
@pytest.mark.parametrize("variant", ["irsa", "pod-identity", "fluent-bit-cut-over"])
def test_every_kustomization_builds_with_kubectl_and_its_output_validates(tmp_path, variant, version):
    directory = MANIFESTS if variant == "irsa" else with_component(tmp_path, variant)
    output = tmp_path / "built.yaml"
    output.write_text(yaml.safe_dump_all(kustomize(directory)))

    code, report = validate([output], version)
    account = built(yaml.safe_load_all(output.read_text()), "ServiceAccount")

    assert code == 0, report
    assert ("eks.amazonaws.com/role-arn" in account["metadata"].get("annotations", {})) == (variant != "pod-identity")


@needs_kubectl
def test_params_reach_the_daemonset_and_an_edit_of_the_config_rolls_it(tmp_path):
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    before = kustomize(copy)
    (copy / "params.env").write_text((copy / "params.env").read_text().replace("CLUSTER_NAME=my-cluster",
                                                                                 "CLUSTER_NAME=prod-eu"))
    (copy / "shipper.yaml").write_text((copy / "shipper.yaml").read_text().replace("level: info", "level: debug"))
    after = kustomize(copy)

    def environment(documents: list[dict]) -> dict[str, str]:
        container = built(documents, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e.get("value") for e in container["env"]}

    def config_map(documents: list[dict]) -> tuple[str, str]:
        daemonset = built(documents, "DaemonSet")["spec"]["template"]["spec"]
        mounted = next(v["configMap"]["name"] for v in daemonset["volumes"] if "configMap" in v)
        return mounted, built(documents, "ConfigMap")["metadata"]["name"]

    assert environment(before)["CLUSTER_NAME"] == "my-cluster" and environment(after)["CLUSTER_NAME"] == "prod-eu"
    assert environment(before)["AWS_REGION"] == "us-east-1" and environment(before)["LOG_GROUP_PREFIX"] == "/eks"
    assert not [doc for doc in after if doc["metadata"]["name"] == "shipper-params"]  # read, not applied
    (mounted_before, made_before), (mounted_after, made_after) = config_map(before), config_map(after)
    assert mounted_before == made_before and mounted_after == made_after  # the DaemonSet follows the new name
    assert made_before != made_after and made_before.startswith("shipper-")  # a new name rolls the pods


def test_the_daemonset_mounts_every_path_the_config_reads_and_outlives_the_shutdown_timeout(tmp_path, monkeypatch):
    daemonset = documents("daemonset.yaml")[0]
    pod = daemonset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config_text = agent_config_text()
    for name, value in {"AWS_REGION": "us-east-1", "CLUSTER_NAME": "c", "NODE_NAME": "n",
                        "LOG_GROUP_PREFIX": "/eks"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "shipper.yaml").write_text(config_text)
    config = load_config(tmp_path / "shipper.yaml")  # the ConfigMap holds a valid configuration
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    assert pod["terminationGracePeriodSeconds"] > config.shutdown_timeout + 5
    paths = [config.data_dir]
    for source in config.sources.values():
        paths += [str(Path(pattern).parent) for pattern in getattr(source, "include", [])]
        paths += [source.directory] if getattr(source, "directory", None) else []
    for path in paths:
        assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts), f"{path} is not mounted"
    state = next(m for m in container["volumeMounts"] if m["mountPath"] == config.data_dir)
    assert volumes[state["name"]]["hostPath"]["type"] == "DirectoryOrCreate" and not state.get("readOnly")
    for path in ("/var/log", "/var/lib/docker/containers", "/run/log/journal"):
        assert mounts[path]["readOnly"] is True and "hostPath" in volumes[mounts[path]["name"]]
    port = config.api.address.rpartition(":")[2]
    assert container["ports"][0]["containerPort"] == int(port)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_pod_is_locked_down_and_runs_on_every_node():
    pod = documents("daemonset.yaml")[0]["spec"]["template"]["spec"]
    security = pod["containers"][0]["securityContext"]

    # uid 0 reads the node's 0640 root-owned logs as their owner, with no capability at all; the image
    # itself runs as nobody, so the pod must say it
    assert security["runAsUser"] == 0 and security["capabilities"] == {"drop": ["ALL"]}
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert not security.get("privileged") and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"operator": "Exists"} in pod["tolerations"]
    assert {e["name"] for e in pod["containers"][0]["env"]} >= {"NODE_NAME", "AWS_REGION", "CLUSTER_NAME"}


def test_the_image_is_pinned_by_digest_in_the_kustomization():
    container = documents("daemonset.yaml")[0]["spec"]["template"]["spec"]["containers"][0]
    (image,) = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["images"]

    assert image["name"] == container["image"] == "shipper"
    assert image["newName"].endswith("/shipper") and image["digest"].startswith("sha256:")
    assert "newTag" not in image


def test_rbac_grants_exactly_get_list_watch_on_pods():
    role = documents("rbac.yaml")[0]

    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


@needs_kubectl
def test_the_namespace_labels_component_adds_namespaces_and_nothing_else(tmp_path):
    role = built(kustomize(with_component(tmp_path, "namespace-labels")), "ClusterRole")

    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                             {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]


def test_the_agent_does_not_ship_its_own_pods_log_by_default(tmp_path, monkeypatch):
    daemonset = documents("daemonset.yaml")[0]
    for name, value in {"AWS_REGION": "us-east-1", "CLUSTER_NAME": "c", "NODE_NAME": "n",
                        "LOG_GROUP_PREFIX": "/eks"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "shipper.yaml").write_text(agent_config_text())
    config = load_config(tmp_path / "shipper.yaml")

    containers = [s for s in config.sources.values() if s.type == "kubernetes_logs"]
    assert containers and all(daemonset["metadata"]["namespace"] in s.exclude_namespaces for s in containers)


def test_the_namespace_enforces_pod_security_and_only_the_scraper_reaches_the_api():
    labels = documents("namespace.yaml")[0]["metadata"]["labels"]
    policy = documents("networkpolicy.yaml")[0]
    daemonset = documents("daemonset.yaml")[0]
    api_port = next(p for p in daemonset["spec"]["template"]["spec"]["containers"][0]["ports"] if p["name"] == "api")

    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"  # hostPath needs it
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert policy["spec"]["podSelector"]["matchLabels"] == daemonset["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": api_port["containerPort"], "protocol": "TCP"}]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"shipper.io/metrics-scraper": "true"}}}]


@needs_kubectl
def test_the_fluent_bit_cut_over_component_imports_offsets_before_the_agent_with_its_image_and_settings(tmp_path):
    pod = built(kustomize(with_component(tmp_path, "fluent-bit-cut-over")), "DaemonSet")["spec"]["template"]["spec"]
    agent, (init,) = pod["containers"][0], pod["initContainers"]

    assert init["args"][:3] == ["import-offsets", "--config", "/etc/shipper/shipper.yaml"]
    assert "--init-container" in init["args"]
    assert init["image"] == agent["image"] and init["env"] == agent["env"]
    assert init["securityContext"] == agent["securityContext"]
    database = init["args"][init["args"].index("--fluent-bit-db") + 1]
    mount = next(m for m in init["volumeMounts"] if database.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    assert {"name": "state", "mountPath": "/var/lib/shipper"} in init["volumeMounts"]
