from types import NotImplementedType
from typing import Any

def events(timestamps_ns: object, messages: object,
           max_event_size: int) -> tuple[list[dict[str, Any]], list[int], list[int]] | NotImplementedType | None: ...
