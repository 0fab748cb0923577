"""Which resource a block's records come from: the `otel` layout's resource (shipper/layouts.py, by
OpenTelemetry's semantic conventions) with `service.name`, which every backend groups by.

`service.name` is the workload's name (a Deployment's, a DaemonSet's...), else the container's;
without either (a journal, a plain file) none is set. The sink's `resource_attributes` set it, and
any other attribute, explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipper.layouts import OTEL_WORKLOADS, otel_resource

_WORKLOAD_NAMES = tuple(f"k8s.{kind}.name" for kind in OTEL_WORKLOADS.values())


def resource_of(common: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    resource = otel_resource(common)
    service = next((resource[name] for name in _WORKLOAD_NAMES if name in resource), None) or \
        resource.get("k8s.container.name")
    if service:
        resource["service.name"] = service
    resource.update(overrides)
    return resource
