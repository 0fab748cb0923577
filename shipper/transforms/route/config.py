"""Options of the `route` transform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import TransformOptions, check_names
from shipper.transforms.conditions import Condition

UNMATCHED = "_unmatched"


class RouteOptions(TransformOptions):
    """Sends each record to every route whose condition it matches; sinks and transforms take a route as
    `<id>.<name>` in their inputs, and what matched none as `<id>._unmatched`."""

    type: Literal["route"]
    routes: dict[str, Condition] = Field(min_length=1, description="Route names and their conditions.")

    @field_validator("routes")
    @classmethod
    def _names(cls, routes: dict[str, Condition]) -> dict[str, Condition]:
        check_names(routes, "route name")
        return routes

    def outputs(self) -> list[str]:
        return [*self.routes, UNMATCHED]

    def describe(self) -> str:
        return f"route: {', '.join(self.outputs())}"
