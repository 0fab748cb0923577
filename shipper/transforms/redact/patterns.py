"""The built-in patterns of `redact`: what each finds, and the check that keeps look-alikes out.

A pattern with a group named `secret` has only that group replaced (`password=` stays readable);
otherwise the whole match is. A `check` confirms a candidate (a card number's Luhn digit, an IPv6
address that parses), so order numbers and clock times stay as they are.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] | None = None


def luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return 13 <= len(digits) <= 19 and total % 10 == 0


def ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_BASE64ISH = "A-Za-z0-9/+"
BUILTINS: dict[str, Pattern] = {p.name: p for p in (
    Pattern("aws_access_key_id",
            re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b")),
    # 40 characters of base64 with upper case, lower case and a digit: the shape of AWS secret access keys
    # (a git commit id, 40 lower-case hex digits, is not taken)
    Pattern("aws_secret_access_key", re.compile(
        rf"(?<![{_BASE64ISH}])(?=[{_BASE64ISH}]{{0,39}}[A-Z])(?=[{_BASE64ISH}]{{0,39}}[a-z])"
        rf"(?=[{_BASE64ISH}]{{0,39}}[0-9])[{_BASE64ISH}]{{40}}(?![{_BASE64ISH}=])")),
    Pattern("bearer_token", re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)")),
    Pattern("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    Pattern("secret_assignment", re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|client_secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
        r"[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"',;&]{3,})")),
    Pattern("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    Pattern("credit_card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), luhn),
    Pattern("ipv4", re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                               r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")),
    Pattern("ipv6", re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"), ipv6),
)}
OPT_IN = ("ipv4", "ipv6")  # addresses are often what an operator needs to read: redacted only when asked
DEFAULT_BUILTINS = tuple(name for name in BUILTINS if name not in OPT_IN)
