"""The built-in patterns of `redact`: what each finds, the conditions that let most text skip it, and
the check that keeps look-alikes out.

Every expression runs on RE2 (shipper/regex.py): its time is linear in the text, whatever a pod
writes. RE2 has no lookaround, so where a pattern needs to know what is beside a match (an AWS secret
key is exactly 40 base64 characters; a card number a run of 13-19 digits) the expression takes the
whole run and the `check` judges it. Each built-in's grammar is written down in docs/transforms.md.

Each built-in also has necessary conditions, each a superset of what its expression can match: a
*screen*, an RE2 expression that one linear pass of RE2's automaton tests for every built-in at once
on a whole block's text, and a *gate*, tested with C-speed string operations (a substring, a byte
translation) on each string of a block that passed the screen. A pattern whose screen or gate fails
is never run. A pattern with groups named `secret...` has only the group that took part replaced
(`password=` stays readable); otherwise the whole match is. The conditions match as loosely as the
expressions: case-insensitive ones fold case as RE2 does (the long s is an `s`, the Kelvin sign a
`k`: hence `casefold`), and a digit is any script's digit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import re2

from shipper.regex import Regex, compile_regex

_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
_TO_RUNS = bytes(0x61 if byte in _BASE64 else 0x20 for byte in range(256))  # base64 -> 'a', the rest -> ' '
_TO_DIGITS = bytes(0x64 if chr(byte).isdigit() and byte < 128 else 0x78 for byte in range(256))  # '0'-'9' -> 'd'


class Views:
    """A text and the cheap views of it that gates test, each made once, when a gate first asks."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def folded(self) -> str:
        return self.text.casefold()

    @cached_property
    def _words(self) -> dict[str, bool]:
        return {}

    def any_of(self, words: Sequence[str]) -> bool:
        return any(word in self.text for word in words)

    def mentions(self, word: str) -> bool:
        """Whether the case-folded text holds `word` (asked by several gates, scanned once)."""
        found = self._words.get(word)
        if found is None:
            found = self._words[word] = word in self.folded
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

    def digit_run(self, length: int) -> bool:
        """Whether `length` digits follow each other, spaces and dashes aside (any text beyond ASCII may hold
        other scripts' digits: taken as a yes)."""
        return not self.text.isascii() or b"d" * length in self.digits


Gate = Callable[[Views], bool]


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: Regex
    gate: Gate | None = None  # None: always run (custom patterns)
    check: Callable[[str], bool] | None = None
    screen: str | None = None  # RE2 syntax; None: the gate screens the block too


class BlockScreen:
    """Which of `patterns` a block's text may hold: the screens of all of them in one pass of RE2 over
    the text, the gates of those without a screen."""

    def __init__(self, patterns: Sequence[Pattern]):
        self.patterns = list(patterns)
        self.screened = [p for p in self.patterns if p.screen is not None]
        self.screens = re2.Set.SearchSet(re2.Options())
        for pattern in self.screened:
            self.screens.Add(pattern.screen)
        if self.screened:
            self.screens.Compile()

    def candidates(self, views: Views) -> list[Pattern]:
        passed = {id(self.screened[i]) for i in self.screens.Match(views.utf8) or ()} if self.screened else set()
        return [p for p in self.patterns
                if (id(p) in passed if p.screen is not None else p.gate is None or p.gate(views))]


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


_KEY_ID_PREFIX = "AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA"
_B64 = "A-Za-z0-9/+"
_SECRET_WORDS = ("secret", "pass", "pwd", "token", "key", "credential")
# the value of an assignment: quoted (blanks and commas inside), or a run up to a blank, a quote, `;`
# or `&`, commas inside it (`ab,cdefgh`) but not a comma before a blank (`1234abcd, next`)
_VALUE = (r"(?:\"(?P<secret>(?:[^\"\\\n]|\\.)*)\"|'(?P<secret_single>[^'\n]*)'"
          r"|[\"']?(?P<secret_bare>[^\s\"'&;,]+(?:,[^\s\"'&;,]+)*))")


def aws_secret_key(candidate: str) -> bool:
    """Exactly 40 characters of base64 with upper case, lower case and a digit (a git commit id, 40
    lower-case hex digits, is not one)."""
    return (len(candidate) == 40 and any(c.isupper() for c in candidate) and any(c.islower() for c in candidate)
            and any(c.isdigit() for c in candidate))


def ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


BUILTINS: dict[str, Pattern] = {p.name: p for p in (
    Pattern("aws_access_key_id", compile_regex(rf"\b(?:{_KEY_ID_PREFIX})[A-Z0-9]{{16}}\b"),
            lambda v: v.any_of(_KEY_ID_PREFIX.split("|")), screen=_KEY_ID_PREFIX),
    # a whole run of base64 (and its `=` padding, which disqualifies it), judged by aws_secret_key, in
    # text that mentions AWS or a secret
    Pattern("aws_secret_access_key", compile_regex(rf"[{_B64}]{{40,}}=*"),
            lambda v: (v.mentions("secret") or v.mentions("aws")) and b"a" * 40 in v.runs, aws_secret_key,
            screen="(?i)secret|aws"),
    Pattern("bearer_token", compile_regex(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)"),
            lambda v: v.mentions("bearer"), screen="(?i)bearer"),
    Pattern("basic_auth", compile_regex(r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{4,}={0,2})"),
            lambda v: v.mentions("basic"), screen="(?i)basic"),
    Pattern("uri_userinfo", compile_regex(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:(?P<secret>[^\s/?#@]+)@"),
            lambda v: "://" in v.text, screen="://"),
    Pattern("jwt", compile_regex(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
            lambda v: "eyJ" in v.text, screen="eyJ"),
    Pattern("secret_assignment", compile_regex(
        r"(?i)\b[a-z0-9_\-]*(?:password|passwd|pwd|secret|token|credentials?|api[_\-]?key|access[_\-]?key"
        rf"|private[_\-]?key)[\"']?\s*[:=]\s*{_VALUE}"),
            lambda v: any(map(v.mentions, _SECRET_WORDS)), screen="(?i)" + "|".join(_SECRET_WORDS)),
    Pattern("email", compile_regex(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
            lambda v: "@" in v.text, screen="@"),
    # a whole run of digits (blanks and dashes between them), judged by its count and its Luhn digit
    Pattern("credit_card", compile_regex(r"\p{Nd}(?:[ \-]?\p{Nd})*"), lambda v: v.digit_run(13),
            luhn, screen=r"\p{Nd}(?:[ -]?\p{Nd}){12}"),
    Pattern("ipv4", compile_regex(r"[0-9]+(?:\.[0-9]+)*"), lambda v: v.text.count(".") >= 3, ipv4),
    Pattern("ipv6", compile_regex(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*"),
            lambda v: v.text.count(":") >= 2, ipv6),
)}
OPT_IN = ("ipv4", "ipv6")  # addresses are often what an operator needs to read: redacted only when asked
DEFAULT_BUILTINS = tuple(name for name in BUILTINS if name not in OPT_IN)
