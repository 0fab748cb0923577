"""RFC 3339 timestamps with nanoseconds, parsed fast: the date-time part once per distinct second."""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # noqa: F401 - time.strptime imports it lazily: out of descriptors, that fails
import calendar
import time
from functools import lru_cache


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch from `2026-11-22T10:15:00.123456789Z` (or a `+01:00` offset).

    Raises ValueError on anything else.
    """
    if len(text) == 30 and text[29] == "Z" and text[19] == ".":  # kubelet's own form: 9 digits, UTC
        return utc_second_ns(text[:19]) + int(text[20:29])
    if len(text) < 20 or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    rest = text[19:]
    nanos = 0
    if rest[0] == ".":
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        if end == 1:
            raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
        nanos = int(rest[1:end][:9].ljust(9, "0"))
        rest = rest[end:]
    return (_epoch_seconds(text[:19], rest) * 1_000_000_000) + nanos


def utc_second_ns(date_time: str) -> int:
    """Nanoseconds since the epoch of a UTC `2026-11-22T10:15:00` (cached per distinct second)."""
    return _epoch_seconds(date_time, "Z") * 1_000_000_000


@lru_cache(maxsize=4096)
def _epoch_seconds(date_time: str, zone: str) -> int:
    seconds = calendar.timegm(time.strptime(date_time.replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S"))
    if zone in ("Z", "z"):
        return seconds
    if len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        return seconds - offset if zone[0] == "+" else seconds + offset
    raise ValueError(f"not an RFC 3339 time zone: {zone!r}")
