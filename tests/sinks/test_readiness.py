"""A sink's readiness tells the truth: not ready after an error that needs an operator, after failed
attempts in a row, or after records waited `unready_after` with none delivered; ready again once it
delivers or has nothing to send. The reason says what kind of failure it is."""

from __future__ import annotations

import pytest

from shipper.buffer.spool import Spool
from shipper.components import SINKS
from shipper.sinks.base import UNREADY_AFTER_FAILURES, count_sent, failure_kind


@pytest.mark.parametrize(("code", "kind"), [
    ("ThrottlingException", "throttled"), ("429", "throttled"), ("ProvisionedThroughputExceededException", "throttled"),
    ("AccessDeniedException", "denied"), ("403", "denied"), ("ExpiredTokenException", "denied"),
    ("connection", "unreachable"), ("EndpointConnectionError", "unreachable"), ("transport", "unreachable"),
    ("timeout", "timeout"), ("ReadTimeoutError", "timeout"),
    ("503", "server_error"), ("InternalFailure", "server_error"), ("ServiceUnavailableException", "server_error"),
    ("400", "failing"), ("ambiguous", "failing"),
])
def test_an_error_code_says_what_kind_of_failure_it_is(code, kind):
    assert failure_kind(code) == kind


@pytest.fixture
def sink(tmp_path):
    spool = Spool.open(tmp_path, max_size=10 * 1024 * 1024)
    component = SINKS["console"]
    made = component.load()("out", component.options.model_validate({"type": "console", "inputs": ["app"]}), spool)
    yield made
    spool.close()


def test_failures_in_a_row_make_a_busy_sink_unready_until_it_delivers(sink):
    now = sink.delivered_at
    for _ in range(UNREADY_AFTER_FAILURES - 1):
        sink.note_failure("ThrottlingException", "throttled by CloudWatch")
    assert sink.problem(120.0, now) is None

    sink.note_failure("ThrottlingException", "throttled by CloudWatch")
    kind, message = sink.problem(120.0, now)
    count_sent(sink, 1, 10)

    assert kind == "throttled" and "throttled by CloudWatch" in message and "10 attempt(s)" in message
    assert sink.problem(120.0, now) is None and sink.errors_total == UNREADY_AFTER_FAILURES


def test_a_sink_with_records_and_no_delivery_for_unready_after_is_unready_and_an_idle_one_never(sink):
    start = sink.delivered_at
    assert sink.problem(60.0, start) is None  # busy from now
    assert sink.problem(60.0, start + 59) is None

    assert sink.problem(60.0, start + 61)[0] == "stalled"
    sink.idle.set()
    assert sink.problem(60.0, start + 600) is None


def test_an_error_that_needs_an_operator_is_unready_at_once_with_its_code(sink):
    sink.mark_not_ready("CloudWatch refuses our credentials", "forbidden:AccessDeniedException")

    assert sink.problem(120.0) == ("forbidden:AccessDeniedException", "CloudWatch refuses our credentials")
