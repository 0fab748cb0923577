"""The fault plan: which faults and node events happen when, drawn from one recorded seed.

A plan is a list of steps run in order, each after a pause. Windows (a backend down, a full disk,
a read-only data dir) open in one step and close in a later one, so other faults land inside
them. Steps marked `accounted` compare the agent's own counters with what the step wrote; they are
placed outside every window, and nothing else happens while they wait for the agent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    duration: float  # seconds of faults
    kills: int  # SIGKILL, then a restart
    terms: int  # SIGTERM, then a restart
    pods: int  # writing from the start
    pods_added: int
    pods_deleted: int
    pod_rate: tuple[float, float]  # lines a second, per pod
    rotate_bytes: int
    throttle_storms: int
    server_errors: int  # bursts of 500/503
    resets: int  # bursts of resets, before and after the request reached CloudWatch
    hangs: int
    cloudwatch_outages: int  # CloudWatch unreachable for `outage` seconds
    syslog_outages: int  # rsyslog stopped for `outage` seconds
    outage: float
    rsyslog_restarts: int
    disk_full: int  # windows with the spool's disk full
    read_only: int  # windows with the data dir read-only (an agent restart meets it)
    clock_jumps: int
    garbage: int  # bursts of binary garbage and of invalid UTF-8
    tiny_files: int
    big_line: int  # bytes of the line without newline


SHORT = Profile(
    duration=150, kills=20, terms=2, pods=5, pods_added=2, pods_deleted=2, pod_rate=(20, 200),
    rotate_bytes=256 * 1024, throttle_storms=3, server_errors=3, resets=3, hangs=1, cloudwatch_outages=1,
    syslog_outages=0, outage=30, rsyslog_restarts=2, disk_full=1, read_only=1, clock_jumps=2, garbage=2,
    tiny_files=2_000, big_line=50 * 1024 * 1024,
)

LONG = Profile(
    duration=900, kills=120, terms=8, pods=12, pods_added=10, pods_deleted=10, pod_rate=(10, 300),
    rotate_bytes=512 * 1024, throttle_storms=15, server_errors=15, resets=15, hangs=5, cloudwatch_outages=3,
    syslog_outages=2, outage=30, rsyslog_restarts=8, disk_full=4, read_only=3, clock_jumps=8, garbage=6,
    tiny_files=100_000, big_line=50 * 1024 * 1024,
)

WINDOWS = {"cloudwatch_outage": "outage", "syslog_outage": "outage", "disk_full": 6.0, "read_only": 5.0}
ACCOUNTED = {"clock_jump", "garbage"}


@dataclass(frozen=True)
class Step:
    at: float  # seconds into the run
    action: str
    arg: int = 0  # how many (requests to fault, lines to write), when the action takes a number

    def __str__(self) -> str:
        return f"{self.at:7.1f}s {self.action}" + (f" {self.arg}" if self.arg else "")


def plan(seed: int, profile: Profile) -> list[Step]:
    rng = random.Random(seed)
    steps: list[Step] = []

    def some(action: str, count: int, arg: tuple[int, int] = (0, 0)) -> None:
        for _ in range(count):
            steps.append(Step(rng.uniform(2, profile.duration), action, rng.randint(*arg)))

    some("kill", profile.kills)
    some("term", profile.terms)
    some("pod_added", profile.pods_added)
    some("pod_deleted", profile.pods_deleted)
    some("throttle", profile.throttle_storms, (20, 80))
    some("server_error", profile.server_errors, (5, 40))
    some("reset", profile.resets, (3, 15))
    some("reset_after_forward", profile.resets, (3, 15))
    some("hang", profile.hangs, (1, 2))
    some("rsyslog_restart", profile.rsyslog_restarts)
    some("tiny_files", 1, (profile.tiny_files, profile.tiny_files))
    some("big_line", 1, (profile.big_line, profile.big_line))
    some("hostile_entries", 1)
    windows, spans = _windows(rng, profile)
    # a SIGTERM waits for the agent to be ready, which it cannot be in a read-only window, whose end is a
    # later step: a graceful stop goes after the window
    read_only = [(s.at, s.at + float(WINDOWS["read_only"])) for s in windows if s.action == "read_only:start"]
    steps = [Step(_outside(s.at, read_only), s.action, s.arg) if s.action == "term" else s for s in steps]
    steps += windows
    for action, count in (("clock_jump", profile.clock_jumps), ("garbage", profile.garbage)):
        for _ in range(count):
            steps.append(Step(_outside(rng.uniform(2, profile.duration), spans), action, rng.randint(5, 30)))
    return sorted(steps, key=lambda s: s.at)


def _windows(rng: random.Random, profile: Profile) -> tuple[list[Step], list[tuple[float, float]]]:
    """The steps that open and close windows, and the (start, end) of each window."""
    steps, spans = [], []
    for action, count in (("cloudwatch_outage", profile.cloudwatch_outages), ("syslog_outage", profile.syslog_outages),
                          ("disk_full", profile.disk_full), ("read_only", profile.read_only)):
        length = profile.outage if WINDOWS[action] == "outage" else WINDOWS[action]
        for _ in range(count):
            start = rng.uniform(2, max(3, profile.duration - length))
            steps.append(Step(start, f"{action}:start"))
            steps.append(Step(start + length, f"{action}:end"))
            spans.append((start, start + length))
            if action == "read_only":  # the running agent keeps its open files: a restart meets the fault
                steps.append(Step(start + length / 2, "kill"))
    return steps, spans


def _outside(at: float, spans: list[tuple[float, float]]) -> float:
    """`at`, moved past the end of any window it falls in."""
    moved = True
    while moved:
        moved = False
        for start, end in spans:
            if start <= at <= end:
                at, moved = end + 1, True
    return at
