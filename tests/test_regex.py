"""Expressions on record data run on RE2 (shipper/regex.py); a block's texts searched in one pass give
what searching each text alone gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.regex import BlockSearch, compile_regex

PATTERNS = ["healthz", "^GET", "a$", r"\bx\b", "a\nb", "[^z]{3}", "x*", "", r"(?s)a.b", r"\Aabc", "(a|b)c$", "^$",
            r"(?i)get\s", r"\d+ms", "^", "$", r"x\z", r"(?i-m)^a", r"\p{Nd}{2}"]
TEXTS = st.text(alphabet="abcxzGET 01\n\r\u00e9\ud800", max_size=8)


@settings(max_examples=1_000, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(TEXTS, max_size=8))
def test_a_block_searched_in_one_pass_gives_what_each_text_searched_alone_gives(pattern, texts):
    alone = compile_regex(pattern)

    assert BlockSearch(pattern)(texts) == [alone.search(text) is not None for text in texts]


@given(TEXTS)
def test_the_direct_calls_agree_with_the_match_objects(text):
    regex = compile_regex(r"(?P<word>[a-z]+)(?: (?P<rest>.*))?|(?P<none>Q)")
    match = regex.search(text)

    assert regex.found_in(text) == (match is not None)
    assert regex.groups_of_first_match(text) == (
        None if match is None else {k: v for k, v in match.groupdict().items() if v is not None})
