"""Changes people make in Kantata outside psflow, made the way they make them: for tests and the demo.

Reconciliation must find what changed behind psflow's back. These helpers make such a change
through Kantata's own API with a connector's authenticated client, exactly as a person or a
vendor SDK would, so a test or the demo exercises the same path a real account would take.
"""

from __future__ import annotations

from connectors.kantata.connector import KantataConnector

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
        BusinessError: The entry is not approved (no approved submission to reject).
    """
    raise NotImplementedError
