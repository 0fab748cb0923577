"""A source's records through the transforms they reach, into the streams sinks take."""

from __future__ import annotations

from collections.abc import Mapping

from shipper.config.topology import Plan
from shipper.observe.tap import TAP
from shipper.record import Block, Fanout
from shipper.transforms.base import Transform


def fanout(plan: Plan, transforms: Mapping[str, Transform]) -> Fanout:
    """What a source of this plan stores for each block it reads: one block per stream a sink takes
    (a stream may get several when a transform joins inputs the block reached on several paths).
    Every block a source or a transform makes is shown to the watchers of its stream (observe/tap.py).
    A transform whose output no transform reads is told so (`stored_only`)."""
    read = {name for transform in transforms.values() for name in transform.options.inputs}
    for transform in transforms.values():
        transform.stored_only = transform.default_output not in read
    if not plan.steps:
        stored = plan.source in plan.streams

        def store(block: Block) -> list[Block]:
            TAP.publish(block)
            return [block] if stored else []

        return store
    steps = [(transforms[step.transform], step.inputs) for step in plan.steps]

    def run(block: Block) -> list[Block]:
        TAP.publish(block)
        streams: dict[str, list[Block]] = {plan.source: [block]}
        for transform, inputs in steps:
            blocks = [b for name in inputs for b in streams.get(name, ())]
            if blocks:
                out = transform.run(blocks)
                for made in out.values():
                    for each in made:
                        TAP.publish(each)
                streams.update(out)
        return [b for name in plan.streams for b in streams.get(name, ())]

    return run
