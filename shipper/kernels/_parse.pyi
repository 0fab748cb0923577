from collections.abc import Callable
from types import NotImplementedType
from typing import Any

def json_objects(records: list[Any], members: Callable[[Any], bytes | None], reserved: tuple[bytes, ...] | None,
                 target: bytes | None, time_key: bytes | None, parse_time: Callable[[Any], int | None],
                 ) -> tuple[list[Any], int, int, list[int]] | NotImplementedType: ...

def combined_logs(records: list[Any], members: Callable[[Any], bytes | None], reserved: tuple[bytes, ...] | None,
                  target: bytes | None, time_key: bytes | None, parse_time: Callable[[Any], int | None],
                  ) -> tuple[list[Any], int, int, list[int]] | NotImplementedType: ...

COMBINED_NAMES: tuple[str, ...]

def logfmt_pairs(records: list[Any], members: Callable[[Any], bytes | None], reserved: tuple[bytes, ...] | None,
                 target: bytes | None, time_key: bytes | None, parse_time: Callable[[Any], int | None],
                 ) -> tuple[list[Any], int, int, list[int]] | NotImplementedType: ...
