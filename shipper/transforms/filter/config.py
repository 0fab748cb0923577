"""Options of the `filter` transform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shipper.config.base import TransformOptions
from shipper.transforms.conditions import Condition


class FilterOptions(TransformOptions):
    """Keeps the records that match `include` (all when unset) and do not match `exclude`; the others are
    dropped and counted (`shipper_events_discarded_total{reason="filtered"}`)."""

    type: Literal["filter"]
    include: Condition | None = Field(None, description="Keep only the records matching this condition.")
    exclude: Condition | None = Field(None, description="Drop the records matching this condition.")

    @model_validator(mode="after")
    def _something_to_do(self) -> FilterOptions:
        if self.include is None and self.exclude is None:
            raise ValueError("give 'include', 'exclude' or both")
        return self

    def describe(self) -> str:
        return "filter: " + " and ".join(key for key in ("include", "exclude") if getattr(self, key) is not None)
