"""Regular expressions that see record data: RE2, whose time is linear in the text whatever the pattern.

Python's `re` backtracks: a pattern as plain as `(?P<level>\\w+): (?P<msg>.*)` takes seconds on one
long line without `: `, and a pod writes the lines. Every expression that reads a record (operators'
`parse`, `filter`, `route`, `multiline` and `redact` patterns, and redact's built-ins) is compiled
here, by RE2 (google-re2). RE2 refuses what it cannot run in linear time (backreferences,
lookaround); `check` reports that with the key and RE2's own reason.

RE2's syntax is Python's with those exceptions, `\\z` for Python's `\\Z`, and ASCII-only `\\d`, `\\w`,
`\\s` and `\\b` (Python's are Unicode); `\\p{Nd}` and `\\pL` take any script. Texts are matched as
UTF-8; a lone surrogate (not valid UTF-8) is matched as U+FFFD, which is what the spool stores.

The hot calls (`found_in`, `spans`, `groups_of_first_match`) go to google-re2's binding (`_regexp.Match`)
directly: its Python wrapper builds a match object and turns byte offsets into characters with a scan
per match (~2.4 us a call, 600 us for a block with a few matches). That binding is not public API:
google-re2 is held below 2 in pyproject.toml, and tests/test_regex.py holds the direct calls to what
the wrapper's match objects say.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add
from typing import Any

import re2

from shipper.text import valid_text

Error = re2.error


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its reason on stderr; ours goes into the config error
    return options


OPTIONS = _options()
_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = (-1, -1)
# what makes a pattern see a block's joined text differently from one text (BlockSearch): the text's
# own start or end, or multi-line mode turned off
_TEXT_BOUND = re.compile(r"\\[Az]|\(\?[A-Za-z]*-[A-Za-z]*m")


class Regex:
    """A compiled pattern with the part of `re.Pattern`'s interface the agent uses, total on any text."""

    __slots__ = ("_compiled", "groupindex", "groups", "pattern")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._compiled = re2.compile(pattern, OPTIONS)
        self.groupindex: dict[str, int] = dict(self._compiled.groupindex)
        self.groups: int = self._compiled.groups

    def search(self, text: str) -> Any:
        return self._compiled.search(matchable(text))

    def found_in(self, text: str) -> bool:
        """Whether `text` holds a match (RE2 called directly on its UTF-8: no match object is made)."""
        data = matchable(text).encode()
        return bool(self._compiled._regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH)

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        """Where the matches are in UTF-8 `data`, as byte offsets (RE2 called directly: no offset is
        turned into characters, no match object made)."""
        found, position, end = [], 0, len(data)
        match = self._compiled._regexp.Match
        while position <= end:
            span = match(_UNANCHORED, data, position, end)[0]
            if span == _NO_MATCH:
                break
            found.append(span)
            if span[1] > span[0]:
                position = span[1]
            else:  # an empty match: go on from the next character
                position = span[1] + 1
                while position < end and 0x80 <= data[position] < 0xC0:
                    position += 1
        return found

    def groups_of_first_match(self, text: str) -> dict[str, str] | None:
        """The named groups of the first match that took part in it; None when there is no match."""
        data = matchable(text).encode()
        spans = self._compiled._regexp.Match(_UNANCHORED, data, 0, len(data))
        if spans[0] == _NO_MATCH:
            return None
        return {name: data[spans[index][0]:spans[index][1]].decode("utf-8", "replace")  # `\\C` may cut a character
                for name, index in self.groupindex.items() if spans[index][0] >= 0}

    def match(self, text: str) -> Any:
        return self._compiled.match(matchable(text))

    def finditer(self, text: str) -> Any:
        return self._compiled.finditer(matchable(text))

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


class RegexSet:
    """Patterns searched for together, in one pass over the text (RE2::Set): which is the first of
    them, in the order given, that `text` holds."""

    __slots__ = ("_set",)

    def __init__(self, patterns: Sequence[str]):
        self._set = re2.Set.SearchSet(OPTIONS)
        try:
            for pattern in patterns:
                self._set.Add(pattern)
            self._set.Compile()
        except re2.error as error:
            raise ValueError(f"not a regular expression RE2 can run in linear time: {reason(error)}") from None

    def first_in(self, text: str) -> int | None:
        found = self._set.Match(matchable(text).encode())
        return min(found) if found else None


def matchable(text: str) -> str:
    """`text` as RE2 matches it: lone surrogates as U+FFFD (one code point each: positions hold)."""
    return text if text.isascii() else valid_text(text)


def compile_regex(pattern: str) -> Regex:
    """The RE2 form of `pattern`; raises ValueError with RE2's reason when RE2 cannot take it."""
    try:
        return Regex(pattern)
    except re2.error as error:
        raise ValueError(f"not a regular expression RE2 can run in linear time: {reason(error)}") from None
    except TypeError as error:  # what the wrapper refuses before RE2 sees it
        raise ValueError(f"not a valid regular expression: {error}") from None


def reason(error: BaseException) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    hint = ""
    if "perl operator" in text and any(operator in text for operator in ("(?<", "(?=", "(?!")):
        hint = " (lookaround is not supported)"
    elif "escape sequence" in text and any(f"\\{digit}" in text for digit in "123456789"):
        hint = " (backreferences are not supported)"
    elif "\\Z" in text:
        hint = " (write \\z for the end of the text)"
    return f"{text}{hint}"


class BlockSearch:
    """Which texts of a block hold a match of one pattern, in one pass of RE2 over the block's texts
    joined by line breaks (the pattern in multi-line mode) instead of a call per text.

    Why it gives what a search of each text gives: in multi-line mode `^`, `$` and `\\b` see a line
    break beside a text as they see a text's own start and end, so a match lying within one text
    that holds no line break is a match of that text alone; and every text that holds a match is
    touched by some match of the joined scan (a match found earlier ends before it or reaches into
    it). Texts touched otherwise (by a match across a line break, or holding line breaks) are
    searched alone. Patterns bound to the text's own start or end (`\\A`, `\\z`, multi-line mode
    turned off) are searched text by text.
    """

    def __init__(self, pattern: str):
        self.each = compile_regex(pattern)
        self.joined = None if _TEXT_BOUND.search(pattern) else compile_regex(f"(?m:{pattern})")

    def __call__(self, texts: Sequence[str]) -> list[bool]:
        if self.joined is None or len(texts) < 2:
            return [self.each.found_in(text) for text in texts]
        found = [False] * len(texts)
        joined = "\n".join(texts)
        ascii_only = joined.isascii()
        spans = self.joined.spans((joined if ascii_only else valid_text(joined)).encode())
        if not spans:
            return found
        sizes = map(len, texts) if ascii_only else (len(t.encode("utf-8", "surrogatepass")) for t in texts)
        after = list(accumulate(map(add, sizes, repeat(1))))  # where each text's line break is, plus one
        starts = [0, *after[:-1]]
        unsure: set[int] = set()
        for begin, end in spans:  # byte offsets in the joined text
            first, last = bisect_left(after, begin + 1), bisect_right(starts, end) - 1
            if first == last and "\n" not in texts[first]:
                found[first] = True
            else:
                unsure.update(range(first, last + 1))
        for index in unsure:
            found[index] = found[index] or self.each.found_in(texts[index])
        return found
