"""The metrics every component shares, with the same names everywhere (Prometheus conventions).

Components count per block or per batch, never per record, so counting costs nothing measurable.
"""

from __future__ import annotations

import heapq
import platform
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shipper import __version__

disable_created_metrics()  # type: ignore[no-untyped-call]  # a `_created` series per counter doubles what is scraped and says nothing useful here
# component_kind: source | transform | sink (| buffer, for what the spool drops on a source's behalf)
_COMPONENT = ("component_kind", "component_id", "component_type")

build_info = Gauge("shipper_build_info", "1, labelled with the agent's version and its Python.", ("version", "python"))
build_info.labels(__version__, platform.python_version()).set(1)

events_received = Counter("shipper_events_received", "Records a component took in.", _COMPONENT)
bytes_received = Counter("shipper_bytes_received", "Bytes a component took in.", _COMPONENT)
events_sent = Counter("shipper_events_sent", "Records a component delivered onward.", _COMPONENT)
bytes_sent = Counter("shipper_bytes_sent", "Bytes a component delivered onward.", _COMPONENT)
events_discarded = Counter(
    "shipper_events_discarded", "Records a component dropped, by reason.", (*_COMPONENT, "reason")
)
errors = Counter("shipper_errors", "Errors by stage and kind.", (*_COMPONENT, "stage", "error"))
input_anomalies = Counter(
    "shipper_input_anomalies",
    "Input that was shipped after repair (invalid UTF-8, split long lines, malformed JSON), by kind.",
    (*_COMPONENT, "kind"),
)

events_unparsed = Counter(
    "shipper_events_unparsed",
    "Records a parse transform passed on unchanged: the text is not in its format (`format`), or the time it "
    "names is missing or not a time (`time`).", (*_COMPONENT, "reason"),
)
redactions = Counter("shipper_redactions", "Matches a redact transform replaced, by pattern.",
                     (*_COMPONENT, "pattern"))

spool_events = Gauge("shipper_spool_events", "Records waiting in the spool.")
spool_bytes = Gauge("shipper_spool_bytes", "Bytes of records waiting in the spool.")
api_taps = Gauge("shipper_api_taps", "`shipper tap` clients the API streams records to now.")
spool_max_bytes = Gauge("shipper_spool_max_bytes", "The spool's buffer.max_size: sources pause when it is reached.")
spool_oldest_age = Gauge("shipper_spool_oldest_age_seconds", "Age of the oldest record waiting in the spool.")
bytes_rotated_away = Counter(
    "shipper_bytes_rotated_away", "Bytes that went with a rotation before they were read (copytruncate).", _COMPONENT
)
files_waiting = Gauge("shipper_files_waiting", "Files with unread lines waiting for a descriptor (the source holds "
                      "max_open_files open).", _COMPONENT)
files_excluded = Counter("shipper_files_excluded", "Log files a source's filters keep from being read, by rule.",
                         (*_COMPONENT, "rule"))
annotations_applied = Counter(
    "shipper_annotations_applied",
    "Container log files whose pod's annotation (`parser`, `multiline`) a kubernetes_logs source applied, or ignored "
    "as naming nothing (counted again when the pod changes).", (*_COMPONENT, "annotation", "outcome"),
)
events_without_api_metadata = Counter(
    "shipper_events_without_api_metadata",
    "Records shipped with path metadata only: the API server was unreachable or the pod not known yet.", _COMPONENT,
)
spool_corrupt = Counter("shipper_spool_corrupt", "Spool files found corrupt at start and moved aside.")
events_parked = Counter(
    "shipper_events_parked", "Records moved to the parked area: their stream refuses them for now.", _COMPONENT,
)
streams_parked = Gauge(
    "shipper_streams_parked", "Streams of a sink parked now (refused for a reason retrying soon will not fix).",
    _COMPONENT,
)

api_calls = Counter(
    "shipper_api_calls", "Calls to a backend's API, by operation and result (`ok` or the error code).",
    (*_COMPONENT, "operation", "result"),
)
retries = Counter("shipper_retries", "Requests sent again after a failure, by kind.", (*_COMPONENT, "failure"))
records_retried = Counter(
    "shipper_records_retried",
    "Records a backend refused within a call that otherwise succeeded (Firehose, Kinesis), sent again, by its "
    "error code.", (*_COMPONENT, "reason"),
)
events_fallback_named = Counter(
    "shipper_events_fallback_named",
    "Records sent to a fallback group or stream because they lack a field a name template uses.", _COMPONENT,
)
bytes_billed = Counter(
    "shipper_cloudwatch_bytes_billed", "Bytes CloudWatch counts for ingestion (message + 26 per event).", _COMPONENT,
)
entities_rejected = Counter(
    "shipper_cloudwatch_entities_rejected",
    "PutLogEvents calls whose entity CloudWatch rejected (the events were stored), by its errorType.",
    (*_COMPONENT, "error_type"),
)
sink_ready = Gauge("shipper_sink_ready", "1 while a sink can deliver; 0 after an error it cannot retry away.",
                   _COMPONENT)
delivery_latency = Histogram(
    "shipper_delivery_latency_seconds",
    "From the time a line was written (its container runtime or journal time; the read time for plain files) to "
    "the backend accepting it. Sampled: the first, middle and last record of every batch.",
    _COMPONENT, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)


PER_FILE_SERIES = 1000  # files furthest behind that get series of their own, per source

FileProgress = tuple[str, int, int, bool]  # (path, offset read and committed, size when last read, open)


class TailedFiles(Collector):
    """How far each file source has read its files, gathered from the sources' own state at scrape time.

    A node can hold 100,000 log files, and two series per file made a scrape take seconds of the
    event loop's time (and Prometheus as much memory). So every source reports how many files it reads
    and the bytes they hold that are not read yet; per-file offset and size are reported for the
    `limit` files furthest behind (every file on a usual node).
    """

    def __init__(self, limit: int = PER_FILE_SERIES):
        self.limit = limit
        self._sources: dict[tuple[str, str], Callable[[], Iterable[FileProgress]]] = {}

    def track(self, component_id: str, component_type: str, progress: Callable[[], Iterable[FileProgress]]) -> None:
        """Report a file source's progress at every scrape (component_kind is `source`)."""
        self._sources[(component_id, component_type)] = progress

    def untrack(self, component_id: str, component_type: str, progress: Callable[[], Iterable[FileProgress]]) -> None:
        """Forget a source, unless a source of the same id (made by a reload) has taken its place."""
        if self._sources.get((component_id, component_type)) == progress:
            del self._sources[(component_id, component_type)]

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = self._families()
        opened, followed, unread, offsets, sizes = families
        for (component_id, component_type), progress in list(self._sources.items()):
            tracked = list(progress())
            files = [(path, offset, max(size, offset)) for path, offset, size, _ in tracked]
            component = ["source", component_id, component_type]
            opened.add_metric(component, sum(1 for *_, is_open in tracked if is_open))
            followed.add_metric(component, len(files))
            unread.add_metric(component, sum(size - offset for _, offset, size in files))
            named: set[str] = set()  # a rotated file still being read shares its path with the new one
            for path, offset, size in heapq.nlargest(self.limit, files, key=lambda f: f[2] - f[1]):
                if path not in named:  # one series per path: the file further behind
                    named.add(path)
                    offsets.add_metric([*component, path], offset)
                    sizes.add_metric([*component, path], size)
        return iter(families)

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("shipper_files_open", "Files a source holds open.", labels=_COMPONENT),
            GaugeMetricFamily("shipper_files_followed", "Files a source follows: open, or dormant (closed while "
                              "idle at their end, looked at by path).", labels=_COMPONENT),
            GaugeMetricFamily("shipper_files_unread_bytes",
                              "Bytes in the files a source reads that it has not read yet (its lag).",
                              labels=_COMPONENT),
            GaugeMetricFamily("shipper_file_read_offset_bytes",
                              "Where a tailed file has been read (and committed) up to; for the files furthest "
                              "behind only, when a source reads very many.", labels=(*_COMPONENT, "file")),
            GaugeMetricFamily("shipper_file_size_bytes",
                              "Size of a tailed file when last read; size - offset is the lag. Same files as "
                              "shipper_file_read_offset_bytes.", labels=(*_COMPONENT, "file")),
        ]


tailed_files = TailedFiles()
REGISTRY.register(tailed_files)
