"""How a provisioning step's failure reads, whichever way the server ended its retries."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError, TimeoutType

from workflows.provision_engagement import _describe


def _activity_failure(cause: BaseException, retry_state: RetryState) -> ActivityError:
    failure = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="erp.create_job",
        activity_id="4",
        retry_state=retry_state,
    )
    failure.__cause__ = cause
    return failure


def test_a_retryable_failure_given_up_at_the_deadline_reads_as_the_deadline() -> None:
    # The server ends retries with the last failure when the next attempt would start past the
    # schedule-to-close deadline (seen on a loaded machine), not only with a timeout.
    last = ApplicationError("netsuite: HTTP 500 UNEXPECTED_ERROR", type="TransientError")
    text = _describe(_activity_failure(last, RetryState.TIMEOUT))
    assert text == (
        "the provisioning deadline passed while the step was still failing; "
        "last failure: TransientError: netsuite: HTTP 500 UNEXPECTED_ERROR"
    )


def test_a_schedule_to_close_timeout_reads_as_the_deadline() -> None:
    timeout = TimeoutError("timeout", type=TimeoutType.SCHEDULE_TO_CLOSE, last_heartbeat_details=[])
    timeout.__cause__ = ApplicationError("HTTP 503", type="TransientError")
    text = _describe(_activity_failure(timeout, RetryState.TIMEOUT))
    assert text.startswith("the provisioning deadline passed") and text.endswith("HTTP 503")


def test_a_business_failure_reads_as_itself() -> None:
    refused = ApplicationError("deal has no line items", type="BusinessError", non_retryable=True)
    text = _describe(_activity_failure(refused, RetryState.NON_RETRYABLE_FAILURE))
    assert text == "BusinessError: deal has no line items"
