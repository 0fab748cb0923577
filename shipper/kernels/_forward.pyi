from collections.abc import Callable
from typing import Any

def records(packed: bytes, message_keys: tuple[str, ...], max_entries: int,
            finish: Callable[[dict[str, Any]], dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]] | None: ...
