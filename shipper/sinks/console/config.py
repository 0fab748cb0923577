"""Options of the `console` sink."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipper.config.base import SinkOptions


class ConsoleOptions(SinkOptions):
    """Records on stdout, one per line."""

    type: Literal["console"]
    encoding: Literal["json", "text"] = Field(
        "json", description="`json`: one object per record with all its fields; `text`: the message alone."
    )
