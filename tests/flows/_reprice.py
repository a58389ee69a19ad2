"""A one-activity workflow that runs ``erp.reprice_posted`` on the dev server, as the contract workflow calls it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from canonical import CanonicalModel

with workflow.unsafe.imports_passed_through():
    from activities.posting import RepriceRequest, RepriceResult


class RepriceInput(CanonicalModel):
    """The repricing to run, and the erp task queue it runs on."""

    request: RepriceRequest
    erp_queue: str


@workflow.defn(name="test.RepriceWorkflow")
class RepriceWorkflow:
    """Calls ``erp.reprice_posted`` once (retries included) and returns its result."""

    @workflow.run
    async def run(self, input: RepriceInput) -> RepriceResult:
        return await workflow.execute_activity(
            "erp.reprice_posted",
            input.request,
            task_queue=input.erp_queue,
            result_type=RepriceResult,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
