"""`route`: each record to every route it matches, or to `_unmatched`; a record that matches two
routes is stored under both (each stream a sink takes is stored once)."""

from __future__ import annotations

from collections.abc import Sequence

from shipper.record import Block
from shipper.transforms.base import Outputs, Transform
from shipper.transforms.route.config import UNMATCHED, RouteOptions


class Route(Transform):
    def __init__(self, transform_id: str, options: RouteOptions):
        super().__init__(transform_id, options)
        self.routes = [(f"{transform_id}.{name}", condition.compile()) for name, condition in options.routes.items()]
        self.unmatched = f"{transform_id}.{UNMATCHED}"

    @property
    def default_output(self) -> str:
        return self.unmatched

    def process(self, blocks: Sequence[Block]) -> Outputs:
        outputs: dict[str, list[Block]] = {name: [] for name, _ in self.routes}
        outputs[self.unmatched] = []
        for block in blocks:
            common, records = block.common, block.records
            matched = [False] * len(records)
            for name, test in self.routes:
                taken = []
                for i, hit in enumerate(test(common, records)):
                    if hit:
                        taken.append(records[i])
                        matched[i] = True
                if taken:
                    outputs[name].append(Block(name, common, taken))
            rest = [record for record, hit in zip(records, matched, strict=True) if not hit]
            if rest:
                outputs[self.unmatched].append(Block(self.unmatched, common, rest))
        return outputs
