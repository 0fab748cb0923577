"""The agent's own logs: formats that parse, repeats held back and counted, credentials never written."""

from __future__ import annotations

import logging
import re

import orjson

from shipper.observe.logs import (
    ComponentLog,
    JsonFormatter,
    LogfmtFormatter,
    RepeatLimiter,
    TextFormatter,
    WarningPace,
    mask,
    register_secret,
)


def record(msg: str, *args, level: int = logging.WARNING, name: str = "shipper.sinks") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_aws_keys_secrets_tokens_and_authorization_headers_are_masked():
    text = ("creds AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY "
            "'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122' "
            "X-Amz-Security-Token: FwoGZXIvYXdzEXAMPLE password=hunter2")

    masked = mask(text)

    for secret in ("IOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "AWS4-HMAC", "FwoGZXIvYXdz", "hunter2"):
        assert secret not in masked
    assert "AKIA****" in masked and "aws_secret_access_key=****" in masked


def test_every_format_masks_and_json_and_logfmt_lines_parse():
    line = record("sent with %s", "aws_session_token=abc123", level=logging.INFO)

    as_json = orjson.loads(JsonFormatter().format(line))
    as_logfmt = LogfmtFormatter().format(line)
    as_text = TextFormatter().format(line)

    assert as_json == {"ts": as_json["ts"], "level": "info", "logger": "shipper.sinks",
                       "msg": "sent with aws_session_token=****"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", as_json["ts"])  # RFC 3339, UTC
    assert 'msg="sent with aws_session_token=****"' in as_logfmt and "level=info" in as_logfmt
    assert "abc123" not in as_text


def test_an_identical_message_is_written_once_per_window_then_says_how_many_were_held_back():
    now = [0.0]
    limiter = RepeatLimiter(window=10, clock=lambda: now[0])

    passed = [limiter.filter(record("connection to %s failed", "host")) for _ in range(5)]
    other = limiter.filter(record("connection to %s failed", "another host"))
    now[0] = 10.5
    after = record("connection to %s failed", "host")
    passed_after = limiter.filter(after)

    assert passed == [True, False, False, False, False] and other
    assert passed_after and "(4 identical messages held back in the last 10s)" in after.getMessage()


def test_secrets_are_masked_by_value_once_known_whatever_syntax_surrounds_them():
    register_secret("wJalrXUtnFEMI/K7MDENG/registeredSECRET")
    sts_answer = "<Credentials><SecretAccessKey>learnedFromXml0123456789</SecretAccessKey>" \
                 "<SessionToken>IQoJ/learned+token=</SessionToken></Credentials>"

    masked = [mask(sts_answer),
              mask("{'X-Amz-Security-Token': b'IQoJ/learned+token='}"),
              mask("signed with learnedFromXml0123456789 and IQoJ%2Flearned%2Btoken%3D"),
              mask("b'wJalrXUtnFEMI/K7MDENG/registeredSECRET' in a repr")]

    for text in masked:
        for secret in ("learnedFromXml", "IQoJ/learned", "IQoJ%2Flearned", "registeredSECRET"):
            assert secret not in text
    assert masked[1] == "{'X-Amz-Security-Token': b'****'}"


def test_a_components_lines_carry_its_kind_id_and_file_as_fields_and_the_text_format_names_it():
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("shipper.sources.files.source")
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        ComponentLog(logger, {"component_kind": "source", "component": "app"}).warning(
            "tailing %s from offset %d", "/var/log/a.log", 0, extra={"file": "/var/log/a.log"})
    finally:
        logger.removeHandler(handler)

    (line,) = records
    event = orjson.loads(JsonFormatter().format(line))
    assert {k: event[k] for k in ("component_kind", "component", "file")} == \
        {"component_kind": "source", "component": "app", "file": "/var/log/a.log"}
    assert 'component=app file=/var/log/a.log msg="tailing' in LogfmtFormatter().format(line)
    assert TextFormatter().format(line).endswith(
        "shipper.sources.files.source: app: tailing /var/log/a.log from offset 0")


def test_a_paced_warning_is_due_once_per_window_and_kind_and_says_how_many_happened_since():
    now = [100.0]
    pace = WarningPace(every=10, clock=lambda: now[0])

    first = [pace.due("429"), pace.due("429"), pace.due("500"), pace.due("429", count=3)]
    now[0] += 10
    later = pace.due("429")

    assert first == [1, None, 1, None]
    assert later == 5  # the two held back (1 + 3) and this one
