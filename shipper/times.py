"""A record's time from a parsed value: RFC 3339 text, epoch seconds or milliseconds, or strftime text.
Used by the `parse` transform, the file source's `format: json` (`time_key`, `time_format`) and the
container log decoders (`parse_rfc3339_exact`, `utc_second_ns`: the runtimes' own form, fast)."""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # noqa: F401 - time.strptime imports it lazily: out of descriptors, that fails
import calendar
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

TimeParser = Callable[[Any], int | None]  # a value -> nanoseconds since the epoch, None when it is not a time

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?")
NS = 1_000_000_000
# Far enough on both sides for any log, near enough that no arithmetic overflows a 64-bit stored time.
EARLIEST, LATEST = 0, 4_102_444_800 * NS  # 1970 .. 2100


def time_parser(time_format: str) -> TimeParser:
    if time_format == "rfc3339":
        return _within(parse_rfc3339)
    if time_format == "epoch":
        return _within(lambda value: _epoch(value, NS))
    if time_format == "epoch_ms":
        return _within(lambda value: _epoch(value, 1_000_000))
    if not any(directive in time_format for directive in _YEAR_DIRECTIVES):
        return _within(_cached(lambda text: _strptime_without_year(text, time_format)))
    return _within(_cached(lambda text: _formatted(text, time_format)))


def parse_rfc3339(value: Any) -> int | None:
    """`2026-12-02T10:15:00.123456789Z` (or `+01:00`, or a space for `T`; no offset means UTC)."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value.strip())
    return None if match is None else _rfc3339_ns(match)


def parse_rfc3339_exact(text: str) -> int:
    """Nanoseconds since the epoch of a timestamp as container runtimes write it: `2026-11-22T10:15:00.123456789Z`
    (or a `+01:00` offset; a zone always, `.` before the fraction). Raises ValueError on anything else."""
    if len(text) == 30 and text[29] == "Z" and text[19] == ".":  # kubelet's and dockerd's own form: 9 digits, UTC
        return utc_second_ns(text[:19]) + int(text[20:29])
    match = _RFC3339.fullmatch(text)
    zoned = match is not None and (match[8] is not None or (match[9] is not None and text[-3] == ":"))
    time_ns = _rfc3339_ns(match) if match is not None and zoned and text[19] != "," else None
    if time_ns is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    return time_ns


@lru_cache(maxsize=4096)
def utc_second_ns(date_time: str) -> int:
    """Nanoseconds since the epoch of a UTC `2026-11-22T10:15:00` (cached per distinct second)."""
    parsed = time.strptime(date_time.replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(parsed) * NS


def _rfc3339_ns(match: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
            and second <= 60):
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match[9]:
        offset = int(match[10]) * 3600 + int(match[11]) * 60
        seconds -= offset if match[9] == "+" else -offset
    fraction = match[7] or ""
    return seconds * NS + int(fraction.ljust(9, "0")) if fraction else seconds * NS


def _epoch(value: Any, unit: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):  # exact decimal arithmetic: "1764670500.25" is not rounded through a float
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return int(number * unit) if number.is_finite() and abs(number) < 10**15 else None
    if isinstance(value, int):
        return value * unit
    if isinstance(value, float) and value == value and abs(value) < 1e15:  # not NaN, not absurd
        return round(value * unit)
    return None


_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%c", "%x", "%s")
_LEAP_YEAR = 2000  # a year in which every month-day exists (29 February included)


def _formatted(text: Any, time_format: str) -> int | None:
    parsed = _parsed(text, time_format)
    return None if parsed is None else _nanoseconds(parsed)


def _strptime_without_year(text: Any, time_format: str) -> int | None:
    """A time written without its year (`%b %d %H:%M:%S`) in the year that puts it nearest to now, and
    not more than a day ahead: December's lines read in January are last year's."""
    parsed = _parsed(f"{text} {_LEAP_YEAR}" if isinstance(text, str) else text, f"{time_format} %Y")
    if parsed is None:
        return None
    now = time.time()
    year = datetime.fromtimestamp(now, UTC).year
    candidates = []
    for candidate in (year + 1, year, year - 1):
        try:
            stamp = _nanoseconds(parsed.replace(year=candidate))
        except ValueError:  # 29 February of a common year
            continue
        if stamp <= (now + 86_400) * NS:
            candidates.append(stamp)
    return max(candidates, default=None)


def _parsed(text: Any, time_format: str) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.strptime(text, time_format)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _nanoseconds(parsed: datetime) -> int:
    return calendar.timegm(parsed.utctimetuple()) * NS + parsed.microsecond * 1000


def _cached(parse: Callable[[Any], int | None]) -> Callable[[Any], int | None]:
    """Lines of one second share their time text: strptime once per distinct text, not per line."""
    last: list[Any] = [None, None]

    def parse_once(value: Any) -> int | None:
        if value != last[0] or not isinstance(value, str):
            last[0], last[1] = value, parse(value)
        result: int | None = last[1]
        return result

    return parse_once


def _within(parse: TimeParser) -> TimeParser:
    def checked(value: Any) -> int | None:
        result = parse(value)
        return result if result is not None and EARLIEST <= result < LATEST else None

    return checked


def infer_year(month: int, day: int, now: float) -> int | None:
    """The year of a date written without one (klog, RFC 3164): this year, or last year for a date
    more than a day ahead of `now` (December's lines read in January); None for a date that exists
    in neither."""
    year = datetime.fromtimestamp(now, UTC).year
    for candidate in (year, year - 1):
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(candidate, month)[1]):
            continue
        if calendar.timegm((candidate, month, day, 0, 0, 0, 0, 0, 0)) <= now + 86_400:
            return candidate
    return None
