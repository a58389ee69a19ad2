"""Task queue naming shared by the worker (which polls) and workflows (which dispatch).

Workflows run on ``<prefix>flows``; activities run on ``<prefix><domain>``. A workflow derives the
prefix from its own task queue, so tests and staging can run side by side on one server.
"""

from temporalio import workflow

DOMAINS = ("crm", "psa", "hr", "erp", "events")
FLOWS = "flows"


def domain_queue(domain: str) -> str:
    """The task queue of ``domain`` for the workflow currently running."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    return workflow.info().task_queue.removesuffix(FLOWS) + domain
