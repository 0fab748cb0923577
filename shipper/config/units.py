"""Sizes (`512MiB`), durations (`5s`), addresses, regular expressions and field paths as users write
them in the configuration."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from shipper.regex import compile_regex
from shipper.templates import field_path

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
    "k": 1024, "m": 1024**2, "g": 1024**3,
}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: object) -> int:
    """Bytes from an int or a string such as `512MiB`, `10MB` or `4096`."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 512MiB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative, got {value}")
        return value
    match = _QUANTITY.match(str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(
            f"{value!r} is not a size; use a number with one of the units B, KB, MB, GB, KiB, MiB, GiB"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as `5s`, `250ms`, `2m`, `1h`."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 5s, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value}")
        return float(value)
    match = _QUANTITY.match(str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _DURATION_UNITS:
        raise ValueError(f"{value!r} is not a duration; use a number with one of the units ms, s, m, h, d")
    return float(match.group(1)) * _DURATION_UNITS[unit]


ByteSize = Annotated[int, BeforeValidator(parse_size)]
Duration = Annotated[float, BeforeValidator(parse_duration)]


def check_address(value: str) -> str:
    """`host:port` (a bracketed IPv6 host too), the port in 1-65535."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return value


Address = Annotated[str, AfterValidator(check_address)]


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's loopback (`localhost`, 127.0.0.0/8, ::1)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_address(address: str) -> tuple[str, int]:
    """The host (an IPv6 host without its brackets) and the port of a checked `host:port`."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def check_regex(pattern: str) -> str:
    """A pattern RE2 takes (every expression that reads record data runs on RE2: shipper/regex.py)."""
    compile_regex(pattern)
    return pattern


Regex = Annotated[str, AfterValidator(check_regex)]


def check_field_path(path: str) -> str:
    if field_path(path) is None:
        raise ValueError(f"{path!r} is not a field path such as message, kubernetes.pod_name or log[\"a.b\"]")
    return path


FieldPath = Annotated[str, AfterValidator(check_field_path)]  # a record field, as records.md writes them
