"""A source's records through the transforms they reach, into the streams sinks take."""

from __future__ import annotations

from collections.abc import Mapping

from shipper.config.topology import Plan
from shipper.record import Block, Fanout
from shipper.transforms.base import Transform


def fanout(plan: Plan, transforms: Mapping[str, Transform]) -> Fanout:
    """What a source of this plan stores for each block it reads: one block per stream a sink takes
    (a stream may get several when a transform joins inputs the block reached on several paths)."""
    if not plan.steps:
        stored = plan.source in plan.streams
        return lambda block: [block] if stored else []
    steps = [(transforms[step.transform], step.inputs) for step in plan.steps]

    def run(block: Block) -> list[Block]:
        streams: dict[str, list[Block]] = {plan.source: [block]}
        for transform, inputs in steps:
            blocks = [b for name in inputs for b in streams.get(name, ())]
            if blocks:
                streams.update(transform.run(blocks))
        return [b for name in plan.streams for b in streams.get(name, ())]

    return run
