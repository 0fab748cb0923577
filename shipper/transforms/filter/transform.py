"""`filter`: records that fail the conditions are dropped, counted as `filtered`."""

from __future__ import annotations

from shipper.record import Block
from shipper.transforms.base import SingleOutput
from shipper.transforms.filter.config import FilterOptions


class Filter(SingleOutput):
    def __init__(self, transform_id: str, options: FilterOptions):
        super().__init__(transform_id, options)
        self.include = options.include.compile() if options.include else None
        self.exclude = options.exclude.compile() if options.exclude else None

    def apply(self, block: Block) -> Block:
        common, records = block.common, block.records
        if self.include is not None:
            include = self.include
            records = [record for record in records if include(common, record)]
        if self.exclude is not None:
            exclude = self.exclude
            records = [record for record in records if not exclude(common, record)]
        self.discard("filtered", len(block.records) - len(records))
        return Block(self.id, common, records)
