"""Shared fixtures: LocalStack on the host, started once per test session."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.agent_process import AgentProcess

# Properties assert behaviour, not speed: on a loaded CI machine one example may take longer than
# Hypothesis's default 200 ms deadline, which would fail the test for nothing.
settings.register_profile("shipper", deadline=None)
settings.load_profile("shipper")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a LocalStack started for this session (installed on first use)."""
    state = tmp_path_factory.mktemp("localstack")
    port = os.environ.get("SHIPPER_LOCALSTACK_PORT", "4566")
    env = {**os.environ, "SHIPPER_LOCALSTACK_PORT": port}
    started = subprocess.run(
        ["bash", str(ROOT / "localstack" / "start.sh"), str(state)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if started.returncode != 0:
        pytest.fail(f"LocalStack did not start:\n{started.stderr}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(ROOT / "localstack" / "stop.sh"), str(state)], env=env, timeout=60)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials LocalStack accepts; never real ones."""
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def no_agent_outlives_its_test() -> Iterator[None]:
    yield
    while AgentProcess.started:
        agent = AgentProcess.started.pop()
        if agent.process.poll() is None:
            agent.kill()
