"""A workflow that asks every domain task queue to answer once: proof the stack is wired end to end."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stack import PingAnswer, PingInput
    from workflows._queues import DOMAINS, domain_queue


class StackCheckInput(BaseModel):
    """Which domains to ask (all by default)."""

    domains: list[str] = list(DOMAINS)


class StackCheckResult(BaseModel):
    """One answer per domain."""

    answers: list[PingAnswer]

    @property
    def domains(self) -> list[str]:
        """The domains that answered."""
        return [answer.domain for answer in self.answers]


@workflow.defn(name="StackCheck")
class StackCheckWorkflow:
    """Runs ``<domain>.ping`` on each domain's task queue and returns who answered."""

    @workflow.run
    async def run(self, input: StackCheckInput) -> StackCheckResult:
        answers = await asyncio.gather(
            *(
                workflow.execute_activity(
                    f"{domain}.ping",
                    PingInput(domain=domain),
                    task_queue=domain_queue(domain),
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                    result_type=PingAnswer,
                )
                for domain in input.domains
            )
        )
        return StackCheckResult(answers=list(answers))
