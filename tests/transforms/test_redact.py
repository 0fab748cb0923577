"""`redact`: built-in secrets and custom patterns replaced in every string, counted per pattern."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.transforms.redact.patterns import BlockScreen, Views
from shipper.transforms.redact.transform import Redact
from tests.transforms.helpers import block, make, metric, run

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(("line", "expected"), [
    (f"key AKIAIOSFODNN7EXAMPLE secret {SECRET}", "key [REDACTED] secret [REDACTED]"),
    (f'{{"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "{SECRET}"}}',
     '{"AccessKeyId": "[REDACTED]", "SecretAccessKey": "[REDACTED]"}'),
    (f"export AWS_SECRET_ACCESS_KEY={SECRET}", "export AWS_SECRET_ACCESS_KEY=[REDACTED]"),
    ("Authorization: Bearer abcdef0123456789.xyz", "Authorization: Bearer [REDACTED]"),
    (f"token {JWT} used", "token [REDACTED] used"),
    ('db password="hunter22" user=app', 'db password="[REDACTED]" user=app'),
    ("api_key: 1234abcd, next", "api_key: [REDACTED], next"),
    ("mail jane.doe@example.co.uk now", "mail [REDACTED] now"),
    ("card 4111 1111 1111 1111 paid", "card [REDACTED] paid"),
    ("order 4111 1111 1111 1112 paid", "order 4111 1111 1111 1112 paid"),
    ("commit 3f786850e387550fdab836ed7e6dc881de23001b", "commit 3f786850e387550fdab836ed7e6dc881de23001b"),
    ("from 10.1.2.3 at 10:15:00", "from 10.1.2.3 at 10:15:00"),
    # case as Python's re folds it (a long s, a Kelvin sign) and other scripts' digits
    ("DB_PA\u017fSWORD=hunter22 ok", "DB_PA\u017fSWORD=[REDACTED] ok"),
    ("API_\u212aEY: 1234abcd, next", "API_\u212aEY: [REDACTED], next"),
    ("card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 paid",
     "card [REDACTED] paid"),
])
def test_builtins_replace_secrets_and_leave_look_alikes(line, expected):
    redact = make("redact")

    (out,) = run(redact, block(line))["t"]

    assert out.records[0][1] == expected


def test_ip_addresses_only_when_asked():
    redact = make("redact", builtins=["ipv4", "ipv6"])

    (out,) = run(redact, block("from 10.1.2.3 and 2001:db8::1 at 10:15:00"))["t"]

    assert out.records[0][1] == "from [REDACTED] and [REDACTED] at 10:15:00"


def test_every_string_is_scrubbed_nested_fields_and_metadata_included():
    redact = make("redact")
    common = {"kubernetes": {"annotations": {"config": f"aws_secret_access_key={SECRET}"}}}
    fields = {"user": {"email": "a@b.io", "ids": [1, "x@y.org"]}, "n": 3}

    (out,) = run(redact, block(("plain", fields), common=common))["t"]

    assert out.records[0] == (1, "plain", {"user": {"email": "[REDACTED]", "ids": [1, "[REDACTED]"]}, "n": 3})
    assert out.common == {"kubernetes": {"annotations": {"config": "aws_secret_access_key=[REDACTED]"}}}
    assert fields["user"]["email"] == "a@b.io"


def test_custom_patterns_only_in_chosen_fields_with_counts():
    redact = make("redact", "r-custom", builtins=[], replacement="***",
                  patterns=[{"name": "ticket", "regex": r"TICKET-\d+"}], fields=["note"])
    before = metric("shipper_redactions_total", component_kind="transform", component_id="r-custom",
                    component_type="redact", pattern="ticket")

    (out,) = run(redact, block(("TICKET-1 stays", {"note": "TICKET-2 and TICKET-3"})))["r-custom"]

    assert out.records[0][1:] == ("TICKET-1 stays", {"note": "*** and ***"})
    assert metric("shipper_redactions_total", component_kind="transform", component_id="r-custom",
                  component_type="redact", pattern="ticket") == before + 2


def test_a_pattern_that_matches_nothing_at_all_is_refused():
    with pytest.raises(ValueError, match="empty"):
        make("redact", patterns=[{"name": "any", "regex": "x*"}])


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(alphabet="AKIA0123456789abcdefXYZ/+=@. -:"))
def test_redact_never_raises_and_never_leaves_a_known_secret(noise, more):
    redact = make("redact")
    line = f"{noise} AWS credentials: {SECRET} {more}"

    (out,) = run(redact, block(line))["t"]

    assert SECRET not in out.records[0][1]


FRAGMENTS = ["pass", "PA\u017fS", "word", "wd", "=", ": ", " ", "\n", "key", "\u212aEY", "api_", "token", "Secret",
             "aws", "Bearer ", "eyJ", "abcd", ".", "@", "example.com", "4111", "1111", "-", "\u0664\u0661\u0661\u0661",
             "AKIA", "IOSFODNN7EXAMPLE", SECRET[:20], SECRET[20:], "x", "\ud800", "\u00e9",
             "PA\u017fSWORD=abcd", "\u212aEY: abcd", "4111 1111 1111 1111",
             "\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661"]


def mentions_aws_or_secret(views: Views) -> bool:
    return views.mentions("aws") or views.mentions("secret")


def ungated(redact: Redact) -> Redact:
    """The same transform with every pattern run on every string (no screen, no gate), but for the one
    documented condition beyond an expression: an AWS secret key counts in text that mentions `aws` or `secret`."""
    redact.patterns = [replace(p, screen=None, gate=mentions_aws_or_secret if p.name == "aws_secret_access_key"
                               else None) for p in redact.patterns]
    redact.screen = BlockScreen(redact.patterns)
    return redact


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS)).map("".join) | st.text(), min_size=1, max_size=6))
def test_screens_and_gates_never_change_what_is_redacted(lines):
    builtins = ["aws_access_key_id", "aws_secret_access_key", "bearer_token", "jwt", "secret_assignment", "email",
                "credit_card", "ipv4", "ipv6"]
    screened, oracle = make("redact", builtins=builtins), ungated(make("redact", "oracle", builtins=builtins))

    (out,) = run(screened, block(*lines))["t"]
    (expected,) = run(oracle, block(*lines))["oracle"]

    assert out.records == expected.records
