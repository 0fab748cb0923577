"""The metrics every component shares, with the same names everywhere (Prometheus conventions).

Components count per block or per batch, never per record, so counting costs nothing measurable.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_COMPONENT = ("component_id", "component_type")

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

spool_events = Gauge("shipper_spool_events", "Records waiting in the spool.")
spool_bytes = Gauge("shipper_spool_bytes", "Bytes of records waiting in the spool.")
spool_oldest_age = Gauge("shipper_spool_oldest_age_seconds", "Age of the oldest record waiting in the spool.")
file_offset = Gauge("shipper_file_read_offset_bytes", "Where a tailed file has been read (and committed) up to.",
                    (*_COMPONENT, "file"))
file_size = Gauge("shipper_file_size_bytes", "Size of a tailed file when last read; size - offset is the lag.",
                  (*_COMPONENT, "file"))
bytes_rotated_away = Counter(
    "shipper_bytes_rotated_away", "Bytes that went with a rotation before they were read (copytruncate).", _COMPONENT
)
files_excluded = Counter("shipper_files_excluded", "Log files a source's filters keep from being read, by rule.",
                         (*_COMPONENT, "rule"))
events_without_api_metadata = Counter(
    "shipper_events_without_api_metadata",
    "Records shipped with path metadata only: the API server was unreachable or the pod not known yet.", _COMPONENT,
)
spool_corrupt = Counter("shipper_spool_corrupt", "Spool files found corrupt at start and moved aside.")

api_calls = Counter(
    "shipper_api_calls", "Calls to a backend's API, by operation and result (`ok` or the error code).",
    (*_COMPONENT, "operation", "result"),
)
retries = Counter("shipper_retries", "Requests sent again after a failure, by kind.", (*_COMPONENT, "failure"))
events_fallback_named = Counter(
    "shipper_events_fallback_named",
    "Records sent to a fallback group or stream because they lack a field a name template uses.", _COMPONENT,
)
bytes_billed = Counter(
    "shipper_cloudwatch_bytes_billed", "Bytes CloudWatch counts for ingestion (message + 26 per event).", _COMPONENT,
)
sink_ready = Gauge("shipper_sink_ready", "1 while a sink can deliver; 0 after an error it cannot retry away.",
                   _COMPONENT)
delivery_latency = Histogram(
    "shipper_delivery_latency_seconds",
    "From the time a line was written (its container runtime or journal time; the read time for plain files) to "
    "the backend accepting it. Sampled: the first, middle and last record of every batch.",
    _COMPONENT, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)
