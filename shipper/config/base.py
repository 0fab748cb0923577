"""Base classes of every component's options: strict (unknown keys are errors) and immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class SinkOptions(Options):
    inputs: list[str] = Field(min_length=1, description="Ids of the sources whose records this sink takes.")
