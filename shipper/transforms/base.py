"""What every transform shares: its counters, and a failure that passes records on unchanged.

A transform runs inside the source's commit, before the spool: its output is stored in the same
transaction as the checkpoint of the input it came from, so a restart neither re-applies it to
stored records nor skips it for unstored ones.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from shipper.config.base import TransformOptions
from shipper.observe import metrics
from shipper.observe.logs import ComponentLog, WarningPace
from shipper.record import Block

FAILURE_WARNING_INTERVAL = 60.0  # seconds between logged failures of one transform

Outputs = Mapping[str, list[Block]]  # stream name -> the blocks that come out under it


class Transform(ABC):
    fails_closed = False  # a security transform: a block it failed on is discarded, never passed on
    # Set by the pipeline (transforms/pipeline.py) when no transform reads this one's output, only the
    # spool: its records' fields may then be the JSON text the spool stores (see shipper/record.py).
    stored_only = False

    def __init__(self, transform_id: str, options: TransformOptions):
        self.id = transform_id
        self.options = options
        self.type = options.type
        self.labels = ("transform", transform_id, self.type)
        self.log = ComponentLog(logging.getLogger(type(self).__module__),
                                {"component_kind": "transform", "component": transform_id})
        self.received_events = metrics.events_received.labels(*self.labels)
        self.sent_events = metrics.events_sent.labels(*self.labels)
        self._failure_warnings = WarningPace(FAILURE_WARNING_INTERVAL)

    def run(self, blocks: Sequence[Block]) -> Outputs:
        """The blocks out of this transform by output stream. A bug of ours in a transform never stops
        the source: the blocks go on unchanged (to its default output), counted and logged; those of a
        transform that fails closed are discarded instead, counted (reason `transform_failed`)."""
        self.received_events.inc(sum(len(block.records) for block in blocks))
        try:
            outputs = self.process(blocks)
        except Exception:
            self._report_failure()
            if self.fails_closed:
                self.discard("transform_failed", sum(len(block.records) for block in blocks))
                return {}
            outputs = {self.default_output: [Block(self.default_output, b.common, b.records) for b in blocks]}
        self.sent_events.inc(sum(len(block.records) for out in outputs.values() for block in out))
        return outputs

    @property
    def default_output(self) -> str:
        return self.id

    @abstractmethod
    def process(self, blocks: Sequence[Block]) -> Outputs:
        """The blocks out of this transform, by output stream; never a block without records."""

    def discard(self, reason: str, count: int) -> None:
        if count:
            metrics.events_discarded.labels(*self.labels, reason).inc(count)

    def _report_failure(self) -> None:
        metrics.errors.labels(*self.labels, "transform", "crash").inc()
        if self._failure_warnings.due() is not None:
            self.log.exception("failed on a block; its records %s",
                               "are discarded" if self.fails_closed else "pass on unchanged")


class SingleOutput(Transform):
    """A transform whose output is its id: each block in, one block (or none) out."""

    def process(self, blocks: Sequence[Block]) -> Outputs:
        out = [self.apply(block) for block in blocks]
        return {self.id: [block for block in out if block.records]}

    @abstractmethod
    def apply(self, block: Block) -> Block:
        """The block as it leaves this transform, stored under this transform's id."""
