"""`shipper translate`: Fluent Bit (classic and YAML) and Vector (TOML and YAML) configurations become
shipper configurations that pass `check`, with the source agent's layout, the same routing, and a
comment at every construct that could not be carried over (never a silent drop). Inputs: the
pipelines of docs/migrating.md, the Fluent Bit configuration AWS publishes for Container Insights on
EKS (with its @INCLUDEs and parsers), and pipelines of the kinds the anchors' documentation shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipper.translate import AnyVariable, UnreadableConfiguration, translate

HERE = Path(__file__).resolve().parent
GUIDE = HERE.parents[1] / "docs" / "migrating.md"


def guide_blocks() -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", GUIDE.read_text(), re.DOTALL)


def translated(tmp_path: Path, agent: str, text: str | None = None, name: str = "in.conf",
               path: Path | None = None) -> tuple[str, dict[str, Any]]:
    """The translation's text and what it holds; it must pass check."""
    if path is None:
        path = tmp_path / name
        path.write_text(text or "")
    out, problem = translate(path, agent)
    assert problem is None, problem.render()
    return out, yaml.safe_load(out)


def without(options: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in keys}


def test_the_guides_fluent_bit_pipeline_becomes_its_same_records_equivalent(tmp_path):
    fluent_bit = next(body for lang, body in guide_blocks() if body.startswith("[INPUT]"))
    same_records = next(yaml.safe_load(body) for lang, body in guide_blocks()
                        if lang == "yaml" and "layout: fluent_bit" in body)

    text, config = translated(tmp_path, "fluent-bit", fluent_bit)

    (source,), (sink,) = config["sources"].values(), config["sinks"].values()
    expected_sink = same_records["sinks"]["cloudwatch"]
    assert without(sink, "inputs") == without(expected_sink, "inputs")
    assert source["type"] == "kubernetes_logs" and source["include"] == ["/var/log/containers/*.log"]
    assert source["api"] == {"annotations": ["*"]} and source["honor_exclude_annotation"] is False
    assert "shipper import-offsets" in text and "--fluent-bit-db /var/fluent-bit/state/flb_container.db" in text


def test_the_guides_vector_pipeline_becomes_its_same_records_equivalent(tmp_path):
    vector = next(body for lang, body in guide_blocks() if lang == "toml")
    same_records = next(yaml.safe_load(body) for lang, body in guide_blocks()
                        if lang == "yaml" and "layout: vector" in body)

    _, config = translated(tmp_path, "vector", vector, "vector.toml")

    assert config["sources"] == same_records["sources"]
    assert without(config["sinks"]["cw"], "encoding") == without(same_records["sinks"]["cw"], "encoding")
    assert config["sinks"]["cw"]["encoding"] == "text"  # the TOML's codec: the message alone


def test_the_guides_journal_pipeline_in_fluent_bit_becomes_a_journald_source(tmp_path):
    journal = next(yaml.safe_load(body) for lang, body in guide_blocks() if lang == "yaml" and "journald" in body)
    fluent_bit = """
        [INPUT]
            Name            systemd
            Tag             node.*
            Path            /var/log/journal
            Systemd_Filter  _SYSTEMD_UNIT=kubelet.service
            Systemd_Filter  _SYSTEMD_UNIT=containerd.service
            DB              /var/fluent-bit/state/systemd.db
            Read_From_Tail  On
        [OUTPUT]
            Name               cloudwatch_logs
            Match              node.*
            region             ${AWS_REGION}
            log_group_name     /eks/${CLUSTER_NAME}/node
            log_stream_prefix  ${NODE_NAME}.
            auto_create_group  On
        """

    _, config = translated(tmp_path, "fluent-bit", fluent_bit)

    (source,), (sink,) = config["sources"].values(), config["sinks"].values()
    assert without(source, "max_priority") == without(journal["sources"]["node"], "max_priority")
    assert sink["stream_name"] == "${NODE_NAME}.node.{_SYSTEMD_UNIT}"  # prefix + the tag, `*` the unit
    assert without(sink, "inputs", "layout", "encoding", "stream_name") == \
        without(journal["sinks"]["cloudwatch"], "inputs", "stream_name")


def test_the_container_insights_configuration_translates_with_its_includes_and_parsers(tmp_path):
    text, config = translated(tmp_path, "fluent-bit", path=HERE / "container_insights" / "fluent-bit.conf")
    sources, transforms, sinks = config["sources"], config["transforms"], config["sinks"]

    assert [s["type"] for s in sources.values()].count("kubernetes_logs") == 4
    assert [s["type"] for s in sources.values()].count("file") == 3 and "systemd" in sources
    assert sources["tail"]["exclude"][0] == "/var/log/containers/cloudwatch-agent*"
    assert sources["tail"]["api"] == {} and sources["tail"]["honor_annotations"] == ["parser"]
    assert transforms["merge_log"] == {"type": "parse", "inputs": ["tail", "tail_2", "tail_3"], "format": "json",
                                       "target": "log_processed"}
    syslog = transforms["tail_6_syslog"]
    assert syslog["pattern"].startswith("^(?P<time>[^ ]* {1,2}[^ ]* [^ ]*) (?P<host>")
    assert (syslog["time_key"], syslog["time_format"]) == ("time", "%b %d %H:%M:%S")
    assert transforms["modify"]["rename"] == {"_HOSTNAME": "hostname", "_SYSTEMD_UNIT": "systemd_unit",
                                              "MESSAGE": "message"}
    streams = sorted(sink["stream_name"] for sink in sinks.values())
    assert "${HOST_NAME}.host.messages" in streams and "${HOST_NAME}-dataplane.systemd.{_SYSTEMD_UNIT}" in streams
    assert {sink["group_name"] for sink in sinks.values()} == {
        f"/aws/containerinsights/${{CLUSTER_NAME}}/{group}" for group in ("application", "dataplane", "host")}
    for said in ("NOT TRANSLATED: [FILTER] aws", "NOT TRANSLATED: remove_regex", "extra_user_agent container-insights",
                 "read_from_head ${READ_FROM_HEAD}: Fluent Bit reads it from its environment"):
        assert said in text


def test_fluent_bits_yaml_form_keeps_the_filters_order_and_says_what_it_cannot_do(tmp_path):
    text, config = translated(tmp_path, "fluent-bit", path=HERE / "fluent-bit.yaml")
    transforms, sinks = config["transforms"], config["sinks"]

    assert [(name, t["inputs"]) for name, t in transforms.items()] == [
        ("merge_log", ["tail"]), ("grep", ["merge_log"]), ("modify", ["grep"]), ("nest", ["modify"]),
        ("throttle", ["nest"])]
    assert transforms["grep"]["exclude"] == {"field": "kubernetes.namespace", "regex": "^kube-system$"}
    assert transforms["modify"] == {"type": "fields", "inputs": ["grep"], "add": {"cluster": "prod-1"},
                                    "remove": ["password"]}
    assert config["sources"]["tail"]["multiline"] == {"mode": "exceptions", "languages": ["java"]}
    assert sinks["cloudwatch_logs"]["group_name"] == "/eks/prod/{kubernetes.namespace_name}"
    assert sinks["cloudwatch_logs"]["assume_role"] == {"role_arn": "arn:aws:iam::111122223333:role/logs"}
    assert sinks["syslog"]["app_name"] == "{kubernetes.container_name}" and sinks["syslog"]["mode"] == "tls"
    assert "NOT TRANSLATED: [FILTER] rewrite_tag rule $level ^(error)$ errors false" in text
    assert without(sinks["s3"], "inputs") == {"type": "s3", "layout": "fluent_bit", "bucket": "archive",
                                              "key": "fluent-bit-logs/%Y/%m/%d/%H/%M/%S-{uuid}", "compression": "none"}
    assert "NOT TRANSLATED: $TAG in s3_key_format" in text


def test_vectors_graph_ids_and_the_common_vrl_carry_over(tmp_path):
    text, config = translated(tmp_path, "vector", path=HERE / "vector.yaml")
    transforms, sinks = config["transforms"], config["sinks"]

    assert transforms["app_json_1"] == {"type": "parse", "inputs": ["k8s"], "field": "message", "format": "json"}
    assert without(transforms["app_json"], "type", "inputs") == {
        "remove": ["password"], "set": {"environment": "production"}, "rename": {"kubernetes.labels.app": "app"}}
    assert transforms["errors"]["include"] == {"any": [{"field": "level", "equals": "error"},
                                                       {"field": "message", "regex": "panic"}]}
    assert transforms["by_namespace"]["routes"]["payments"] == {"field": "kubernetes.namespace", "equals": "payments"}
    assert transforms["limited"] == {"type": "throttle", "inputs": ["by_namespace._unmatched"], "limit": 1000,
                                     "window": "60s", "key": "{kubernetes.pod_namespace}"}
    assert sinks["cloudwatch"]["inputs"] == ["by_namespace.payments", "limited", "journal"]
    assert sinks["cloudwatch"]["group_name"] == "/eks/prod/{kubernetes.pod_namespace}"
    assert sinks["collector"]["encoding"] == "ndjson" and sinks["papertrail"]["mode"] == "tls"
    assert config["sources"]["k8s"]["exclude_pod_labels"] == {"app": "vector"}
    assert without(sinks["archive"], "inputs") == {
        "type": "s3", "layout": "vector", "bucket": "logs-archive", "encoding": "ndjson", "compression": "gzip",
        "key": "date=%F/%Y%m%dT%H%M%SZ-{uuid}.log.gz"}
    for said in ("NOT TRANSLATED: VRL .level = downcase(string!(.level))", "NOT TRANSLATED: route noisy"):
        assert said in text


@pytest.mark.parametrize(("agent", "name", "text", "said"), [
    ("fluent-bit", "in.conf", "[INPUT]\n Name tail\n Path /var/log/app.log\n Frobnicate 7\n"
     "[OUTPUT]\n Name stdout\n Match *\n Colour blue\n", ["frobnicate 7", "colour blue"]),
    ("fluent-bit", "in.conf", "[INPUT]\n Name mqtt\n[INPUT]\n Name tail\n Path /a.log\n[FILTER]\n Name lua\n Match *\n"
     " script x.lua\n[OUTPUT]\n Name stdout\n Match *\n", ["[INPUT] mqtt", "[FILTER] lua", "script x.lua"]),
    ("vector", "in.yaml", "sources: {a: {type: file, include: [/a.log], fingerprint: {strategy: device_and_inode}}}\n"
     "transforms: {t: {type: lua, inputs: [a]}}\nsinks: {o: {type: console, inputs: [a], target: stdout, "
     "flavour: 1}}\nenrichment_tables: {}\n",
     ["fingerprint", "transform t (type lua)", "flavour", "enrichment_tables"]),
])
def test_every_construct_no_rule_takes_is_written_as_not_translated(tmp_path, agent, name, text, said):
    out, _ = translated(tmp_path, agent, text, name)

    comments = [line for line in out.splitlines() if line.lstrip().startswith("# NOT TRANSLATED")]
    for each in said:
        assert any(each in line for line in comments), f"{each!r} not said in {comments}"


def test_a_parser_regex_re2_cannot_run_is_said_and_left_out(tmp_path):
    (tmp_path / "parsers.conf").write_text((HERE / "container_insights" / "parsers.conf").read_text())
    text, config = translated(tmp_path, "fluent-bit", "[SERVICE]\n Parsers_File parsers.conf\n"
                              "[INPUT]\n Name tail\n Path /var/log/app.log\n Parser container_firstline\n"
                              "[OUTPUT]\n Name stdout\n Match *\n")

    assert "transforms" not in config
    assert "NOT TRANSLATED: parser container_firstline regex" in text and "rewrite it without lookaround" in text


def test_the_command_writes_the_file_and_says_when_the_result_needs_work(tmp_path):
    good, only_kafka, garbage = tmp_path / "good.conf", tmp_path / "kafka.conf", tmp_path / "garbage.toml"
    good.write_text("[INPUT]\n Name tail\n Path /var/log/app.log\n[OUTPUT]\n Name stdout\n Match *\n")
    only_kafka.write_text("[INPUT]\n Name tail\n Path /var/log/app.log\n[OUTPUT]\n Name kafka\n Match *\n")
    garbage.write_text("this is = = not toml")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipper", "translate", *args], capture_output=True, text=True)

    written = run("--from", "fluent-bit", str(good), "-o", str(tmp_path / "out.yaml"))
    incomplete = run("--from", "fluent-bit", str(only_kafka))
    unreadable = run("--from", "vector", str(garbage))

    assert written.returncode == 0 and "shipper check --config" in written.stderr
    assert yaml.safe_load((tmp_path / "out.yaml").read_text())["sinks"]["stdout"]["type"] == "console"
    assert incomplete.returncode == 2 and "does not pass check" in incomplete.stderr
    assert "NOT TRANSLATED: [OUTPUT] kafka" in incomplete.stdout
    assert unreadable.returncode == 2 and "not a vector configuration" in unreadable.stderr
    assert "Traceback" not in incomplete.stderr + unreadable.stderr


def test_checking_a_translation_resolves_no_variable_of_this_machine():
    assert AnyVariable()["ANYTHING"] == "set-at-run-time" and "X" in AnyVariable()
    with pytest.raises(UnreadableConfiguration):
        translate(HERE / "no-such-file.conf", "fluent-bit")


FLUENT_BIT_CASES = [
    ("[INPUT]\n Name forward\n Listen 0.0.0.0\n Port 24225\n Shared_Key s3cr3t\n[OUTPUT]\n Name stdout\n Match *\n",
     "sources", {"type": "forward", "address": "0.0.0.0:24225", "shared_key": "s3cr3t"}),
    ("[INPUT]\n Name tail\n Path /a.log\n[OUTPUT]\n Name http\n Match *\n Host collector.example\n Port 8443\n"
     " URI /ingest\n tls on\n Format json_lines\n Header X-Key abc\n HTTP_User node\n HTTP_Passwd pw\n Compress gzip\n",
     "sinks", {"type": "http", "inputs": ["tail"], "layout": "fluent_bit", "uri": "https://collector.example:8443/ingest",
               "encoding": "ndjson", "headers": {"X-Key": "abc"},
               "auth": {"strategy": "basic", "user": "node", "password": "pw"}, "compression": "gzip"}),
    ("[INPUT]\n Name tail\n Path /a.log\n[OUTPUT]\n Name opentelemetry\n Match *\n Host otel.example\n Port 4318\n"
     " Logs_uri /otlp/v1/logs\n tls on\n Header Authorization Bearer t0k3n\n Compress gzip\n",
     "sinks", {"type": "opentelemetry", "inputs": ["tail"], "endpoint": "https://otel.example:4318/otlp",
               "headers": {"Authorization": "Bearer t0k3n"}, "compression": "gzip"}),
    ("[INPUT]\n Name tail\n Path /a.log\n[OUTPUT]\n Name kinesis_firehose\n Match *\n region eu-west-1\n"
     " delivery_stream node-logs\n compression gzip\n",
     "sinks", {"type": "firehose", "inputs": ["tail"], "layout": "fluent_bit", "region": "eu-west-1",
               "delivery_stream": "node-logs", "compression": "gzip"}),
    ("[INPUT]\n Name tail\n Path /a.log\n Tag app\n[OUTPUT]\n Name s3\n Match app\n bucket archive\n region eu-west-1\n"
     " s3_key_format /logs/$TAG/%Y/%m/%d/$UUID.gz\n total_file_size 50M\n upload_timeout 5m\n compression gzip\n",
     "sinks", {"type": "s3", "inputs": ["tail"], "layout": "fluent_bit", "bucket": "archive", "region": "eu-west-1",
               "key": "logs/app/%Y/%m/%d/{uuid}.gz", "compression": "gzip", "max_object_bytes": "50MiB",
               "max_object_age": "5m"}),
    ("[INPUT]\n Name tail\n Path /a.log\n Tag app\n[OUTPUT]\n Name stackdriver\n Match app\n"
     " google_service_credentials /etc/gcp/key.json\n export_to_project_id my-project\n resource k8s_container\n"
     " k8s_cluster_name prod\n k8s_cluster_location europe-west1\n severity_key level\n"
     " labels team=platform,env=prod\n",
     "sinks", {"type": "google_cloud_logging", "inputs": ["tail"], "layout": "fluent_bit",
               "credentials_file": "/etc/gcp/key.json", "project_id": "my-project", "resource_type": "k8s_container",
               "cluster_name": "prod", "location": "europe-west1", "fallback_log_name": "app",
               "severity_field": "level", "labels": {"team": "platform", "env": "prod"}}),
    ("[INPUT]\n Name tail\n Path /a.log\n[OUTPUT]\n Name kinesis_streams\n Match *\n region eu-west-1\n stream s1\n",
     "sinks", {"type": "kinesis_streams", "inputs": ["tail"], "layout": "fluent_bit", "region": "eu-west-1",
               "stream_name": "s1"}),
    ("[INPUT]\n Name tail\n Path /a.log\n[FILTER]\n Name record_modifier\n Match *\n Record hostname ${HOSTNAME}\n"
     " Remove_key password\n[OUTPUT]\n Name stdout\n Match *\n",
     "transforms", {"type": "fields", "inputs": ["tail"], "set": {"hostname": "${HOSTNAME}"}, "remove": ["password"]}),
    ("[PARSER]\n Name kv\n Format regex\n Regex ^(?<key>\\w+)=(?<value>.*)$\n[INPUT]\n Name tail\n Path /a.log\n"
     "[FILTER]\n Name parser\n Match *\n Key_Name log\n Parser kv\n Reserve_Data On\n"
     "[OUTPUT]\n Name stdout\n Match *\n",
     "transforms", {"type": "parse", "inputs": ["tail"], "field": "message", "format": "regex",
                    "pattern": "^(?P<key>\\w+)=(?P<value>.*)$"}),
    ("[INPUT]\n Name tail\n Path /var/log/nginx/access.log\n[FILTER]\n Name parser\n Match *\n Key_Name log\n"
     " Parser nginx\n[OUTPUT]\n Name stdout\n Match *\n",
     "transforms", {"type": "parse", "inputs": ["tail"], "field": "message", "format": "nginx_combined"}),
]


@pytest.mark.parametrize(("text", "section", "expected"), FLUENT_BIT_CASES,
                         ids=["forward", "http", "opentelemetry", "firehose", "s3", "stackdriver", "kinesis_streams",
                              "record_modifier", "parser_regex", "parser_nginx"])
def test_each_fluent_bit_plugin_becomes_its_counterpart(tmp_path, text, section, expected):
    _, config = translated(tmp_path, "fluent-bit", text)

    assert next(iter(config[section].values())) == expected


VECTOR_CASES = [
    ("sources: {app: {type: file, include: [/a.log], read_from: end, multiline: {mode: halt_before, "
     "condition_pattern: '^\\d{4}-', start_pattern: '^\\d{4}-', timeout_ms: 500}}}\n"
     "sinks: {o: {type: console, inputs: [app]}}\n",
     "sources", {"type": "file", "include": ["/a.log"], "read_from": "end",
                 "multiline": {"mode": "pattern", "start_pattern": "^\\d{4}-", "timeout": "500ms"}}),
    ("sources: {app: {type: file, include: [/a.log]}}\n"
     "sinks: {o: {type: aws_kinesis_firehose, inputs: [app], region: us-east-1, stream_name: node-logs, "
     "encoding: {codec: json}}}\n",
     "sinks", {"type": "firehose", "inputs": ["app"], "layout": "vector", "region": "us-east-1",
               "delivery_stream": "node-logs", "encoding": "json"}),
    ("sources: {app: {type: file, include: [/a.log]}}\n"
     "sinks: {o: {type: opentelemetry, inputs: [app], protocol: {type: http, uri: 'https://otel.example:4318/v1/logs',"
     " method: post, encoding: {codec: protobuf}, compression: gzip,"
     " request: {headers: {content-type: application/x-protobuf, X-Tenant: logs}}}}}\n",
     "sinks", {"type": "opentelemetry", "inputs": ["app"], "endpoint": "https://otel.example:4318",
               "encoding": "protobuf", "compression": "gzip", "headers": {"X-Tenant": "logs"}}),
    ("sources: {app: {type: file, include: [/a.log]}}\n"
     "sinks: {o: {type: gcp_stackdriver_logs, inputs: [app], project_id: my-project,"
     " credentials_path: /etc/gcp/key.json, log_id: '{{ kubernetes.pod_namespace }}',"
     " resource: {type: k8s_container, cluster_name: prod,"
     " location: europe-west1, pod_name: x}, severity_key: level, labels: {app: '{{ kubernetes.pod_labels.app }}'},"
     " batch: {max_events: 500}}}\n",
     "sinks", {"type": "google_cloud_logging", "inputs": ["app"], "layout": "vector", "project_id": "my-project",
               "log_name": "{kubernetes.pod_namespace}", "credentials_file": "/etc/gcp/key.json",
               "resource_type": "k8s_container", "cluster_name": "prod", "location": "europe-west1",
               "severity_field": "level", "labels": {"app": "{kubernetes.pod_labels.app}"}, "max_batch_events": 500}),
    ("sources: {app: {type: file, include: [/a.log]}}\n"
     "transforms: {p: {type: remap, inputs: ['ap*'],\n"
     "  source: '.parsed = parse_regex!(.message, r''^(?P<level>\\w+) '')'}}\n"
     "sinks: {o: {type: console, inputs: [p]}}\n",
     "transforms", {"type": "parse", "inputs": ["app"], "field": "message", "format": "regex",
                    "pattern": "^(?P<level>\\w+) ", "target": "parsed"}),
]


@pytest.mark.parametrize(("text", "section", "expected"), VECTOR_CASES,
                         ids=["file_multiline", "firehose", "opentelemetry", "gcp_stackdriver_logs", "regex"])
def test_each_vector_component_becomes_its_counterpart(tmp_path, text, section, expected):
    _, config = translated(tmp_path, "vector", text, "in.yaml")

    assert next(iter(config[section].values())) == expected
