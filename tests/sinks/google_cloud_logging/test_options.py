"""The google_cloud_logging sink's options: refused with the key and the reason, and a credentials file
that cannot serve found before the agent starts, without a value from the file in the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from peers.fake_google_logging import FakeGoogleCloud
from shipper.sinks.google_cloud_logging.config import GoogleCloudLoggingOptions

ROOT = Path(__file__).resolve().parents[3]


def options(**given):
    return GoogleCloudLoggingOptions(type="google_cloud_logging", inputs=["app"], **{"project_id": "my-project",
                                                                                    **given})


@pytest.mark.parametrize(("given", "reason"), [
    ({"project_id": "My_Project"}, "is not a Google Cloud project ID"),
    ({"auth": {"strategy": "bearer", "token": "abc"}}, "`auth` is not taken"),
    ({"headers": {"Authorization": "Bearer x"}}, "set by the sink from its credentials"),
    ({"endpoint": "http://logging.example.com"}, "the access token would travel in plain text"),
    ({"labels": {"a b": "x"}}, "is not a label key"),
    ({"labels": {f"k{i}": "v" for i in range(65)}}, "at most 64 labels"),
    ({"log_name": "{{ kubernetes.pod_namespace }}"}, "Vector's way to name a field"),
    ({"max_batch_bytes": "20MB"}, "less than or equal"),
])
def test_options_refused_with_the_reason(given, reason):
    with pytest.raises(ValidationError, match=reason):
        options(**given)


def test_a_loopback_endpoint_over_http_is_taken():
    assert options(endpoint="http://127.0.0.1:8080").request_uri == "http://127.0.0.1:8080/v2/entries:write"


def test_a_credentials_file_that_cannot_serve_is_found_before_the_start(tmp_path):
    google = FakeGoogleCloud()
    google.url = "http://127.0.0.1:1"
    key = google.service_account_file(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**json.loads(key.read_text()), "private_key": "-----BEGIN PRIVATE KEY-----\nxx"}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"type": "something", "secret": "s3cr3t-value"}))
    (tmp_path / "text.json").write_text("not json")

    def issue(path):
        return dict(options(credentials_file=str(path)).environment_issues()).get("credentials_file")

    assert issue(key) is None
    assert issue(tmp_path / "absent.json") == f"{tmp_path / 'absent.json'} does not exist"
    assert issue(tmp_path / "text.json").endswith("is not JSON")
    assert "is not a Google credentials file" in issue(other) and "s3cr3t" not in issue(other)
    assert "cannot load" in issue(broken) and "xx" not in issue(broken).replace(str(tmp_path), "")


def test_google_auth_is_loaded_only_when_such_a_sink_is_configured(tmp_path):
    """google-auth takes a third of a second to import: an agent without this sink never pays it
    (a slower restart loses lines to kubelet's rotations)."""
    google = FakeGoogleCloud()
    google.url = "http://127.0.0.1:1"
    key = google.service_account_file(tmp_path)
    script = (
        "import sys\n"
        "from shipper.components import AgentConfig\n"
        "from shipper.sinks.google_cloud_logging.config import GoogleCloudLoggingOptions\n"
        "loaded = 'google.auth' in sys.modules\n"
        "GoogleCloudLoggingOptions(type='google_cloud_logging', inputs=['a'], project_id='my-project',\n"
        f"                          credentials_file={str(key)!r}).environment_issues()\n"
        "print(loaded, 'google.auth' in sys.modules)\n"
    )

    said = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)

    assert said.stdout.split() == ["False", "True"]
