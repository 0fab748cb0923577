"""What each Firehose / Kinesis call failure means for the call: again, again whole, not ready, halve."""

from __future__ import annotations

import pytest
from botocore.exceptions import NoCredentialsError

from shipper.sinks.kinesis.retry import Failure, classify
from tests.sinks.aws_errors import MAYBE_LANDED, UNSENT, api_error


@pytest.mark.parametrize(("error", "failure"), [
    (api_error("ProvisionedThroughputExceededException", 400), Failure.TRANSIENT),
    (api_error("ServiceUnavailableException", 503), Failure.TRANSIENT),
    (api_error("ThrottlingException", 403), Failure.TRANSIENT),  # a 403 that throttles is not a refusal
    (api_error("ResourceInUseException", 400), Failure.TRANSIENT),  # a stream being updated
    *((error, Failure.TRANSIENT) for error in UNSENT),
    *((error, Failure.AMBIGUOUS) for error in MAYBE_LANDED),
    (api_error("ResourceNotFoundException", 400), Failure.NOT_READY),
    (api_error("AccessDeniedException", 400), Failure.NOT_READY),
    (api_error("KMSDisabledException", 400), Failure.NOT_READY),
    (api_error("UnrecognizedClientException", 400), Failure.NOT_READY),
    (api_error("SomethingNew", 403), Failure.NOT_READY),
    (NoCredentialsError(), Failure.NOT_READY),
    (api_error("InvalidArgumentException", 400), Failure.INVALID),
])
def test_each_call_failure_is_classified_for_what_the_sink_must_do(error, failure):
    assert classify(error) is failure


def test_an_error_that_is_not_from_the_api_or_the_network_is_raised_not_retried():
    with pytest.raises(KeyError):
        classify(KeyError("bug"))
