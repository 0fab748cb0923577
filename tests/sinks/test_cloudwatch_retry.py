"""What each CloudWatch failure means for the batch: retry, ask first, create, stop being ready, bisect."""

from __future__ import annotations

import pytest
from botocore.exceptions import NoCredentialsError

from shipper.sinks.cloudwatch.retry import Failure, classify
from tests.sinks.aws_errors import MAYBE_LANDED, UNSENT, api_error


@pytest.mark.parametrize(("error", "failure"), [
    (api_error("ThrottlingException", 400), Failure.TRANSIENT),
    (api_error("ServiceUnavailableException", 503), Failure.TRANSIENT),
    (api_error("InternalFailure", 500), Failure.TRANSIENT),
    (api_error("ExpiredTokenException", 400), Failure.TRANSIENT),
    *((error, Failure.TRANSIENT) for error in UNSENT),
    *((error, Failure.AMBIGUOUS) for error in MAYBE_LANDED),
    (api_error("ResourceNotFoundException", 400), Failure.MISSING),
    (api_error("AccessDeniedException", 400), Failure.REFUSED),
    (api_error("UnrecognizedClientException", 400), Failure.FORBIDDEN),
    (NoCredentialsError(), Failure.FORBIDDEN),
    (api_error("InvalidParameterException", 400), Failure.INVALID),
])
def test_each_failure_is_classified_for_what_the_sink_must_do(error, failure):
    assert classify(error) is failure


def test_an_error_that_is_not_from_the_api_or_the_network_is_raised_not_retried():
    with pytest.raises(KeyError):
        classify(KeyError("bug"))
