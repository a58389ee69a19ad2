"""How a flow raises an exception when it fails for good and auto-resolves it when a later run succeeds.

The calls are guarded by the ``exceptions`` patch: runs recorded before it neither record nor resolve, so
their histories replay. Neither call can fail the run: the run's own outcome is what it reports, and the
store being unreachable for longer than the calls' deadline is logged rather than raised.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.exceptions import ExceptionActivities, ExceptionOccurrence, RecordExceptions, ResolveExceptions
    from workflows._queues import domain_queue

PATCH = "exceptions"
"""Runs from before it raised no exception when they failed and resolved none when they succeeded."""
DEADLINE = timedelta(minutes=10)
"""How long a record or resolve keeps retrying while the store is unreachable."""
LOCAL_ATTEMPTS = 3
"""Attempts of a local resolve before the events queue's activity takes over."""
_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30))


def enabled() -> bool:
    """Whether this run raises and resolves exceptions (False only while replaying runs from before)."""
    return workflow.patched(PATCH)


def reason(failure: BaseException, *, deadline: bool = False) -> str:
    """The exception's reason code: the innermost error's type (``BusinessRuleViolation``...), or the deadline."""
    if deadline:
        return "DeadlinePassed"
    cause: BaseException = failure
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause is not None:
        cause = cause.cause
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else type(cause).__name__
    return kind[:32]


def this_run() -> str:
    """The run as the exception names it: ``{workflow id}/{run id}``."""
    info = workflow.info()
    return f"{info.workflow_id}/{info.run_id}"


async def record(occurrence: ExceptionOccurrence) -> None:
    """Open the exception (or count it again, or reopen it) under this run, on the events queue."""
    try:
        await workflow.execute_activity_method(
            ExceptionActivities.record,
            RecordExceptions(occurrences=[occurrence], run_id=this_run()),
            task_queue=domain_queue("events"),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=DEADLINE,
            retry_policy=_RETRY,
        )
    except ActivityError as failure:
        workflow.logger.warning("exception %s not recorded: %s", occurrence.business_key, failure.cause or failure)


async def resolve(*, flow: str, system: str, kind: str, business_key: str, local: bool) -> int:
    """Resolve the key's active exception, naming this run; returns how many were resolved.

    ``local``: first as a local activity in this workflow's own worker. A run that cannot tell whether an
    earlier run of its key failed resolves on every success; as a local activity that costs one marker in
    the run's last workflow task instead of an activity's round trip through the server. Its attempts are
    few (schedule-to-close does not bound a local activity's attempts); when they fail, the events queue's
    activity takes over, with the store's full deadline.
    """
    request = ResolveExceptions(flow=flow, system=system, kind=kind, business_keys=[business_key], run_id=this_run())
    if local:
        try:
            return await workflow.execute_local_activity_method(
                ExceptionActivities.resolve,
                request,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=LOCAL_ATTEMPTS),
            )
        except FailureError as failure:
            # A local activity's last failure arrives as raised (an ApplicationError...), not as an ActivityError.
            workflow.logger.info("resolving %s on the events queue: %s", business_key, failure)
    try:
        return await workflow.execute_activity_method(
            ExceptionActivities.resolve,
            request,
            task_queue=domain_queue("events"),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=DEADLINE,
            retry_policy=_RETRY,
        )
    except ActivityError as failure:
        workflow.logger.warning("exception %s not resolved: %s", business_key, failure.cause or failure)
        return 0
