from typing import Any

def whole_lines(texts: list[str], start: int, out: list[Any], stdout_fields: dict[str, str],
                stderr_fields: dict[str, str]) -> int: ...
