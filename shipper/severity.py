"""Severities as syslog numbers them (RFC 5424), the scale the journal's PRIORITY uses too: 0 (emerg)
is the most severe, 7 (debug) the least. The journald source filters and tags records with it; the
syslog sink writes it into each message's PRI; facilities are numbered the same way (kern is 0)."""

from __future__ import annotations

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
