"""Changes people make in Kantata outside psflow, made the way they make them: for tests and the demo.

Reconciliation must find what changed behind psflow's back. These helpers make such a change
through Kantata's own API with a connector's authenticated client, exactly as a person or a
vendor SDK would, so a test or the demo exercises the same path a real account would take.
"""

from __future__ import annotations

from connectors._core import BusinessError, NotFoundError
from connectors.kantata._base import SYSTEM
from connectors.kantata.connector import KantataConnector
from connectors.kantata.models import Envelope, RawTimeEntry

__all__ = ["unapprove_time_entry"]


async def unapprove_time_entry(psa: KantataConnector, entry_id: str, *, reason: str = "Reopened for correction") -> str:
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
    raw_id = entry_id.removeprefix("kantata:")
    params = {"only": raw_id, "from_archived_workspaces": "true"}
    envelope = Envelope.model_validate(await psa.client.get_json("/time_entries.json", params=params))
    found = envelope.primary("time_entries", RawTimeEntry)
    if not found:
        raise NotFoundError(SYSTEM, f"time entry {raw_id} does not exist or is not visible", status=404)
    entry = found[0]
    if not entry.approved:
        raise BusinessError(SYSTEM, f"time entry {raw_id} is not approved: there is no approval to take back")
    if entry.recent_submission_id is None:
        problem = "is approved without a timesheet submission (its project needs no approval): nothing to reject"
        raise BusinessError(SYSTEM, f"time entry {raw_id} {problem}")
    body = {"resolution": {"description": reason}}
    await psa.client.put_json(f"/timesheet_submissions/{entry.recent_submission_id}/reject.json", json=body)
    return entry.recent_submission_id
