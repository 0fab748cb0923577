"""The registry: every source, transform and sink type, its options and the class that runs it.

A component lives in its own folder: `config.py` holds its options, whose `type` literal is its name in
configuration files, metrics and here; the class that runs it sits beside. Adding one touches that
folder and one line below. The layers underneath (`config/`, `buffer/`, `observe/`) know components
only through the base classes of their options and runtime classes.
"""

from __future__ import annotations

import importlib
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from shipper.config import load
from shipper.config.base import Options, SinkOptions, SourceOptions, TransformOptions
from shipper.config.model import AgentConfig
from shipper.sinks.base import Sink
from shipper.sinks.cloudwatch.config import CloudWatchLogsOptions
from shipper.sinks.console.config import ConsoleOptions
from shipper.sinks.google_cloud_logging.config import GoogleCloudLoggingOptions
from shipper.sinks.http.config import HttpOptions
from shipper.sinks.kinesis.config import FirehoseOptions, KinesisStreamsOptions
from shipper.sinks.opentelemetry.config import OpenTelemetryOptions
from shipper.sinks.s3.config import S3Options
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sources.base import Source
from shipper.sources.files.config import FileOptions
from shipper.sources.forward.config import ForwardOptions
from shipper.sources.journald.config import JournaldOptions
from shipper.sources.kubernetes_logs.config import KubernetesLogsOptions
from shipper.transforms.base import Transform
from shipper.transforms.fields.config import FieldsOptions
from shipper.transforms.filter.config import FilterOptions
from shipper.transforms.parse.config import ParseOptions
from shipper.transforms.redact.config import RedactOptions
from shipper.transforms.route.config import RouteOptions
from shipper.transforms.throttle.config import ThrottleOptions

Runtime = TypeVar("Runtime", Source, Transform, Sink)


@dataclass(frozen=True)
class Component(Generic[Runtime]):
    options: type[Options]
    # "module:Class", imported only when configured: the AWS SDK alone adds most of a second to start-up
    runtime: str

    @property
    def name(self) -> str:
        """The `type` that names it in configuration files: its options' literal."""
        (name,) = typing.get_args(self.options.model_fields["type"].annotation)
        return str(name)

    def load(self) -> type[Runtime]:
        module, name = self.runtime.split(":")
        runtime: type[Runtime] = getattr(importlib.import_module(module), name)
        return runtime


def _by_type(*components: Component[Runtime]) -> dict[str, Component[Runtime]]:
    return {component.name: component for component in components}


SOURCES: dict[str, Component[Source]] = _by_type(
    Component(FileOptions, "shipper.sources.files.source:FileSource"),
    Component(KubernetesLogsOptions, "shipper.sources.kubernetes_logs.source:KubernetesLogsSource"),
    Component(JournaldOptions, "shipper.sources.journald.source:JournaldSource"),
    Component(ForwardOptions, "shipper.sources.forward.source:ForwardSource"),
)
TRANSFORMS: dict[str, Component[Transform]] = _by_type(
    Component(ParseOptions, "shipper.transforms.parse.transform:Parse"),
    Component(FieldsOptions, "shipper.transforms.fields.transform:Fields"),
    Component(FilterOptions, "shipper.transforms.filter.transform:Filter"),
    Component(RedactOptions, "shipper.transforms.redact.transform:Redact"),
    Component(ThrottleOptions, "shipper.transforms.throttle.transform:Throttle"),
    Component(RouteOptions, "shipper.transforms.route.transform:Route"),
)
SINKS: dict[str, Component[Sink]] = _by_type(
    Component(ConsoleOptions, "shipper.sinks.console.sink:ConsoleSink"),
    Component(CloudWatchLogsOptions, "shipper.sinks.cloudwatch.sink:CloudWatchLogsSink"),
    Component(SyslogOptions, "shipper.sinks.syslog.sink:SyslogSink"),
    Component(HttpOptions, "shipper.sinks.http.sink:HttpSink"),
    Component(OpenTelemetryOptions, "shipper.sinks.opentelemetry.sink:OpenTelemetrySink"),
    Component(FirehoseOptions, "shipper.sinks.kinesis.sink:FirehoseSink"),
    Component(KinesisStreamsOptions, "shipper.sinks.kinesis.sink:KinesisStreamsSink"),
    Component(S3Options, "shipper.sinks.s3.sink:S3Sink"),
    Component(GoogleCloudLoggingOptions, "shipper.sinks.google_cloud_logging.sink:GoogleCloudLoggingSink"),
)

# The model a configuration file is validated against: `sources`, `transforms` and `sinks` entries are
# each one of the registered kinds, picked by `type`.
CONFIG_MODEL = AgentConfig.with_components(
    [typing.cast(type[SourceOptions], c.options) for c in SOURCES.values()],
    [typing.cast(type[TransformOptions], c.options) for c in TRANSFORMS.values()],
    [typing.cast(type[SinkOptions], c.options) for c in SINKS.values()],
)


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, expand and validate a configuration file; raise ConfigError listing every problem."""
    return load.load_config(path, CONFIG_MODEL, environ)


def parse_config(text: str, name: str, environ: Mapping[str, str]) -> AgentConfig:
    return load.parse_config(text, name, CONFIG_MODEL, environ)
