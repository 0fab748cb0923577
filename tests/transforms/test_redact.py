"""`redact`: built-in secrets and custom patterns replaced in every string, counted per pattern."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shipper.transforms.redact.patterns import BlockScreen, Views
from shipper.transforms.redact.transform import MAX_DEPTH, Redact
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


@pytest.mark.parametrize(("line", "expected"), [
    ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic [REDACTED]"),
    ("connect postgres://app:S3cretPw@10.0.0.5:5432/db", "connect postgres://app:[REDACTED]@10.0.0.5:5432/db"),
    ("password=ab,cdefgh user=x", "password=[REDACTED] user=x"),
    ('password="correct horse, battery" user=x', 'password="[REDACTED]" user=x'),
    ("secret: 'two words' ok", "secret: '[REDACTED]' ok"),
    ('{"password": "a \\" quote"}', '{"password": "[REDACTED]"}'),
    ("credentials=abc;next=1", "credentials=[REDACTED];next=1"),
])
def test_basic_auth_uri_userinfo_and_quoted_or_comma_values_are_replaced(line, expected):
    (out,) = run(make("redact"), block(line))["t"]

    assert out.records[0][1] == expected


def test_values_under_secret_names_are_replaced_whole_and_keys_are_scrubbed():
    fields = {"password": "hunter2", "db": {"token": "abcd1234efgh", "DB-Password": {"nested": 1}},
              "X-Api-Key": 42, "AKIAIOSFODNN7EXAMPLE": "a key as a key", "user": "bob"}

    (out,) = run(make("redact"), block(("plain", fields)))["t"]

    assert out.records[0][2] == {"password": "[REDACTED]", "db": {"token": "[REDACTED]", "DB-Password": "[REDACTED]"},
                                 "X-Api-Key": "[REDACTED]", "[REDACTED]": "a key as a key", "user": "bob"}


def test_secret_keys_extend_or_replace_the_default_names():
    fields = {"card_pin": "1234", "password": "x"}

    (extended,) = run(make("redact", secret_keys=["PIN"]), block(("m", fields)))["t"]
    (replaced,) = run(make("redact", "t", secret_keys=["pin"], default_secret_keys=False, builtins=[]),
                      block(("m", fields)))["t"]

    assert extended.records[0][2] == {"card_pin": "[REDACTED]", "password": "[REDACTED]"}
    assert replaced.records[0][2] == {"card_pin": "[REDACTED]", "password": "x"}


def test_raw_bytes_and_extension_values_are_scanned_as_text():
    fields = {"auth": b"Bearer abcdefghijklmnop", "ext": msgpack.ExtType(5, b"password=hunter22")}

    (out,) = run(make("redact"), block(("m", fields)))["t"]

    assert out.records[0][2]["auth"] == "Bearer [REDACTED]"
    assert "hunter22" not in out.records[0][2]["ext"]


def test_a_value_nested_past_the_depth_bound_is_replaced_and_counted():
    deep: object = "password=hunter22"
    for _ in range(MAX_DEPTH + 5):
        deep = {"k": deep}
    before = metric("shipper_redactions_total", component_kind="transform", component_id="t",
                    component_type="redact", pattern="unscannable")

    (out,) = run(make("redact"), block(("m", {"deep": deep}, ), ("other", {"ok": 1})))["t"]

    assert "hunter22" not in repr(out.records[0])
    assert out.records[1] == (1, "other", {"ok": 1})
    assert metric("shipper_redactions_total", component_kind="transform", component_id="t",
                  component_type="redact", pattern="unscannable") == before + 1


def test_a_record_redact_fails_on_leaves_replaced_and_the_rest_of_its_block_is_still_scrubbed(monkeypatch):
    redact = make("redact")
    original = redact._scrubber

    def failing_on_poison(patterns, counts):
        scrub = original(patterns, counts)

        def scrub_or_fail(text):
            if "poison" in text:
                raise RuntimeError("a bug of ours")
            return scrub(text)
        return scrub_or_fail

    monkeypatch.setattr(redact, "_scrubber", failing_on_poison)

    (out,) = run(redact, block("poison password=hunter22", "token=abcdef123 ok"))["t"]

    assert out.records == [(1, "[REDACTED]", None), (1, "token=[REDACTED] ok", None)]


def test_a_block_a_fail_closed_transform_cannot_handle_is_discarded_not_passed_on(monkeypatch):
    redact = make("redact")
    monkeypatch.setattr(redact, "process", lambda blocks: 1 / 0)
    before = metric("shipper_events_discarded_total", component_kind="transform", component_id="t",
                    component_type="redact", reason="transform_failed")

    assert run(redact, block("password=hunter22")) == {}
    assert metric("shipper_events_discarded_total", component_kind="transform", component_id="t",
                  component_type="redact", reason="transform_failed") == before + 1


SECRET_VALUES = st.text(alphabet="abcdefghijkLMNOP0123456789", min_size=8, max_size=16)
HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.integers(), inner,
                                                                 max_size=4),
    max_leaves=20)


def plant(value: object, secret: str, where: str) -> object:
    """`value` with `secret` put in a place redact promises to scrub."""
    planted = {"value": f"password={secret}", "key": {f"Bearer {secret}": 1}, "name": {"db_token": secret},
               "bin": {"x": f"api_key: {secret}".encode()}, "deep": {"a": [{"b": {"secret": secret}}]}}[where]
    return {"noise": value, "planted": planted}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(HOSTILE, SECRET_VALUES, st.sampled_from(["value", "key", "name", "bin", "deep"]),
                          st.text() | st.just("\ud800")), min_size=1, max_size=5))
def test_no_planted_secret_survives_whatever_else_the_block_holds(records):
    assume(all(secret not in repr((value, noise)) for value, secret, _, noise in records))
    block_records = [(f"{noise} password={secret}", plant(value, secret, where))
                     for value, secret, where, noise in records]

    (out,) = run(make("redact"), block(*block_records))["t"]

    for (_, secret, _, _), record in zip(records, out.records, strict=True):
        assert secret not in repr(record)


def test_one_patterns_match_never_hides_anothers_every_match_is_found_in_the_text_as_it_came():
    # found by the fuzzer: the bearer pattern took `password=` as a token, and the password was left
    (out,) = run(make("redact"), block("Authorization: Bearer password=Zq9xK2pW7v"))["t"]

    assert "Zq9xK2pW7v" not in out.records[0][1]
