"""`redact`: built-in secrets and custom patterns replaced in every string, counted per pattern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
