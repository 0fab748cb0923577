"""`throttle`: exact budgets per key and window, and a summary record for what was dropped."""

from __future__ import annotations

from shipper.components import TRANSFORMS
from shipper.record import Block
from shipper.transforms.throttle.transform import MAX_KEY_LENGTH, bounded
from tests.transforms.helpers import metric


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_throttle(clock: Clock, transform_id: str, **options):
    component = TRANSFORMS["throttle"]
    validated = component.options.model_validate({"type": "throttle", "inputs": ["src"], **options})
    return component.load()(transform_id, validated, clock=clock)


def pod_block(pod: str, count: int, start: int = 0) -> Block:
    records = [(1, f"{pod} {i}", None) for i in range(start, start + count)]
    return Block("src", {"kubernetes": {"pod_name": pod}}, records)


def test_each_key_passes_its_limit_per_window_and_the_rest_is_dropped_and_counted():
    clock = Clock()
    throttle = make_throttle(clock, "th-exact", limit=3, window="10s", key="{kubernetes.pod_name}")
    before = metric("shipper_events_discarded_total", component_kind="transform", component_id="th-exact",
                    component_type="throttle", reason="throttled")

    first = throttle.run([pod_block("chatty", 10), pod_block("calm", 2)])["th-exact"]
    clock.now += 5
    second = throttle.run([pod_block("chatty", 4, start=10)])["th-exact"]

    assert [r[1] for b in first for r in b.records] == ["chatty 0", "chatty 1", "chatty 2", "calm 0", "calm 1"]
    assert second == []
    assert metric("shipper_events_discarded_total", component_kind="transform", component_id="th-exact",
                  component_type="throttle", reason="throttled") == before + 11


def test_a_summary_names_what_was_dropped_once_the_window_is_over():
    clock = Clock()
    throttle = make_throttle(clock, "th-summary", limit=2, window="1s", key="{kubernetes.pod_name}")
    throttle.run([pod_block("chatty", 7)])
    clock.now += 1.5

    out = throttle.run([pod_block("other", 1)])["th-summary"]

    summary, passed = out
    assert summary.common == {"kubernetes": {"pod_name": "chatty"}}
    assert summary.records[0][2] == {"throttle": {"key": "chatty", "dropped": 5, "limit": 2, "window_seconds": 1.0}}
    assert "dropped 5 records of key 'chatty'" in summary.records[0][1]
    assert [r[1] for r in passed.records] == ["other 0"]


def test_the_next_window_starts_with_a_full_budget():
    clock = Clock()
    throttle = make_throttle(clock, "th-next", limit=1, window="1s")
    throttle.run([pod_block("a", 3)])
    clock.now += 1.0

    out = throttle.run([pod_block("a", 3, start=3)])["th-next"]

    assert [r[1] for b in out for r in b.records][-1] == "a 3"
    assert out[0].records[0][2]["throttle"]["dropped"] == 2


def test_keys_beyond_max_keys_share_one_budget():
    clock = Clock()
    throttle = make_throttle(clock, "th-keys", limit=1, window="1m", key="{kubernetes.pod_name}", max_keys=2)

    out = throttle.run([pod_block(f"pod-{i}", 2) for i in range(5)])["th-keys"]

    assert [r[1] for b in out for r in b.records] == ["pod-0 0", "pod-1 0", "pod-2 0"]
    assert set(throttle.budgets) == {"pod-0", "pod-1", "_overflow"}


def test_long_keys_are_held_as_their_beginning_and_a_hash_so_memory_is_bounded_by_max_keys():
    clock = Clock()
    throttle = make_throttle(clock, "th-long", limit=1, window="10s", key="{kubernetes.pod_name}", max_keys=100)
    pods = [f"{n:03d}" + "x" * 256 * 1024 for n in range(150)]

    out = throttle.run([pod_block(pod, 2) for pod in pods])["th-long"]

    assert len(throttle.budgets) == 101  # max_keys and the overflow's
    assert max(map(len, throttle.budgets)) <= MAX_KEY_LENGTH
    assert len([r for b in out for r in b.records]) == 101
    assert len({bounded(pods[0]), bounded(pods[0][:-1] + "y")}) == 2  # keys alike to their end stay apart
