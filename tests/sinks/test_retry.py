"""The sinks' one retry vocabulary: what each AWS failure means for each service, the backoff that
yields to a server's Retry-After, and the halving that isolates the one record a backend refuses."""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import NoCredentialsError
from tenacity import RetryCallState

from shipper.sinks.aws.errors import CLOUDWATCH_LOGS, RECORD_STREAMS
from shipper.sinks.retry import BACKOFF_MAX, Failure, Refused, Retry, classify, retrying, send_halving
from tests.sinks.aws_errors import MAYBE_LANDED, UNSENT, api_error

EVERY_SERVICE = (CLOUDWATCH_LOGS, RECORD_STREAMS)


@pytest.mark.parametrize("service", EVERY_SERVICE, ids=("cloudwatch_logs", "record_streams"))
@pytest.mark.parametrize(("error", "failure"), [
    (api_error("ThrottlingException", 400), Failure.TRANSIENT),
    (api_error("ThrottlingException", 403), Failure.TRANSIENT),  # a 403 that throttles is not a refusal
    (api_error("ServiceUnavailableException", 503), Failure.TRANSIENT),
    (api_error("InternalFailure", 500), Failure.TRANSIENT),
    (api_error("ExpiredTokenException", 400), Failure.TRANSIENT),
    (api_error("ResourceInUseException", 400), Failure.TRANSIENT),  # a stream being updated
    *((error, Failure.TRANSIENT) for error in UNSENT),
    *((error, Failure.AMBIGUOUS) for error in MAYBE_LANDED),
    (api_error("ResourceNotFoundException", 400), Failure.MISSING),
    (api_error("AccessDeniedException", 400), Failure.REFUSED),
    (api_error("UnrecognizedClientException", 400), Failure.FORBIDDEN),
    (api_error("SomethingNew", 403), Failure.FORBIDDEN),
    (NoCredentialsError(), Failure.FORBIDDEN),
    (api_error("InvalidParameterException", 400), Failure.INVALID),
])
def test_each_call_failure_is_classified_for_what_the_sink_must_do(service, error, failure):
    assert classify(error, service) is failure


@pytest.mark.parametrize(("code", "failure"), [
    ("KMSDisabledException", Failure.REFUSED),  # the stream's key: an operator must act
    ("InvalidArgumentException", Failure.INVALID),
    ("ProvisionedThroughputExceededException", Failure.TRANSIENT),
])
def test_firehose_and_kinesis_codes_are_their_own(code, failure):
    assert classify(api_error(code, 400), RECORD_STREAMS) is failure


def test_only_what_an_operator_must_fix_makes_a_sink_not_ready():
    assert {f for f in Failure if f.needs_operator} == {Failure.FORBIDDEN, Failure.REFUSED, Failure.UNTRUSTED}


@pytest.mark.parametrize("service", EVERY_SERVICE, ids=("cloudwatch_logs", "record_streams"))
def test_an_error_that_is_not_from_the_api_or_the_network_is_raised_not_retried(service):
    with pytest.raises(KeyError):
        classify(KeyError("bug"), service)


def test_a_retry_names_the_error_code_behind_it():
    retry = Retry("refused", failure=Failure.REFUSED, cause=api_error("AccessDeniedException", 400))

    assert (retry.reason_code, retry.not_ready_code) == ("AccessDeniedException", "refused")
    assert Retry("429").reason_code == "429"


def _wait_after(retry: Retry, attempt: int) -> float:
    policy = retrying(lambda *_: None)
    state = RetryCallState(policy, None, (), {})
    state.attempt_number = attempt
    state.set_exception((Retry, retry, None))
    return policy.wait(state)


def test_the_backoff_waits_at_most_its_bound_unless_the_server_asks_for_longer():
    assert all(_wait_after(Retry("503"), attempt) <= BACKOFF_MAX for attempt in range(1, 30))
    assert _wait_after(Retry("429", retry_after=120.0), 1) == 120.0
    assert _wait_after(Retry("429", retry_after=0.0), 1) <= 0.2  # a shorter ask changes nothing


def test_halving_sends_every_record_but_the_refused_one_in_order_and_counts_each_split():
    sent: list[list[int]] = []
    splits: list[str] = []
    alone: list[list[int]] = []

    async def send(records: list[int]) -> None:
        if 13 in records:
            raise Refused("invalid", "record 13")
        sent.append(records)

    def halves(records: list[int]) -> tuple[list[int], list[int]] | None:
        middle = len(records) // 2
        return (records[:middle], records[middle:]) if middle else None

    asyncio.run(send_halving(list(range(20)), send, halves, lambda r: splits.append(r.reason),
                             lambda records, refusal: alone.append(records)))

    assert [r for part in sent for r in part] == [r for r in range(20) if r != 13]
    assert alone == [[13]]
    assert splits == ["invalid"] * 5  # 20 -> 10 -> 5 -> 3 -> 2 -> 1


def test_halving_passes_a_request_that_is_not_refused_through_once():
    sent: list[list[int]] = []

    async def send(records: list[int]) -> None:
        sent.append(records)

    asyncio.run(send_halving([1, 2, 3], send, lambda r: None, pytest.fail, pytest.fail))

    assert sent == [[1, 2, 3]]
