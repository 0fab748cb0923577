"""Severities as syslog numbers them (RFC 5424), the scale the journal's PRIORITY uses too: 0 (emerg)
is the most severe, 7 (debug) the least. The journald source filters and tags records with it; the
syslog sink writes it into each message's PRI."""

from __future__ import annotations

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
