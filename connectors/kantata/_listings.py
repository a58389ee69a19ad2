"""Every workspace as reconciliation sees it: which psflow project it is, whose, in what currency, how far along.

`projects_page` lists workspaces a page at a time (archived ones included: a closed project still
has posted time to compare), side-loading their external references and groups in the same
request, and reads the client groups' customer references with one more request per page.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from canonical import ProjectStatus
from connectors._core import Page
from connectors.kantata._base import KantataBase

__all__ = ["ProjectListing", "ProjectRow"]


class ProjectRow(BaseModel):
    """One workspace, as a listing shows it.

    Attributes:
        workspace_id: Kantata's id of the workspace.
        project_id: psflow's key for it (the canonical project id, its external reference);
            None for a workspace made by hand in Kantata.
        name: The workspace's title.
        customer_id: The canonical customer id its client group references; None when the
            group has no psflow reference or the workspace has no client group.
        client_name: The client group's name, if it has one.
        currency: The workspace's currency (ISO code), if set.
        status: Closed when archived, on hold when its status message says so, else active.
        archived: Whether the workspace is archived.
        start_date: Start date, if set.
        end_date: Due date, if set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    project_id: str | None = None
    name: str
    customer_id: str | None = None
    client_name: str | None = None
    currency: str | None = None
    status: ProjectStatus
    archived: bool = False
    start_date: date | None = None
    end_date: date | None = None


class ProjectListing(KantataBase):
    """`projects_page`, mixed into `KantataConnector`."""

    async def projects_page(self, *, cursor: str | None = None, per_page: int | None = None) -> Page[ProjectRow]:
        """One page of every workspace, archived ones included, oldest first.

        Args:
            cursor: The page to read (None: the first).
            per_page: Workspaces per page (at most 200; default: the settings' page size).
        """
        raise NotImplementedError
