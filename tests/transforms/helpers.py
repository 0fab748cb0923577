"""Running one transform on records, as a source's commit would."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from shipper.components import TRANSFORMS
from shipper.record import Block
from shipper.transforms.base import Transform


def make(transform_type: str, transform_id: str = "t", **options: Any) -> Transform:
    component = TRANSFORMS[transform_type]
    validated = component.options.model_validate({"type": transform_type, "inputs": ["src"], **options})
    return component.load()(transform_id, validated)


def block(*records: Any, common: dict[str, Any] | None = None) -> Block:
    """Records given as messages, or as (message, fields) pairs, all at time 1."""
    made = [(1, r, None) if isinstance(r, str) else (1, *r) for r in records]
    return Block("src", common if common is not None else {"file": "/var/log/app.log", "host": "node-1"}, made)


def run(transform: Transform, *blocks: Block) -> dict[str, list[Block]]:
    return {name: list(out) for name, out in transform.run(list(blocks)).items()}


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
