"""Contract amendments in the PSA: a workspace's budget and end date, and tasks for new roles.

Each write is made only when the workspace does not already hold the value, so applying the
same amendment twice (a retried activity, a replayed workflow) writes once. Rates are amended
through rate card set versions (`add_rate_version`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from canonical import Money
from connectors._core import BusinessError
from connectors.kantata._base import SYSTEM
from connectors.kantata._projects import ProjectMethods
from connectors.kantata.mapping import kantata_id, price_from_money, role_task, workspace_amendment


class WorkspaceAmendmentMethods(ProjectMethods):
    """Budget, end date and roles of an existing workspace."""

    async def amend_workspace(self, workspace_id: str, *, budget: Money | None, end_date: date | None) -> None:
        """Give the workspace a new budget and/or end date; nothing is written when it has them already.

        Kantata takes the budget as ``price`` in whole units of the workspace's currency (cents
        are rounded half-up, see `price_from_money`) and the end date as ``due_date``; both go in
        one update. A workspace with change orders enabled takes the new budget at once.

        Args:
            workspace_id: The workspace's Kantata id.
            budget: The new budget, in the workspace's currency; None keeps the budget.
            end_date: The new end date; None keeps it.

        Raises:
            NotFoundError: No such workspace is visible.
            BusinessError: The budget is in another currency than the workspace's, has fractions of
                a minor unit, or Kantata refused a value (an end date before the start, ``due_date``).
        """
        price = None
        if budget is not None:
            try:
                price = price_from_money(budget)
            except ValueError as exc:
                raise BusinessError(SYSTEM, f"price: {exc}", code="invalid_budget") from exc
        workspace = await self._workspace(workspace_id)
        if budget is not None and budget.currency != workspace.currency:
            raise BusinessError(
                SYSTEM,
                f"price: workspace {workspace_id} is budgeted in {workspace.currency}; a budget of {budget} "
                "cannot be written to it (a contract keeps its currency)",
                code="currency_mismatch",
            )
        changes = workspace_amendment(workspace, price=price, end_date=end_date)
        if changes:
            await self._put(f"/workspaces/{workspace_id}.json", {"workspace": changes})

    async def set_budget(self, workspace_id: str, budget: Money) -> None:
        """Set the project's budget (see `amend_workspace`).

        Raises:
            ValueError: The budget has fractions of a minor unit.
        """
        price_from_money(budget)
        await self.amend_workspace(workspace_id, budget=budget, end_date=None)

    async def add_roles(self, workspace_id: str, roles: Sequence[str]) -> list[str]:
        """Give each role a task in the workspace unless it has one; return the story ids, in order.

        A role's task is found by its external reference (`role_task`), so a role added before is
        not added again. Each role also exists on the account afterwards, for its rates.

        Raises:
            BusinessError: Kantata refused a story (a workspace that does not exist, ``workspace_id``).
        """
        project_id = await self._reference_of("Workspace", workspace_id, "Project") or kantata_id(workspace_id)
        unique = list(dict.fromkeys(roles))
        for role in unique:
            await self._role_id(role)
        tasks = [role_task(project_id, role) for role in unique]
        story_ids = await self.create_tasks(tasks, workspace_id=workspace_id)
        return [story_ids[role_task(project_id, role).id] for role in roles]
