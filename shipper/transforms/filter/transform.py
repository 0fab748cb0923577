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
            records = [record for record, hit in zip(records, self.include(common, records), strict=True) if hit]
        if self.exclude is not None:
            records = [record for record, hit in zip(records, self.exclude(common, records), strict=True) if not hit]
        self.discard("filtered", len(block.records) - len(records))
        return Block(self.id, common, records)
