"""The cloudwatch_logs sink against LocalStack: exactly once, in order, through faults and kills."""

from __future__ import annotations

import contextlib
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from peers.fake_cloudwatch import FakeCloudWatch
from peers.fault_proxy import FaultProxy
from shipper.buffer.spool import SpoolView
from tests.agent_process import AgentProcess, http_get, wait_for, with_api
from tests.cloudwatch import agent_config, arrived, count_arrived, groups, logs_client, unique_prefix, use_irsa
from tests.node import KubeletWriter, make_pod, write_cri

pytestmark = pytest.mark.localstack


@pytest.fixture
def proxy(localstack):
    running = FaultProxy(localstack).start()
    yield running
    running.stop()


def make_pods(root: Path, count: int, lines: int, rotate_every: int, namespaces=("shop", "billing"),
              pause_every: int = 200) -> list[tuple[str, str, KubeletWriter]]:
    """Pods with their writers not started yet: start them once the agent tails the files, or the
    first rotation may come before the agent ever saw the file (lines no tailer could know of)."""
    pods = []
    for i in range(count):
        namespace = namespaces[i % len(namespaces)]
        pod = f"web-{i}"
        pod_dir = make_pod(root, namespace, pod, uid=f"00000000-0000-0000-0000-{i:012d}")
        writer = KubeletWriter(pod_dir, lines, rotate_every, seed=i, prefix=pod, pause_every=pause_every)
        pods.append((namespace, pod, writer))
    return pods


def start_writers(agent: AgentProcess, pods) -> None:
    wait_for(lambda: agent.log().count("tailing ") >= len(pods), 30, "the agent to tail every pod")
    for _, _, writer in pods:
        writer.start()


def expected_streams(prefix: str, pods) -> dict[tuple[str, str], list[str]]:
    return {(f"{prefix}/{namespace}", f"{pod}.app"): writer.lines for namespace, pod, writer in pods}


def assert_exactly_once_in_order(got: dict[tuple[str, str], list[str]], want: dict[tuple[str, str], list[str]]):
    assert set(got) == set(want)
    for key, lines in want.items():
        counts = Counter(got[key])
        lost = [line for line in lines if line not in counts]
        duplicated = [line for line, n in counts.items() if n > 1]
        assert not lost, f"{key}: {len(lost)} lost, first {lost[:3]}"
        assert not duplicated, f"{key}: {len(duplicated)} duplicated, first {duplicated[:3]}"
        assert got[key] == lines, f"{key}: out of order"


def wait_until_arrived(client, prefix: str, total: int, timeout: float) -> None:
    wait_for(lambda: count_arrived(client, prefix) >= total, timeout, f"{total} events in CloudWatch", interval=1.0)


@pytest.mark.slow
def test_200k_lines_of_20_rotating_pods_arrive_exactly_once_in_order_in_their_streams(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")], retention_days=14,
                       tags={"team": "platform"})
    pods = make_pods(tmp_path, count=20, lines=10_000, rotate_every=2_500, pause_every=25)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    start_writers(agent, pods)

    for _, _, writer in pods:
        writer.join()
    wait_until_arrived(client, prefix, 200_000, timeout=240)
    assert agent.terminate(timeout=30) == 0

    assert_exactly_once_in_order(arrived(client, prefix), expected_streams(prefix, pods))
    assert all(w.rotations >= 3 for _, _, w in pods)
    created = {g["logGroupName"]: g for g in groups(client, prefix)}
    assert set(created) == {f"{prefix}/shop", f"{prefix}/billing"}
    assert all(g.get("retentionInDays") == 14 for g in created.values())
    tags = client.list_tags_for_resource(resourceArn=created[f"{prefix}/shop"]["logGroupArn"])["tags"]
    assert tags == {"team": "platform"}


def test_throttling_5xx_resets_and_hangs_lose_nothing_and_duplicate_nothing(tmp_path, localstack, proxy, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, proxy.url, prefix, [str(tmp_path / "containers" / "*.log")],
                       request_timeout="1s", batch_timeout="100ms")
    pods = make_pods(tmp_path, count=4, lines=5_000, rotate_every=1_500, pause_every=50)
    for group, stream in expected_streams(prefix, pods):  # so that faulted requests would land
        with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    proxy.throttle(12)
    proxy.unavailable(4, 503)
    proxy.unavailable(2, 500)
    proxy.reset(3)
    proxy.reset_after_forward(3)
    proxy.hang(2)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    start_writers(agent, pods)

    for _, _, writer in pods:
        writer.join()
    wait_until_arrived(client, prefix, 20_000, timeout=180)
    wait_for(lambda: proxy.pending() == 0, 30, "every fault used")
    assert agent.terminate(timeout=30) == 0

    assert_exactly_once_in_order(arrived(client, prefix), expected_streams(prefix, pods))
    assert proxy.injected["reset_after_forward"] == 3
    assert "had landed before; not sending it again" in agent.log()


@pytest.mark.slow
@pytest.mark.parametrize("per_stream", [1, 4])
def test_sigkill_at_random_points_during_delivery_then_restart_duplicates_nothing(tmp_path, localstack, proxy,
                                                                                 aws_env, per_stream):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, proxy.url, prefix, [str(tmp_path / "containers" / "*.log")],
                       batch_timeout="100ms", max_requests_per_stream=per_stream)
    proxy.slow(0.4)  # every batch lands 0.4 s before the agent learns it: kills often fall in between
    # a rotation every ~4 s: the writer gzips and deletes a rotated file at the next rotation, so an agent
    # killed before finishing one must be back before then (restarts take ~1 s on a busy CI machine; at
    # ~1 s between rotations the tail of a file was sometimes gone before any agent could read it)
    pods = make_pods(tmp_path, count=3, lines=6_000, rotate_every=2_000, pause_every=5)
    rng = random.Random(7)
    kills = 0
    while any(w.is_alive() for _, _, w in pods) or kills < 8:
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        if kills == 0:
            start_writers(agent, pods)
        # killed at a random point of its delivery, not of its start-up: on a loaded machine a start
        # takes seconds, and kills that all came before the agents read anything left the files
        # unread for longer than a rotation, whose rotated file is then deleted (gone for any reader)
        agent.wait_until_running(60)
        time.sleep(rng.uniform(0.6, 2.0))
        agent.kill()
        kills += 1
    proxy.slow(0)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    wait_until_arrived(client, prefix, 18_000, timeout=180)
    assert agent.terminate(timeout=30) == 0

    got, want = arrived(client, prefix), expected_streams(prefix, pods)
    if per_stream == 1:
        assert_exactly_once_in_order(got, want)
    else:  # several requests of a stream in flight: the order rests on timestamps, the counts stay exact
        assert_exactly_once_in_order({key: sorted(lines) for key, lines in got.items()},
                                     {key: sorted(lines) for key, lines in want.items()})
    assert kills >= 8


def test_a_log_group_deleted_while_running_is_created_again_and_the_batch_resent(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")])
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, ["before 1", "before 2"])
    wait_until_arrived(client, prefix, 2, timeout=30)

    client.delete_log_group(logGroupName=f"{prefix}/shop")
    write_cri(pod_dir, ["after 1", "after 2"])
    wait_until_arrived(client, prefix, 2, timeout=30)
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): ["after 1", "after 2"]}


def test_access_denied_keeps_the_records_and_delivers_them_once_access_returns(tmp_path, localstack, proxy, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, proxy.url, prefix, [str(tmp_path / "containers" / "*.log")])
    api = with_api(cfg)
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    proxy.deny(True)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, [f"line {i}" for i in range(100)])

    wait_for(lambda: "not ready: refused: AccessDeniedException" in agent.log(), 30, "the sink to report it")
    status, body = http_get(f"{api}/readyz")
    assert status == 503 and "AccessDeniedException" in body
    assert http_get(f"{api}/healthz")[0] == 200
    assert count_arrived(client, prefix) == 0
    proxy.deny(False)
    wait_until_arrived(client, prefix, 100, timeout=60)
    wait_for(lambda: http_get(f"{api}/readyz")[0] == 200, 30, "/readyz ready again")
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix)[(f"{prefix}/shop", "web-0.app")] == [f"line {i}" for i in range(100)]
    assert "ready again" in agent.log()


def test_records_lacking_a_template_field_go_to_the_fallback_names_and_bad_characters_are_replaced(
        tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    (tmp_path / "app").mkdir()
    # the first record of the block lacks the field: the fallback is counted for that record only
    (tmp_path / "app" / "a.log").write_text('{"msg": "two"}\n{"service": "pay:ments*", "msg": "one"}\n')
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "app" / "*.log")],
                       source={"type": "file", "format": "json"},
                       group_name=prefix + "/{service}", stream_name="{service}",
                       fallback_group_name=prefix + "/unrouted", fallback_stream_name="unrouted")
    api = with_api(cfg)
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_until_arrived(client, prefix, 2, timeout=30)
    _, scraped = http_get(api + "/metrics")
    assert agent.terminate(timeout=30) == 0

    assert ('shipper_events_fallback_named_total{component_id="cw",component_kind="sink",'
            'component_type="cloudwatch_logs"} 1.0') in scraped
    got = arrived(client, prefix)
    assert set(got) == {(f"{prefix}/pay_ments_", "pay_ments_"), (f"{prefix}/unrouted", "unrouted")}
    assert [orjson.loads(m)["msg"] for m in got[(f"{prefix}/unrouted", "unrouted")]] == ["two"]


def test_json_encoding_sends_an_object_with_the_fields_and_kubernetes_metadata(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")], encoding="json")
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, ["hello"], stream="stderr")

    wait_until_arrived(client, prefix, 1, timeout=30)
    assert agent.terminate(timeout=30) == 0

    (message,) = arrived(client, prefix)[(f"{prefix}/shop", "web-0.app")]
    event = orjson.loads(message)
    assert event["message"] == "hello" and event["stream"] == "stderr"
    assert event["kubernetes"]["pod_name"] == "web-0" and event["kubernetes"]["namespace"] == "shop"


def test_irsa_web_identity_token_is_exchanged_at_sts_and_delivers(tmp_path, localstack, proxy, aws_env, monkeypatch):
    prefix = unique_prefix()
    client = logs_client(localstack)
    use_irsa(monkeypatch, tmp_path, proxy.url)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")])
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, ["via irsa"])

    wait_until_arrived(client, prefix, 1, timeout=60)
    assert agent.terminate(timeout=30) == 0

    assert proxy.seen["AssumeRoleWithWebIdentity"] >= 1
    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): ["via irsa"]}



def test_when_reading_back_is_denied_a_batch_that_may_have_landed_is_sent_again_and_counted(
        tmp_path, localstack, proxy, aws_env):
    # the least-privilege policy alone has no logs:GetLogEvents: at least once for that batch, said and counted
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, proxy.url, prefix, [str(tmp_path / "containers" / "*.log")])
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    client.create_log_group(logGroupName=f"{prefix}/shop")  # so that the reset request lands
    client.create_log_stream(logGroupName=f"{prefix}/shop", logStreamName="web-0.app")
    proxy.deny(True, operation="GetLogEvents")
    proxy.reset_after_forward(1)  # landed, but the agent never hears it
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, ["once or twice"])

    wait_for(lambda: "reading" in agent.log() and "back is denied" in agent.log(), 60, "the fallback said")
    wait_until_arrived(client, prefix, 2, timeout=30)
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): ["once or twice", "once or twice"]}
    assert proxy.seen["GetLogEvents"] == 1


def test_a_1_mib_event_arrives_whole_in_a_group_created_with_its_kms_key(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    key = "arn:aws:kms:us-east-1:000000000000:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")],
                       source={"max_line_size": "2MiB"}, kms_key_id=key)
    largest = "y" * (1024 * 1024 - 26)  # CloudWatch's event limit, counting 26 bytes of overhead
    write_cri(make_pod(tmp_path, "shop", "web-0"), [largest, "after"])
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_for(lambda: count_arrived(client, prefix) >= 2, 60, "both events in CloudWatch", interval=0.5)
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): [largest, "after"]}
    (group,) = groups(client, prefix)
    assert group.get("kmsKeyId") == key


def test_groups_are_created_in_their_class_with_deletion_protection(tmp_path, aws_env):
    # LocalStack ignores both (it reports every group STANDARD, unprotected): the strict endpoint keeps them
    strict = FakeCloudWatch().start()
    try:
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           log_group_class="INFREQUENT_ACCESS", deletion_protection=True)
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["hello"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

        wait_for(lambda: strict.accepted >= 1, 30, "the event accepted")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    group = strict.groups["/strict/shop"]
    assert (group["logGroupClass"], group["deletionProtectionEnabled"]) == ("INFREQUENT_ACCESS", True)
    assert "kmsKeyId" not in group  # options not set are not sent


@pytest.mark.parametrize("denied", [frozenset(), frozenset({"DescribeLogGroups"})], ids=["checked", "not-allowed"])
def test_an_existing_group_of_another_class_is_used_as_it_is_and_said_once(tmp_path, aws_env, denied):
    strict = FakeCloudWatch(denied=denied).start()
    try:
        logs_client(strict.url).create_log_group(logGroupName="/strict/shop", logGroupClass="STANDARD")
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           log_group_class="INFREQUENT_ACCESS", create_missing_group=True)
        for pod in ("web-0", "web-1", "web-2"):
            write_cri(make_pod(tmp_path, "shop", pod, uid=f"00000000-0000-0000-0000-00000000000{pod[-1]}"),
                      [f"{pod} hello"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

        wait_for(lambda: strict.accepted >= 3, 30, "the three events accepted")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    log = agent.log()
    assert strict.groups["/strict/shop"]["logGroupClass"] == "STANDARD"
    assert strict.calls["DescribeLogGroups"] == 1  # once per group, not per stream
    if denied:
        assert log.count("cannot check the class of existing log groups (AccessDeniedException)") == 1
        assert "exists with class" not in log
    else:
        assert log.count("log group /strict/shop exists with class STANDARD, not INFREQUENT_ACCESS") == 1


def test_a_group_whose_kms_key_is_unusable_parks_its_stream_and_keeps_its_records(tmp_path, aws_env):
    strict = FakeCloudWatch(kms_keys=frozenset()).start()  # the configured key does not exist
    try:
        logs_client(strict.url).create_log_group(logGroupName="/strict/shop")  # exists: nothing to create
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           kms_key_id="arn:aws:kms:us-east-1:000000000000:key/gone")
        api = with_api(cfg)
        write_cri(make_pod(tmp_path, "locked", "app-0"), ["kept 1", "kept 2"])
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["delivered"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

        wait_for(lambda: '"parked"' in http_get(f"{api}/readyz")[1] and strict.accepted >= 1, 30,
                 "the locked stream parked and the shop stream delivered")
        status, body = http_get(f"{api}/readyz")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    assert status == 200 and list(orjson.loads(body)["parked"]["cw"]) == ["/strict/locked/app-0.app"]
    assert strict.streams[("/strict/shop", "web-0.app")] and "/strict/locked" not in strict.groups
    view = SpoolView.open(tmp_path / "data")
    assert view is not None and view.parked("cw")["/strict/locked\tapp-0.app"].count == 2  # kept aside, on disk
    view.close()


def test_each_request_carries_the_entity_of_its_events(tmp_path, aws_env):
    strict = FakeCloudWatch().start()
    try:
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           stream_name="{kubernetes.namespace}",  # several pods, and entities, in one stream
                           entity={"key_attributes": {"Type": "Service", "Name": "{kubernetes.pod_name}",
                                                      "Environment": "test/{kubernetes.namespace}"},
                                   "attributes": {"K8s.Pod": "{kubernetes.pod_name}"}})
        for n, pod in enumerate(("web-0", "web-1")):
            write_cri(make_pod(tmp_path, "shop", pod, uid=f"00000000-0000-0000-0000-00000000000{n}"),
                      [f"{pod} line {i}" for i in range(50)])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: strict.accepted >= 100, 30, "the 100 events accepted")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    assert strict.requests and all(r["stream"] == "shop" for r in strict.requests)
    for request in strict.requests:
        pod = request["entity"]["keyAttributes"]["Name"]
        assert request["entity"] == {"keyAttributes": {"Type": "Service", "Name": pod, "Environment": "test/shop"},
                                     "attributes": {"K8s.Pod": pod}}
        assert all(message.startswith(f"{pod} line ") for message in request["messages"])
    assert sorted(m for r in strict.requests for m in r["messages"]) == sorted(
        f"{pod} line {i}" for pod in ("web-0", "web-1") for i in range(50))


def test_a_rejected_entity_is_counted_and_the_events_are_stored(tmp_path, aws_env):
    strict = FakeCloudWatch().start()
    try:
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           entity={"key_attributes": {"Type": "Pod", "Name": "{kubernetes.pod_name}"}})
        api = with_api(cfg)
        write_cri(make_pod(tmp_path, "shop", "web-0"), ["one", "two"])
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
        wait_for(lambda: strict.accepted >= 2, 30, "both events accepted")
        _, metrics_text = http_get(f"{api}/metrics")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    assert strict.streams[("/strict/shop", "web-0.app")] and strict.accepted == 2
    assert 'shipper_cloudwatch_entities_rejected_total{component_id="cw",component_kind="sink",' \
           'component_type="cloudwatch_logs",error_type="InvalidTypeValue"} 1.0' in metrics_text
    assert agent.log().count("CloudWatch rejected the entity of a request") == 1


def test_localstack_accepts_requests_with_the_kubernetes_entity(tmp_path, localstack, aws_env):
    prefix = unique_prefix()
    client = logs_client(localstack)
    cfg = agent_config(tmp_path, localstack, prefix, [str(tmp_path / "containers" / "*.log")],
                       source={"cluster_name": "test"},
                       entity={"preset": "kubernetes", "key_attributes": {"Name": "{kubernetes.pod_name}"}})
    write_cri(make_pod(tmp_path, "shop", "web-0"), ["with an entity"])
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

    wait_until_arrived(client, prefix, 1, 60)
    assert agent.terminate(timeout=30) == 0

    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): ["with an entity"]}


@pytest.mark.parametrize("per_stream", [1, 4])
def test_a_busy_stream_may_have_several_requests_in_flight_and_nothing_is_lost_or_repeated(tmp_path, aws_env,
                                                                                           per_stream):
    strict = FakeCloudWatch(put_delay=0.2).start()
    try:
        cfg = agent_config(tmp_path, strict.url, "/strict", [str(tmp_path / "containers" / "*.log")],
                           max_requests_per_stream=per_stream, batch_timeout="50ms")
        lines = [f"line {i:06d} " + "x" * 1000 for i in range(6000)]  # ~6 MB: six or more full batches
        write_cri(make_pod(tmp_path, "shop", "web-0"), lines)
        agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)

        wait_for(lambda: strict.accepted >= len(lines), 60, "every line accepted")
        assert agent.terminate(timeout=30) == 0
    finally:
        strict.stop()

    delivered = [message for _, message in strict.streams[("/strict/shop", "web-0.app")]]
    assert sorted(delivered) == lines  # each line once
    assert strict.most_in_flight[("/strict/shop", "web-0.app")] == (1 if per_stream == 1 else per_stream)
    if per_stream == 1:
        assert delivered == lines  # and in the order it was read


def test_assume_role_makes_the_calls_as_the_role_assumed_with_the_nodes_credentials(
        tmp_path, localstack, proxy, aws_env, monkeypatch):
    prefix = unique_prefix()
    client = logs_client(localstack)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
    cfg = agent_config(tmp_path, proxy.url, prefix, [str(tmp_path / "containers" / "*.log")],
                       assume_role={"role_arn": "arn:aws:iam::000000000000:role/central-logs",
                                    "external_id": "shipper-test", "session_name": "node-1", "duration": "1h"})
    pod_dir = make_pod(tmp_path, "shop", "web-0")
    agent = AgentProcess(cfg, stdout=subprocess.DEVNULL)
    write_cri(pod_dir, ["as the central role"])

    wait_until_arrived(client, prefix, 1, timeout=60)
    assert agent.terminate(timeout=30) == 0

    assert proxy.seen["AssumeRole"] >= 1
    assert proxy.access_keys["AssumeRole"] == {"test"}  # the node's own credentials assume the role
    (assumed,) = proxy.access_keys["PutLogEvents"]
    assert assumed != "test"  # every PutLogEvents is signed with the role's credentials
    assert arrived(client, prefix) == {(f"{prefix}/shop", "web-0.app"): ["as the central role"]}
