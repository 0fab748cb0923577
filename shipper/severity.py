"""Severities as syslog numbers them (RFC 5424), the scale the journal's PRIORITY uses too: 0 (emerg)
is the most severe, 7 (debug) the least. The journald source filters and tags records with it; the
syslog sink writes it into each message's PRI; facilities are numbered the same way (kern is 0)."""

from __future__ import annotations

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")

# Level names programs write, read case-insensitively, and the severity each stands for; the syslog
# names themselves are included. Anything else is not a severity.
LEVEL_NAMES: dict[str, int] = {
    **{name: number for number, name in enumerate(SEVERITIES)},
    "trace": 7, "debug": 7, "info": 6, "information": 6, "informational": 6, "notice": 5, "warn": 4, "warning": 4,
    "error": 3, "err": 3, "crit": 2, "critical": 2, "fatal": 2, "alert": 1, "emerg": 0, "emergency": 0, "panic": 0,
}


def severity_number(value: object, names: dict[str, int] = LEVEL_NAMES) -> int | None:
    """The syslog severity a field's value stands for: a number 0-7 (or its digits), or a name in
    `names` (lower case; the value is matched in any case); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 7 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text) if int(text) <= 7 else None
        return names.get(text.lower())
    return None


def facility_number(value: object) -> int | None:
    """The syslog facility a field's value stands for: a number 0-23 (or its digits) or a facility
    name in any case; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < len(FACILITIES) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return int(text) if int(text) < len(FACILITIES) else None
        return FACILITIES.index(text) if text in FACILITIES else None
    return None


# OpenTelemetry's SeverityNumber of each syslog severity, emerg to debug (its logs data model, appendix
# B), and of level names programs write (trace and fatal keep their own: TRACE and FATAL).
OTEL_OF_SYSLOG = (21, 19, 18, 17, 13, 10, 9, 5)
OTEL_LEVEL_NAMES: dict[str, int] = {
    **{name: OTEL_OF_SYSLOG[number] for name, number in LEVEL_NAMES.items()}, "trace": 1, "fatal": 21}


def otel_severity(value: object, names: dict[str, int] = OTEL_LEVEL_NAMES) -> int | None:
    """OpenTelemetry's SeverityNumber (1-24) a field's value stands for: a syslog number 0-7 (or its
    digits), as severity_number reads it, or a level name in `names`; None for anything else."""
    if isinstance(value, str) and not value.strip().isdigit():
        return names.get(value.strip().lower())
    syslog = severity_number(value)
    return OTEL_OF_SYSLOG[syslog] if syslog is not None else None
