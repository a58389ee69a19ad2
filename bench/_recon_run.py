"""One timed reconciliation of a period through Temporal, as ``psflow reconcile --period`` starts it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowFailureError

from canonical import DateRange
from stack.flows import start_reconcile
from stack.settings import Settings

__all__ = ["ReconcileError", "reconcile"]


class ReconcileError(Exception):
    """The reconciliation failed; the message says how, and which workflow to look at."""


async def reconcile(client: Client, settings: Settings, period: DateRange) -> dict[str, Any]:
    """Reconcile ``period`` (a month) and wait for the result: its figures, timed from start to result.

    Raises:
        ReconcileError: The workflow failed.
    """
    started = time.perf_counter()
    # As of the day after the month: the benchmark's month is over in the sandbox's calendar, whatever
    # the wall clock says (the sandbox may be anchored on another date, as CI's second pass does).
    handle = await start_reconcile(client, settings, f"{period.start:%Y-%m}", today=period.end + timedelta(days=1))
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        raise ReconcileError(f"{handle.id} failed: {failure.cause}") from None
    seconds = time.perf_counter() - started
    description = await handle.describe()
    compared = {f"{side}.{kind}": count for side, kinds in result.compared.items() for kind, count in kinds.items()}
    return {
        "seconds": round(seconds, 2),
        "workflow_id": handle.id,
        "status": result.status,
        "provisional": result.provisional,
        "compared": compared,
        "compared_total": sum(compared.values()),
        "differences": dict(result.differences),
        "fixed": result.fixed,
        "history_length": description.history_length,
    }
