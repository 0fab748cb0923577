"""The log streams a sink writes to: each one's queue of events and its worker's state (StreamQueue),
and making a log stream that is missing, and its group when allowed (`create_missing_stream`,
`create_missing_group`, with the group's tags, class, KMS key, deletion protection and retention), and
saying once when a group found has another class than `log_group_class`.

A stream that cannot be made here (creating it is not allowed, access to it is refused, or its group
cannot be made as configured: a KMS key that does not exist or is disabled) raises CannotMake: it is
that stream's problem, which the sink handles by parking it (parking.py) while the others go on. Any
other failure raises a Retry: tried again, the records waiting in the spool.
"""

from __future__ import annotations

import asyncio
from collections import deque

from shipper.observe.logs import ComponentLog
from shipper.sinks.aws.errors import CLOUDWATCH_LOGS, error_code
from shipper.sinks.cloudwatch.batch import Event, EventQueue
from shipper.sinks.cloudwatch.client import CloudWatchLogs
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.cloudwatch.reconcile import BatchRow
from shipper.sinks.retry import Failure, Retry, classify


class StreamQueue:
    """The events waiting for one log stream, and the worker that sends them in order."""

    def __init__(self, group: str, stream: str):
        self.group = group
        self.stream = stream
        self.pending = EventQueue()
        self.since: float | None = None  # when the oldest waiting event was queued
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.recovered: deque[BatchRow] = deque()  # rows of batches sent before a restart
        self.previous: list[Event] = []  # the last batch sent (its events may share a millisecond with the next)
        self.delivered_at: float | None = None  # when its last batch was accepted, on the engine's clock
        self.parked: str | None = None  # why the stream is parked, None while it delivers
        self.retry_at = 0.0  # when a parked stream is tried again
        self.tries = 0  # tries since it was parked

    def waiting(self) -> bool:
        return bool(self.pending)

    def full(self) -> bool:
        return self.pending.full()

    @property
    def name(self) -> str:
        """The stream's name in the parked area and in reports: `group/stream` is unambiguous (a
        group name may hold '/', a stream name may not hold ':' but may hold '/': the tab keeps them apart)."""
        return f"{self.group}\t{self.stream}"


class CannotMake(Exception):
    """The stream cannot be made here; `error` is why (the missing stream's own, or the creation's)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class StreamMaker:
    def __init__(self, client: CloudWatchLogs, options: CloudWatchLogsOptions, log: ComponentLog):
        self.client = client
        self.options = options
        self.log = log
        self._classes_checked: set[str] = set()  # groups whose class was compared with log_group_class
        self._class_check_failed = False

    async def make(self, group: str, stream: str, missing: Exception) -> None:
        """Make the stream `missing` says is not there (and its group, if that is missing too)."""
        options = self.options
        if not options.create_missing_stream:
            raise CannotMake(missing)
        try:
            await self.client.create_log_stream(group, stream)
            await self._check_class(group)
            return
        except Exception as error:
            failure = classify(error, CLOUDWATCH_LOGS)
            if failure is Failure.REFUSED:
                raise CannotMake(error) from error
            if failure is not Failure.MISSING:
                raise Retry.for_call(failure, error) from error
            if not options.create_missing_group:
                raise CannotMake(error) from error
        await self._make_group(group, stream)

    async def _make_group(self, group: str, stream: str) -> None:
        options = self.options
        try:
            if await self.client.create_log_group(group, options.tags, options.log_group_class,
                                                  options.kms_key_id, options.deletion_protection):
                self.log.info("created log group %s", group)
                self._classes_checked.add(group)
                if options.retention_days:
                    await self.client.put_retention_policy(group, options.retention_days)
            await self.client.create_log_stream(group, stream)
            await self._check_class(group)
        except Exception as error:
            failure = classify(error, CLOUDWATCH_LOGS)
            # INVALID here is a group that cannot be made as configured (a KMS key that does not exist or
            # is disabled): this stream's records wait aside like a refused stream's, the others go on
            if failure in (Failure.REFUSED, Failure.INVALID):
                raise CannotMake(error) from error
            raise Retry.for_call(failure, error) from error

    async def _check_class(self, group: str) -> None:
        """Say once per group when a group this sink writes to (but did not create) has another class
        than `log_group_class`: it is used as it is (a class is fixed at creation). Checked when the
        sink first makes a stream in the group; a check that fails (no logs:DescribeLogGroups) is said
        once and changes nothing."""
        wanted = self.options.log_group_class
        if wanted is None or group in self._classes_checked:
            return
        self._classes_checked.add(group)
        try:
            found = await self.client.log_group_class(group)
        except Exception as error:
            if not self._class_check_failed:
                self._class_check_failed = True
                self.log.info("cannot check the class of existing log groups (%s); allow logs:DescribeLogGroups "
                              "(iam/policy-describe.json) to be told when one differs from log_group_class %s",
                              error_code(error), wanted)
            return
        if found is not None and found != wanted:
            self.log.warning("log group %s exists with class %s, not %s; its records go there as they are "
                             "(a class is fixed when a group is created)", group, found, wanted)
