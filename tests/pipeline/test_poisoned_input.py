"""One poisoned file never stops the files after it: its unstorable records are repaired, counted and
shipped, and every healthy file is read."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.agent_process import AgentProcess, http_get, output_messages, wait_for, with_api, write_config


def anomalies(api: str, kind: str) -> float:
    for family in text_string_to_metric_families(http_get(f"{api}/metrics")[1]):
        for sample in family.samples:
            if sample.name == "shipper_input_anomalies_total" and sample.labels.get("kind") == kind:
                return sample.value
    return 0.0


def test_a_poisoned_file_sorted_first_does_not_stop_the_healthy_file_after_it(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    deep = "[" * 300 + "]" * 300  # orjson reads this deep, but writes at most 254 levels
    (logs / "a-poisoned.log").write_text(f'{{"deep": {deep}}}\n{{"fine": 1}}\n')
    (logs / "b-healthy.log").write_text('{"msg": "healthy 1"}\n{"msg": "healthy 2"}\n')
    config = write_config(tmp_path / "shipper.yaml", {
        "data_dir": str(tmp_path / "data"),
        "sources": {"app": {"type": "file", "include": [f"{logs}/*.log"], "format": "json", "poll_interval": "20ms"}},
        "sinks": {"out": {"type": "console", "inputs": ["app"]}},
    })
    api = with_api(config)
    out = tmp_path / "out.jsonl"

    with open(out, "wb") as stdout:
        agent = AgentProcess(config, stdout=stdout)
        wait_for(lambda: len(output_messages(out)) == 4, 30, "all four lines delivered")
        assert anomalies(api, "unstorable_value") == 1
        assert agent.terminate(timeout=10) == 0

    assert sorted(output_messages(out)) == sorted(
        [f'{{"deep": {deep}}}', '{"fine": 1}', '{"msg": "healthy 1"}', '{"msg": "healthy 2"}'])
    assert "stored records repaired (1 unstorable value) from" in agent.log()
    assert "a-poisoned.log" in agent.log()
