"""The documentation tells the truth: the configuration reference is the one the option models
make, and every YAML configuration in README.md and docs/ passes `shipper check`'s validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import shipper.observe.metrics  # noqa: F401 - registers every metric
from shipper.components import TRANSFORMS, parse_config
from shipper.record import Block
from shipper.reference import render

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ENVIRONMENT = {"AWS_REGION": "us-east-1", "CLUSTER_NAME": "demo", "NODE_NAME": "node-1",
               "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "COLLECTOR_TOKEN": "example-token",
               "COLLECTOR_PASSWORD": "example-password"}


def yaml_examples() -> list[tuple[str, str]]:
    """(page:line, text) of every ```yaml block that is a whole configuration (it names sinks)."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            if re.search(r"^sinks:", match[1], re.MULTILINE):
                found.append((f"{page.name}:{text[:match.start()].count(chr(10)) + 1}", match[1]))
    return found


def test_the_configuration_reference_is_what_the_option_models_say():
    # regenerate with: python -m shipper.reference > docs/configuration.md
    assert (ROOT / "docs" / "configuration.md").read_text() == render()


def test_there_are_configuration_examples_to_check():
    assert len(yaml_examples()) >= 2


@pytest.mark.parametrize(("where", "text"), yaml_examples(), ids=[where for where, _ in yaml_examples()])
def test_every_configuration_example_passes_check(where, text):
    parse_config(text, where, ENVIRONMENT)  # raises ConfigError naming the key and the line


def test_every_metric_of_the_agent_is_documented():
    documented = (ROOT / "docs" / "metrics.md").read_text()
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("shipper_")}

    assert names and not [name for name in names if f"`{name}`" not in documented]


def test_the_readmes_redact_example_removes_secrets_from_parsed_fields():
    (where, text), *_ = [(where, text) for where, text in yaml_examples() if where.startswith("README.md")
                         and "type: redact" in text]
    config = parse_config(text, where, ENVIRONMENT)
    transforms = {name: TRANSFORMS[options.type].load()(name, options) for name, options in config.transforms.items()}
    line = '{"msg": "login", "password": "hunter2", "db": {"token": "abcd1234efgh"}, "note": "Bearer Zm9vYmFyYmF6"}'

    parsed = transforms["app_json"].run([Block("containers", {}, [(1, line, None)])])["app_json"]
    (scrubbed,) = transforms["scrub"].run(parsed)["scrub"]

    assert not {"hunter2", "abcd1234efgh", "Zm9vYmFyYmF6"} & set(re.split(r'[\s"{}:,\[\]]+', repr(scrubbed)))
    assert scrubbed.records[0][2]["msg"] == "login"
