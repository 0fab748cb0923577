"""The built-in patterns of `redact`: what each finds, the gate that lets most text skip it, and the
check that keeps look-alikes out.

Python's regular expressions cost tens of nanoseconds per character they try, so every built-in has a
*gate*: a necessary condition tested with C-speed string operations (a substring, a byte
translation) on a whole block's text first, then per string. A pattern whose gate fails is never
run. A pattern with a group named `secret` has only that group replaced (`password=` stays
readable); otherwise the whole match is. A `check` confirms a candidate (a card number's Luhn digit,
an IPv6 address that parses), so order numbers and clock times stay as they are.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
_TO_RUNS = bytes(0x61 if byte in _BASE64 else 0x20 for byte in range(256))  # base64 -> 'a', the rest -> ' '
_TO_DIGITS = bytes(0x64 if chr(byte).isdigit() and byte < 128 else 0x78 for byte in range(256))  # '0'-'9' -> 'd'


class Views:
    """A text and the cheap views of it that gates test, each made once, when a gate first asks."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def _words(self) -> dict[str, bool]:
        return {}

    def mentions(self, word: str) -> bool:
        """Whether the lower-cased text holds `word` (asked by several gates, scanned once)."""
        found = self._words.get(word)
        if found is None:
            found = self._words[word] = word in self.lower
        return found

    @cached_property
    def utf8(self) -> bytes:
        return self.text.encode("utf-8", "surrogatepass")

    @cached_property
    def runs(self) -> bytes:
        """Base64 characters as `a`, everything else as a space."""
        return self.utf8.translate(_TO_RUNS)

    @cached_property
    def digits(self) -> bytes:
        """Digits as `d` with spaces and dashes taken out (a card number written in groups becomes one run)."""
        return self.utf8.translate(_TO_DIGITS, b" -")


Gate = Callable[[Views], bool]


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    gate: Gate | None = None  # None: always run (custom patterns)
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


_KEY_ID_PREFIX = re.compile("AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA")  # a literal search: fast
_B64 = "A-Za-z0-9/+"
_SECRET_WORDS = ("secret", "pass", "pwd", "token", "key")

BUILTINS: dict[str, Pattern] = {p.name: p for p in (
    Pattern("aws_access_key_id", re.compile(rf"\b(?:{_KEY_ID_PREFIX.pattern})[A-Z0-9]{{16}}\b"),
            lambda v: _KEY_ID_PREFIX.search(v.text) is not None),
    # 40 characters of base64 with upper case, lower case and a digit (the shape of AWS secret access keys;
    # a git commit id, 40 lower-case hex digits, is not taken), in text that mentions AWS or a secret
    Pattern("aws_secret_access_key", re.compile(
        rf"(?<![{_B64}])(?=[{_B64}]{{0,39}}[A-Z])(?=[{_B64}]{{0,39}}[a-z])(?=[{_B64}]{{0,39}}[0-9])"
        rf"[{_B64}]{{40}}(?![{_B64}=])"),
            lambda v: (v.mentions("secret") or v.mentions("aws")) and b"a" * 40 in v.runs),
    Pattern("bearer_token", re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)"),
            lambda v: v.mentions("bearer")),
    Pattern("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), lambda v: "eyJ" in v.text),
    Pattern("secret_assignment", re.compile(
        r"(?i)\b(?:[a-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key))"
        r"[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"',;&]{3,})"),
            lambda v: any(map(v.mentions, _SECRET_WORDS))),
    Pattern("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
            lambda v: "@" in v.text),
    Pattern("credit_card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), lambda v: b"d" * 13 in v.digits,
            luhn),
    Pattern("ipv4", re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                               r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"), lambda v: v.text.count(".") >= 3),
    Pattern("ipv6", re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"),
            lambda v: v.text.count(":") >= 2, ipv6),
)}
OPT_IN = ("ipv4", "ipv6")  # addresses are often what an operator needs to read: redacted only when asked
DEFAULT_BUILTINS = tuple(name for name in BUILTINS if name not in OPT_IN)
