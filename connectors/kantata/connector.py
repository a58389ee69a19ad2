"""`KantataConnector`: the PSA as provisioning, posting and resource sync see it."""

from __future__ import annotations

from connectors.kantata._allocations import AllocationMethods
from connectors.kantata._amendments import WorkspaceAmendmentMethods
from connectors.kantata._listings import ProjectListing
from connectors.kantata._people import PeopleMethods
from connectors.kantata._rates import RateMethods
from connectors.kantata._resources_lookup import ResourceLookupMethods
from connectors.kantata._time_expenses import TimeExpenseMethods
from connectors.kantata._time_off import TimeOffMethods

__all__ = ["KantataConnector"]


class KantataConnector(
    WorkspaceAmendmentMethods,
    PeopleMethods,
    ResourceLookupMethods,
    TimeOffMethods,
    AllocationMethods,
    TimeExpenseMethods,
    RateMethods,
    ProjectListing,
):
    """Kantata OX API v1 through the shared HTTP core, in canonical models.

    - Projects: `create_project`, `get_project`, `find_project_by_external_id`, `close_project`,
      `create_tasks`, `set_budget`, `set_rate_card`; `projects_page` lists every workspace.
    - Contract amendments: `amend_workspace` (budget, end date), `add_roles` (a task per new role).
    - People (research apis-round2 §1): `invite_user` (users exist only through account
      invitations), `disable_user` (leavers), `users_page`, `list_users`, `upsert_user`;
      `ensure_skill`, `set_skill`, `set_cost_centre`, `set_cost_centres`; time off per user-day with `set_time_off`,
      `clear_time_off`, `time_off_page`; `set_standard_hours` (a workweek);
      `remove_future_allocations` for a leaver, `allocated_hours` (who is booked over a range).
    - Rates: `rate_schedule`, `add_rate_version` (effective-dated rate card set versions).
    - Time and expenses: `time_entries_page`, `expenses_page` (a page at a time, with the records
      that break a canonical rule on `Page.unreadable`).

    Approval of time and expenses happens on timesheet and expense report submissions in
    Kantata, by the people who own them, so the connector offers no approve method.

    Args:
        settings: Where the API is and how to authenticate (`KantataSettings`).
        transport: The innermost transport; tests pass an in-process emulator.

    Use it as an async context manager, or call `aclose` when done.
    """
