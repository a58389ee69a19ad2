"""Changes people make in Kantata outside psflow, made the way they make them: for tests and the demo.

Reconciliation must find what changed behind psflow's back. These helpers make such a change
through Kantata's own API with a connector's authenticated client, exactly as a person or a
vendor SDK would, so a test or the demo exercises the same path a real account would take.
"""

from __future__ import annotations

from connectors._core import BusinessError, NotFoundError
from connectors.kantata._base import SYSTEM
from connectors.kantata.connector import KantataConnector
from connectors.kantata.models import Envelope, RawExpense, RawTimeEntry

__all__ = ["unapprove_expense", "unapprove_time_entry"]

REASON = "Reopened for correction"


async def unapprove_time_entry(psa: KantataConnector, entry_id: str, *, reason: str = REASON) -> str:
    """Un-approve an approved time entry by rejecting the timesheet submission that approved it.

    Kantata approves time per weekly timesheet submission (one user, one project, one week), so
    rejecting it un-approves every entry on it, as in the product: ``PUT
    /timesheet_submissions/{id}/reject`` with ``{"resolution": {"description": reason}}``.

    Args:
        psa: A connector on the account.
        entry_id: The time entry's Kantata id, or its canonical id (``kantata:<id>``).
        reason: The rejection's description.

    Returns:
        The id of the submission rejected.

    Raises:
        NotFoundError: No such time entry.
        BusinessError: The entry is not approved, or was approved without a submission.
    """
    return await _reject(psa, "time_entries", RawTimeEntry, "timesheet_submissions", entry_id, reason)


async def unapprove_expense(psa: KantataConnector, expense_id: str, *, reason: str = REASON) -> str:
    """Un-approve an approved expense by rejecting its expense report submission (``PUT
    /expense_report_submissions/{id}/reject``); arguments, result and errors as `unapprove_time_entry`.
    """
    return await _reject(psa, "expenses", RawExpense, "expense_report_submissions", expense_id, reason)


async def _reject(
    psa: KantataConnector,
    key: str,
    model: type[RawTimeEntry] | type[RawExpense],
    submissions: str,
    item_id: str,
    reason: str,
) -> str:
    raw_id = item_id.removeprefix("kantata:")
    what = "time entry" if key == "time_entries" else "expense"
    params = {"only": raw_id, "from_archived_workspaces": "true"}
    envelope = Envelope.model_validate(await psa.client.get_json(f"/{key}.json", params=params))
    found = envelope.primary(key, model)
    if not found:
        raise NotFoundError(SYSTEM, f"{what} {raw_id} does not exist or is not visible", status=404)
    item = found[0]
    if not item.approved:
        raise BusinessError(SYSTEM, f"{what} {raw_id} is not approved: there is no approval to take back")
    if item.recent_submission_id is None:
        problem = "is approved without a submission (its project needs no approval): nothing to reject"
        raise BusinessError(SYSTEM, f"{what} {raw_id} {problem}")
    body = {"resolution": {"description": reason}}
    await psa.client.put_json(f"/{submissions}/{item.recent_submission_id}/reject.json", json=body)
    return item.recent_submission_id
