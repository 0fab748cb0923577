"""Options of the `throttle` transform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import TransformOptions
from shipper.config.units import Duration
from shipper.templates import Template


class ThrottleOptions(TransformOptions):
    """Passes at most `limit` records per `window` and key; the rest are dropped and counted
    (`shipper_events_discarded_total{reason="throttled"}`), and once the window is over one summary record
    per key says how many were dropped, so the loss shows in the destination too."""

    type: Literal["throttle"]
    limit: int = Field(ge=1, description="Records passed per window and key.")
    window: Duration = Field(1.0, gt=0, description="Length of a window, e.g. `1s` or `1m`.")
    key: str | None = Field(
        None, description="A template whose value names the budget a record counts against, e.g. "
        "`{kubernetes.namespace}/{kubernetes.pod_name}`; default: one budget for all records. Records lacking a "
        "field it names share the key `\"\"`."
    )
    max_keys: int = Field(
        10_000, ge=1, description="Most keys tracked at once (memory stays bounded whatever the keys' values); "
        "beyond it, new keys share one budget, `_overflow`."
    )

    @field_validator("key")
    @classmethod
    def _template(cls, key: str | None) -> str | None:
        if key is not None:
            Template(key)
        return key

    def describe(self) -> str:
        per = f" per {self.key}" if self.key else ""
        return f"throttle: {self.limit} per {self.window:g}s{per}"
