"""`shipper check`: a good configuration prints the pipeline; every mistake names key, reason and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from peers.kube_api import FakeKubeApi
from shipper.cli import main
from shipper.components import parse_config

GOOD = """\
data_dir: ${DATA_DIR:-/tmp/shipper-test}
buffer: {max_size: 512MiB}
shutdown_timeout: 5s
sources:
  app:
    type: file
    include: [/var/log/app/*.log]
    format: json
sinks:
  out:
    type: console
    inputs: [app]
"""


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "shipper.yaml"
    path.write_text(textwrap.dedent(text))
    code = main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_the_resolved_pipeline_and_exits_0(tmp_path, capsys):
    code, out, err = check(tmp_path, GOOD, capsys)

    assert code == 0, err
    assert out.splitlines() == [
        "data_dir: /tmp/shipper-test  buffer.max_size: 536870912 bytes  shutdown_timeout: 5s",
        "sources:",
        "  app (file): /var/log/app/*.log",
        "sinks:",
        "  out (console) <- app",
    ]


def test_env_references_expand_with_defaults_and_escapes():
    text = GOOD.replace("5s", "${GRACE}").replace("/var/log/app/*.log", "'/logs/$${literal}/*.log'")

    config = parse_config(text, "x.yaml", {"GRACE": "250ms", "DATA_DIR": ""})

    assert config.data_dir == "/tmp/shipper-test"
    assert config.shutdown_timeout == 0.25
    assert config.sources["app"].include == ["/logs/${literal}/*.log"]


MISTAKES = [
    pytest.param(
        ("    type: file\n", "    type: file\n    inclde: x\n"),
        "sources.app.inclde: unknown key 'inclde' (did you mean 'include'?) (line 7)",
        id="unknown-key",
    ),
    pytest.param(
        ("shutdown_timeout: 5s", "shutdown_timeout: soon"),
        "shutdown_timeout: 'soon' is not a duration; use a number with one of the units ms, s, m, h, d (line 3)",
        id="bad-duration",
    ),
    pytest.param(
        ("max_size: 512MiB", "max_size: 512Mibs"),
        "buffer.max_size: '512Mibs' is not a size; use a number with one of the units B, KB, MB, GB, KiB, MiB, GiB "
        "(line 2)",
        id="bad-size-unit",
    ),
    pytest.param(
        ("    include: [/var/log/app/*.log]\n", ""),
        "sources.app.include: required key is missing (line 5)",
        id="missing-required",
    ),
    pytest.param(
        ("inputs: [app]", "inputs: [app, ghost]"),
        "sinks.out.inputs[1]: 'ghost' is not the id of a source or transform output (known: app) (line 12)",
        id="unknown-input",
    ),
    pytest.param(
        ("5s", "${SHIPPER_TEST_UNSET_VARIABLE}"),
        "shutdown_timeout: environment variable SHIPPER_TEST_UNSET_VARIABLE is not set and has no default (line 3)",
        id="unset-env-var",
    ),
    pytest.param(
        ("    format: json\n", "    format: json\n   bad: [\n"),
        "invalid YAML: expected <block end>, but found '<block mapping start>' (line 9)",
        id="invalid-yaml",
    ),
    pytest.param(
        ("type: console", "type: kafka"),
        "sinks.out.type: type 'kafka' is not one of 'console', 'cloudwatch_logs', 'syslog', 'http', 'opentelemetry', "
        "'firehose', 'kinesis_streams', 's3', 'google_cloud_logging' (line 11)",
        id="unknown-component-type",
    ),
    pytest.param(
        ("format: json", "format: xml"),
        "sources.app.format: 'xml' is not one of 'plain' or 'json' (line 8)",
        id="bad-choice",
    ),
    pytest.param(
        ("include: [/var/log/app/*.log]", "include: /var/log/app/*.log"),
        "sources.app.include: expected a list, got '/var/log/app/*.log' (line 7)",
        id="wrong-type",
    ),
    pytest.param(
        ("include: [/var/log/app/*.log]", "include: [var/log/app/*.log]"),
        "sources.app.include: 'var/log/app/*.log' is not an absolute path (line 7)",
        id="relative-path",
    ),
    pytest.param(
        ("    format: json\n", "    format: json\n    type: file\n"),
        "sources.app: duplicate key 'type' (line 9)",
        id="duplicate-key",
    ),
    pytest.param(
        ("max_size: 512MiB", "max_size: 1KiB"),
        "buffer.max_size: 1024 must be at least 1048576 (line 2)",
        id="out-of-range",
    ),
    pytest.param(
        ("sinks:\n  out:\n    type: console\n    inputs: [app]\n", "sinks:\n  out:\n    type: console\n"),
        "sinks.out.inputs: required key is missing (line 10)",
        id="sink-without-inputs",
    ),
    pytest.param(
        ("    format: json\n", "    format: json\n    multiline: {start_pattern: '(?=\\\\d)'}\n"),
        "sources.app.multiline.start_pattern: not a regular expression RE2 can run in linear time: invalid perl "
        "operator: (?= (lookaround is not supported) (line 9)",
        id="pattern-re2-refuses",
    ),
    pytest.param(
        ("sources:\n  app:\n    type: file\n    include: [/var/log/app/*.log]\n    format: json\n",
         "sources:\n  app:\n    type: forward\n    shared_key: ${SHIPPER_TEST_UNSET_KEY:-}\n"),
        "sources.app.shared_key: is empty: an empty key proves nothing (an unset ${VARIABLE:-}?); leave shared_key "
        "out for no handshake (line 7)",
        id="empty-shared-key",
    ),
    pytest.param(
        ("  app:\n", "  bad id:\n"),
        "sources: 'bad id' is not a valid id (letters, digits, '_' and '-') (line 4)",
        id="bad-component-id",
    ),
]


@pytest.mark.parametrize(("edit", "message"), MISTAKES)
def test_check_names_the_key_and_the_reason_and_exits_2(tmp_path, capsys, edit, message):
    old, new = edit
    assert old in GOOD
    code, out, err = check(tmp_path, GOOD.replace(old, new, 1), capsys)

    assert code == 2
    assert out == ""
    assert f"  {message}\n" in err, err


def test_every_mistake_in_a_file_is_reported_at_once(tmp_path, capsys):
    broken = GOOD.replace("512MiB", "lots").replace("format: json", "format: xml").replace("[app]", "[nope]")

    code, _, err = check(tmp_path, broken, capsys)

    assert code == 2
    assert err.splitlines()[0].endswith("shipper.yaml: 2 configuration error(s)")
    assert "buffer.max_size:" in err and "sources.app.format:" in err


def test_a_source_no_sink_takes_is_an_error(tmp_path, capsys):
    text = GOOD.replace("sinks:", "  spare:\n    type: file\n    include: [/tmp/*.log]\nsinks:")

    code, _, err = check(tmp_path, text, capsys)

    assert code == 2
    assert "  sources.spare: nothing takes this source in its inputs (line 9)\n" in err


def test_a_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(["check", "--config", str(tmp_path / "absent.yaml")])

    assert code == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_run_with_a_broken_config_exits_2_before_creating_anything(tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "broken.yaml"
    config.write_text(GOOD.replace("/tmp/shipper-test", str(data_dir)).replace("5s", "never"))

    result = subprocess.run([sys.executable, "-m", "shipper", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "shutdown_timeout: 'never' is not a duration" in result.stderr
    assert not data_dir.exists()


def test_version_prints_the_package_version():
    result = subprocess.run([sys.executable, "-m", "shipper", "--version"], capture_output=True, text=True)

    assert result.returncode == 0
    assert result.stdout.startswith("shipper 0.")


@pytest.mark.parametrize("command", [[], ["run"], ["check"], ["status"]])
def test_every_help_gives_an_example_and_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "example" in out and "exit codes:" in out and "--config" in out.replace("-c CONFIG", "--config")


def test_check_warns_of_a_template_field_no_input_produces_and_of_a_glob_matching_nothing(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("x\n")
    code, out, err = check(tmp_path, f"""\
        data_dir: {tmp_path}/data
        sources:
          pods: {{type: kubernetes_logs, include: ["{tmp_path}/containers/*.log"]}}
          app: {{type: file, include: ["{tmp_path}/logs/*.log"]}}
        sinks:
          cw:
            type: cloudwatch_logs
            inputs: [pods]
            region: us-east-1
            group_name: /eks/{{kubernetes.namspace}}
            stream_name: "{{kubernetes.labels[\\"app.kubernetes.io/name\\"]}}"
          out: {{type: console, inputs: [app]}}
        """, capsys)

    assert code == 0 and "sinks:" in out
    assert ("warning: sinks.cw.group_name: {kubernetes.namspace} is a field no input of this sink produces (pods): "
            "did you mean {kubernetes.namespace}?") in err
    assert f"warning: sources.pods.include[0]: {tmp_path}/containers/*.log matches no file (yet)" in err
    assert 'sinks.cw.stream_name: {kubernetes.labels["app.kubernetes.io/name"]} is a field no input' in err  # no api

    server = FakeKubeApi().start()
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    code, _, err = check(tmp_path, f"""\
        data_dir: {tmp_path}/data
        sources:
          pods:
            type: kubernetes_logs
            include: ["{tmp_path}/logs/*.log"]
            api: {{kubeconfig: {kubeconfig}, node_name: n}}
        sinks:
          cw:
            type: cloudwatch_logs
            inputs: [pods]
            region: us-east-1
            group_name: /eks/{{kubernetes.namespace}}
            stream_name: "{{kubernetes.labels[\\"app.kubernetes.io/name\\"]}}"
        """, capsys)

    server.stop()

    assert code == 0 and "warning" not in err  # labels come from the API


def test_check_warns_when_a_destination_is_named_by_what_unauthenticated_forward_clients_write(tmp_path, capsys):
    config = f"""\
        data_dir: {tmp_path}/data
        sources:
          docker: {{type: forward, address: "127.0.0.1:{{port}}", KEY}}
        sinks:
          cw:
            type: cloudwatch_logs
            inputs: [docker]
            region: us-east-1
            group_name: /docker/{{host}}
            stream_name: "{{container_name}}"
        """
    open_code, _, open_err = check(tmp_path, config.replace("{port}", "24301").replace(", KEY", ""), capsys)
    keyed_code, _, keyed_err = check(tmp_path, config.replace("{port}", "24302").replace("KEY", "shared_key: k3y"),
                                     capsys)

    assert open_code == keyed_code == 0
    assert ("warning: sinks.cw.stream_name: {container_name} is written by clients of docker that nobody "
            "authenticates") in open_err
    assert "group_name" not in open_err  # host is the agent's own
    assert "nobody authenticates" not in keyed_err


def test_check_asks_the_kubernetes_api_with_the_agents_credentials_and_names_the_missing_piece(
        tmp_path, capsys, monkeypatch):
    server = FakeKubeApi().start()
    try:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        closed = tmp_path / "closed-kubeconfig"
        closed.write_text(kubeconfig.read_text().replace(server.url, "http://127.0.0.1:9"))
        config = f"""\
            data_dir: {tmp_path}/data
            sources:
              pods: {{type: kubernetes_logs, include: ["{tmp_path}/*.log"], api: API}}
            sinks:
              out: {{type: console, inputs: [pods]}}
            """
        answering = check(tmp_path, config.replace("API", f"{{kubeconfig: {kubeconfig}, node_name: node-1}}"), capsys)
        silent = check(tmp_path, config.replace("API", f"{{kubeconfig: {closed}, node_name: node-1}}"), capsys)
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.delenv("NODE_NAME", raising=False)
        outside = check(tmp_path, config.replace("API", "{}"), capsys)
    finally:
        server.stop()

    assert answering[0] == 0 and "sources.pods.api" not in answering[2]
    assert silent[0] == 0 and "warning: sources.pods.api: the API server does not answer" in silent[2]
    assert outside[0] == 2
    assert "sources.pods.api.kubeconfig: no kubeconfig, and not in a pod (KUBERNETES_SERVICE_HOST and " in outside[2]
    assert "sources.pods.api.node_name: no node name" in outside[2] and "Traceback" not in outside[2]


@pytest.mark.parametrize(("template", "ours"), [
    ("/eks/{{ kubernetes.pod_namespace }}", "{{ kubernetes.pod_namespace }} is Vector's way to name a field; here it "
                                            "is {kubernetes.namespace}"),
    ("/eks/$kubernetes['namespace_name']", "$kubernetes['namespace_name'] is Fluent Bit's record accessor; here the "
                                           "field is {kubernetes.namespace}"),
    ("$kubernetes['labels']['app']", "here the field is {kubernetes.labels.app}"),
])
def test_check_refuses_a_template_in_vectors_or_fluent_bits_spelling_and_gives_ours(tmp_path, capsys, template, ours):
    code, _, err = check(tmp_path, f"""\
        data_dir: {tmp_path}/data
        sources:
          pods: {{type: kubernetes_logs, include: ["{tmp_path}/containers/*.log"]}}
        sinks:
          cw: {{type: cloudwatch_logs, inputs: [pods], region: us-east-1, group_name: "{template}", stream_name: x}}
        """, capsys)

    assert code == 2
    assert "sinks.cw.group_name" in err and ours in err
    assert "Traceback" not in err


def test_check_names_the_field_a_peers_name_stands_for(tmp_path, capsys):
    code, _, err = check(tmp_path, f"""\
        data_dir: {tmp_path}/data
        sources:
          pods: {{type: kubernetes_logs, include: ["{tmp_path}/containers/*.log"]}}
        sinks:
          cw:
            type: cloudwatch_logs
            inputs: [pods]
            region: us-east-1
            group_name: "/eks/{{kubernetes.namespace_name}}"
            stream_name: "{{kubernetes.pod_name}}"
        """, capsys)

    assert code == 0, err
    assert "{kubernetes.namespace_name} is a field no input of this sink produces (pods): that is Fluent Bit's name " \
           "for {kubernetes.namespace}" in err
