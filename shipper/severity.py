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
