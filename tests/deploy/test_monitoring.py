"""Monitoring as code (manifests/monitoring): the alert rules pass `promtool check rules` and each has a
`promtool test rules` unit test that fires it and keeps it quiet; every metric the rules and the
Grafana dashboard query is one the agent exports; the PodMonitor scrapes the DaemonSet's API port."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import shipper.observe.metrics  # noqa: F401 - registers every metric
from tests.deploy.test_manifests import KUBECTL, MANIFESTS, documents, kustomize

MONITORING = MANIFESTS / "monitoring"
UNIT_TESTS = Path(__file__).parent / "alerts.test.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")


def rules() -> list[dict]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def exported() -> set[str]:
    """Every series name the agent's /metrics can carry (counters end in _total; histograms in _bucket...)."""
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\b((?:shipper|process)_[a-z_]+)\b", expression))


@needs_promtool
def test_the_rules_pass_promtool_and_every_alert_fires_and_stays_quiet_as_its_unit_test_says(tmp_path):
    spec = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    assert PROMTOOL is not None

    checked = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    tested = subprocess.run([PROMTOOL, "test", "rules", str(tmp_path / UNIT_TESTS.name)], capture_output=True,
                            text=True)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test():
    tested = {case["alertname"] for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"]}

    assert tested == {rule["alert"] for rule in rules()}


def test_every_metric_the_rules_and_the_dashboard_query_is_one_the_agent_exports():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions = [rule["expr"] for rule in rules()]
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queried = set().union(*map(metric_names, expressions))

    assert queried and queried - exported() == set()
    assert {"shipper_sink_ready", "shipper_spool_max_bytes", "shipper_events_discarded_total"} <= queried


def test_the_pod_monitor_scrapes_the_port_the_daemonset_serves_metrics_on():
    monitor = yaml.safe_load((MONITORING / "podmonitor.yaml").read_text())
    pod = documents("daemonset.yaml")[0]["spec"]["template"]

    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {port["name"] for port in pod["spec"]["containers"][0]["ports"]}
    assert endpoint["path"] == "/metrics"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: kustomize builds untested")
def test_the_monitoring_kustomization_builds_with_the_dashboard_as_a_grafana_configmap():
    built = kustomize(MONITORING)

    kinds = sorted(doc["kind"] for doc in built)
    dashboard = next(doc for doc in built if doc["kind"] == "ConfigMap")
    assert kinds == ["ConfigMap", "PodMonitor", "PrometheusRule"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["grafana-dashboard.json"])["uid"] == "shipper-agent"
