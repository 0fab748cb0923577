"""Options of the `route` transform."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import TransformOptions
from shipper.transforms.conditions import Condition

UNMATCHED = "_unmatched"
ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


class RouteOptions(TransformOptions):
    """Sends each record to every route whose condition it matches; sinks and transforms take a route as
    `<id>.<name>` in their inputs, and what matched none as `<id>._unmatched`."""

    type: Literal["route"]
    routes: dict[str, Condition] = Field(min_length=1, description="Route names and their conditions.")

    @field_validator("routes")
    @classmethod
    def _names(cls, routes: dict[str, Condition]) -> dict[str, Condition]:
        for name in routes:
            if not ROUTE_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid route name (letters, digits, '_' and '-')")
        return routes

    def outputs(self) -> list[str]:
        return [*self.routes, UNMATCHED]

    def describe(self) -> str:
        return f"route: {', '.join(self.outputs())}"
