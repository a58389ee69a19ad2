"""Projects, tasks and rate cards (an amendment's budget, end date and roles are in ``_amendments``).

Kantata has no idempotency key, so exactly-once rests on external references: before creating an
object the connector looks for one that references the same canonical id, unless what it already
read proves there is none (the stories of a workspace it has just created), and after a create
whose answer was lost it looks again before giving up.
"""

from __future__ import annotations

from collections.abc import Sequence

from canonical import Project, RateCard, Task
from connectors._core import NotFoundError, PermanentError, TransientError
from connectors.kantata._base import SYSTEM, KantataBase
from connectors.kantata.mapping import (
    UNASSIGNED_CUSTOMER,
    cents_from_money,
    kantata_id,
    project_from_workspace,
    story_payload,
    task_from_story,
    workspace_payload,
)
from connectors.kantata.models import Envelope, RawNamed, RawRateCardRole, RawStory, RawWorkspace

_WORKSPACE_INCLUDES = "external_references,workspace_groups,custom_field_values"
STORY_BULK_LIMIT = 300
"""Stories one bulk create may hold (Kantata's limit)."""


class ProjectMethods(KantataBase):
    """Workspaces (projects) and stories (tasks)."""

    async def find_project_by_external_id(self, project_id: str) -> str | None:
        """The id of the workspace psflow created for a project, or None.

        Args:
            project_id: The project's canonical id (the workspace's external reference).
        """
        found, _ = await self._find_subject("Workspace", "Project", project_id)
        return found

    async def create_project(self, project: Project, *, customer_name: str) -> str:
        """Create the project's workspace and its tasks unless they exist; return the workspace id.

        The client becomes a company group referenced by the customer id. A workspace psflow
        archived earlier (the provisioning saga's compensation) is reopened. The project code is
        written to the project-code custom field. A new project costs, besides master data read
        once per connector: the workspace lookup, the group lookup (and create), the rate card
        lookup (when it names one), the workspace create, the project code and one bulk create of
        the tasks.

        Args:
            project: The project to provision.
            customer_name: The client's name, for the group when it does not exist yet.
        """
        # The one look-up a retry depends on: an earlier attempt, or an earlier run whose saga
        # archived the project, may have created the workspace (and some of its tasks).
        found, envelope = await self._find_subject("Workspace", "Project", project.id)
        if found is not None:
            existing = envelope.side_loaded("workspaces", RawWorkspace).get(found)
            if existing is not None and existing.archived:
                await self._put(f"/workspaces/{found}.json", {"workspace": {"archived": False}})
            await self._ensure_custom_value("Workspace", found, self.settings.project_code_field, project.code)
            await self.create_tasks(project.tasks, workspace_id=found)
            return found
        # The client's group usually exists (its other projects); the workspace needs its Kantata id.
        group_id = await self._client_group(project.customer_id, customer_name)
        rate_card_id = None
        if project.rate_card_id is not None:
            # Rate cards are written by contract amendments and people, so the id is read, not remembered.
            rate_card_id, _ = await self._find_subject("RateCard", "RateCard", project.rate_card_id)
        payload = workspace_payload(
            project, group_id=group_id, rate_card_id=rate_card_id, service_name=self.settings.service_name
        )
        # After a lost answer this looks the workspace up once more (see `_create_once`).
        workspace_id = await self._create_once(
            "Workspace", "Project", project.id, "/workspaces.json", {"workspace": payload}
        )
        # The workspace is new (or only its create's answer was lost): it holds no custom value and
        # no story yet, so neither is looked up before writing. A later attempt that finds the
        # workspace takes the branch above, which reads both first.
        await self._add_custom_value("Workspace", workspace_id, self.settings.project_code_field, project.code)
        await self._create_stories(project.tasks, workspace_id, existing={})
        return workspace_id

    async def _client_group(self, customer_id: str, customer_name: str) -> str:
        found, _ = await self._find_subject("WorkspaceGroup", "Customer", customer_id)
        if found is not None:
            return found
        body = {"name": customer_name, "company": True, "external_reference": self._reference("Customer", customer_id)}
        return await self._create_once(
            "WorkspaceGroup", "Customer", customer_id, "/workspace_groups.json", {"workspace_group": body}
        )

    async def get_project(self, workspace_id: str) -> Project:
        """Read a workspace, archived or not, with its tasks.

        Raises:
            NotFoundError: No such workspace is visible.
            PermanentError: The workspace lacks what a canonical project needs (a currency).
        """
        params = {"only": workspace_id, "archived": "include", "include": _WORKSPACE_INCLUDES}
        envelope = await self._get("/workspaces.json", params)
        workspaces = envelope.primary("workspaces", RawWorkspace)
        if not workspaces:
            raise NotFoundError(SYSTEM, f"workspace {workspace_id} does not exist or is not visible", status=404)
        workspace = workspaces[0]
        project_id = self._referenced(envelope, workspace.external_reference_ids, "Project") or kantata_id(workspace.id)
        code_field = await self._custom_field_id(self.settings.project_code_field, "Workspace", create=False)
        code = self._field_value(envelope, workspace.custom_field_value_ids, code_field) or workspace.id
        groups = envelope.side_loaded("workspace_groups", RawNamed)
        group_id = next((g for g in workspace.workspace_group_ids if g in groups and groups[g].company), None)
        customer_id = UNASSIGNED_CUSTOMER
        if group_id is not None:
            customer_id = await self._reference_of("WorkspaceGroup", group_id, "Customer") or kantata_id(group_id)
        rate_card_id = None
        if workspace.rate_card_id is not None:
            rate_card_id = await self._reference_of("RateCard", workspace.rate_card_id, "RateCard")
            rate_card_id = rate_card_id or kantata_id(workspace.rate_card_id)
        tasks = await self._tasks(workspace.id, project_id)
        try:
            return project_from_workspace(
                workspace,
                project_id=project_id,
                code=code,
                customer_id=customer_id,
                rate_card_id=rate_card_id,
                tasks=tasks,
            )
        except ValueError as exc:
            raise PermanentError(SYSTEM, f"workspace {workspace.id} cannot be read as a project: {exc}") from exc

    async def _stories(self, workspace_id: str) -> list[tuple[RawStory, str | None]]:
        """Every story of a workspace with the task id psflow referenced it by (None for others)."""
        stories: list[tuple[RawStory, str | None]] = []
        params = {"workspace_id": workspace_id, "include": "external_references"}
        async for envelope in self._envelopes("/stories.json", params):
            for story in envelope.primary("stories", RawStory):
                stories.append((story, self._referenced(envelope, story.external_reference_ids, "Task")))
        return stories

    async def _tasks(self, workspace_id: str, project_id: str) -> list[Task]:
        return [
            task_from_story(story, task_id=task_id or kantata_id(story.id), project_id=project_id)
            for story, task_id in await self._stories(workspace_id)
        ]

    async def close_project(self, workspace_id: str) -> None:
        """Archive the workspace: the provisioning saga's compensation.

        Idempotent: archiving an archived workspace, or one that no longer exists, succeeds.
        """
        body = {"workspace": {"archived": True}}
        await self.client.request("PUT", f"/workspaces/{workspace_id}.json", json=body, allow={404})

    async def create_tasks(self, tasks: Sequence[Task], *, workspace_id: str) -> dict[str, str]:
        """Create the stories of the tasks the workspace lacks; return task id → story id for every task.

        The workspace's stories are read once (one listing, not one look-up per task); the missing
        ones are created in bulk.
        """
        existing = {task_id: story.id for story, task_id in await self._stories(workspace_id) if task_id}
        return await self._create_stories(tasks, workspace_id, existing=existing)

    async def _create_stories(
        self, tasks: Sequence[Task], workspace_id: str, *, existing: dict[str, str]
    ) -> dict[str, str]:
        """Bulk-create the stories of ``tasks`` not in ``existing`` (task id → story id); return all of them."""
        created = dict(existing)
        missing = [task for task in tasks if task.id not in created]
        for start in range(0, len(missing), STORY_BULK_LIMIT):
            chunk = missing[start : start + STORY_BULK_LIMIT]
            stories = [
                story_payload(t, workspace_id=workspace_id, service_name=self.settings.service_name) for t in chunk
            ]
            try:
                envelope = await self._post("/stories.json", {"stories": stories}, {"include": "external_references"})
            except TransientError:
                # No idempotency key: after a lost answer the workspace's stories tell what was created.
                # Whatever is still missing is left to the caller's retry, which reads them again first.
                now = {task_id: story.id for story, task_id in await self._stories(workspace_id) if task_id}
                if any(task.id not in now for task in chunk):
                    raise
                created.update(now)
                continue
            created.update(self._story_ids(envelope))
        return {task.id: created[task.id] for task in tasks}

    def _story_ids(self, envelope: Envelope) -> dict[str, str]:
        """Task id → story id of the stories in a response that side-loads their external references."""
        found = (
            (self._referenced(envelope, s.external_reference_ids, "Task"), s.id)
            for s in envelope.primary("stories", RawStory)
        )
        return {task_id: story_id for task_id, story_id in found if task_id}

    async def set_rate_card(self, workspace_id: str, rate_card: RateCard) -> None:
        """Point the project at a rate card holding these role rates (a contract amendment).

        The Kantata rate card is found by the canonical rate card id (created when missing);
        each role's rate is created or updated. Roles the card does not name keep their rates,
        since an amendment lists only what changes; account roles are created when missing.
        """
        card_id, _ = await self._find_subject("RateCard", "RateCard", rate_card.id)
        if card_id is None:
            card = {
                "title": rate_card.name,
                "currency": rate_card.currency,
                "external_reference": self._reference("RateCard", rate_card.id),
            }
            card_id = await self._create_once(
                "RateCard", "RateCard", rate_card.id, "/rate_cards.json", {"rate_card": card}
            )
        existing: dict[str, RawRateCardRole] = {}
        async for envelope in self._envelopes("/rate_card_roles.json", {"rate_card_id": card_id}):
            existing.update({row.role_id: row for row in envelope.primary("rate_card_roles", RawRateCardRole)})
        for rate in rate_card.rates:
            role_id = await self._role_id(rate.role)
            cents = cents_from_money(rate.hourly_rate)
            row = existing.get(role_id)
            if row is None:
                link = {"rate_card_id": card_id, "role_id": role_id, "rate": cents}
                await self._post("/rate_card_roles.json", {"rate_card_role": link})
            elif row.rate != cents:
                await self._put(f"/rate_card_roles/{row.id}.json", {"rate_card_role": {"rate": cents}})
        await self._put(f"/workspaces/{workspace_id}.json", {"workspace": {"rate_card_id": card_id}})
