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
from connectors.kantata.mapping import project_status
from connectors.kantata.models import RawNamed, RawReferenced, RawWorkspace

_GROUP_BATCH = 200

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
        params = {
            "archived": "include",
            "include": "external_references,workspace_groups",
            "order": "created_at:asc",
        }
        envelope = await self._page("/workspaces.json", params, cursor, per_page or self.settings.page_size)
        workspaces = envelope.primary("workspaces", RawWorkspace)
        groups = envelope.side_loaded("workspace_groups", RawNamed)
        clients = {
            workspace.id: next((g for g in workspace.workspace_group_ids if g in groups and groups[g].company), None)
            for workspace in workspaces
        }
        customers = await self._customer_ids({g for g in clients.values() if g is not None})
        rows = []
        for workspace in workspaces:
            group_id = clients[workspace.id]
            rows.append(
                ProjectRow(
                    workspace_id=workspace.id,
                    project_id=self._referenced(envelope, workspace.external_reference_ids, "Project"),
                    name=workspace.title,
                    customer_id=customers.get(group_id) if group_id else None,
                    client_name=groups[group_id].name if group_id else None,
                    currency=workspace.currency,
                    status=project_status(workspace),
                    archived=workspace.archived,
                    start_date=workspace.start_date,
                    end_date=workspace.due_date,
                )
            )
        return Page(rows, self._next_cursor(envelope))

    async def _customer_ids(self, group_ids: set[str]) -> dict[str, str]:
        """The canonical customer id each client group references (groups without one are left out)."""
        found: dict[str, str] = {}
        ordered = sorted(group_ids, key=lambda i: (len(i), i))
        for start in range(0, len(ordered), _GROUP_BATCH):
            batch = ordered[start : start + _GROUP_BATCH]
            params = {"only": ",".join(batch), "include": "external_references", "per_page": _GROUP_BATCH}
            envelope = await self._get("/workspace_groups.json", params)
            for group in envelope.primary("workspace_groups", RawReferenced):
                customer = self._referenced(envelope, group.external_reference_ids, "Customer")
                if customer is not None:
                    found[group.id] = customer
        return found
