"""Arranging days in the Kantata emulator from flow tests, through its API and admin routes."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

KANTATA_TOKEN = {"Authorization": "Bearer psflow-demo-kantata-token"}


class Kantata:
    """Arranges a day in the Kantata emulator: records as a consultant would enter them, then approval."""

    def __init__(self, sandbox_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=sandbox_url, headers=KANTATA_TOKEN, timeout=30)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(path, json=body)
        response.raise_for_status()
        return dict(response.json())

    async def workspace(self, title: str, currency: str, project_id: str) -> str:
        reference = {"service_name": "psflow", "service_model": "Project", "service_model_ref": project_id}
        body = {"title": title, "currency": currency, "creator_role": "maven", "external_reference": reference}
        envelope = await self._post("/kantata/api/v1/workspaces.json", {"workspace": body})
        return str(envelope["results"][0]["id"])

    async def archive(self, workspace_id: str) -> None:
        body = {"workspace": {"archived": True}}
        (await self.http.put(f"/kantata/api/v1/workspaces/{workspace_id}.json", json=body)).raise_for_status()

    async def user(self, email: str) -> str:
        # Kantata makes users only through account invitations (research apis-round2 §1).
        envelope = await self._post(
            "/kantata/api/v1/account_invitations.json",
            {"account_invitation": {"full_name": "Temp Contractor", "email_address": email}},
        )
        return str(next(iter(envelope["account_invitations"].values()))["user_id"])

    async def participant(self, workspace_id: str) -> str:
        response = await self.http.get("/kantata/api/v1/participations.json", params={"workspace_id": workspace_id})
        return str(next(iter(response.json()["participations"].values()))["user_id"])

    async def time(self, day: date, workspace: str, user: str, minutes: int, rate_cents: int, notes: str) -> str:
        body = {
            "workspace_id": workspace,
            "user_id": user,
            "date_performed": day.isoformat(),
            "time_in_minutes": minutes,
            "rate_in_cents": rate_cents,
            "billable": True,
            "notes": notes,
        }
        envelope = await self._post("/kantata/api/v1/time_entries.json", {"time_entry": body})
        return f"kantata:{envelope['results'][0]['id']}"

    async def expense(self, day: date, workspace: str, user: str, cents: int, category: str) -> str:
        body = {
            "workspace_id": workspace,
            "user_id": user,
            "date": day.isoformat(),
            "amount_in_cents": cents,
            "category": category,
            "billable": True,
            "notes": f"{category} for the workshop",
        }
        envelope = await self._post("/kantata/api/v1/expenses.json", {"expense": body})
        return f"kantata:{envelope['results'][0]['id']}"

    async def demo_day(self, day: date) -> set[str]:
        """One approved entry per participant of every open project, and one expense per project."""
        time = await self._post("/_admin/kantata/time_entries", {"date": day.isoformat(), "approval": "approved"})
        spent = await self._post("/_admin/kantata/expenses", {"date": day.isoformat(), "approval": "approved"})
        return {f"kantata:{i}" for i in [*time["ids"], *spent["ids"]]}

    async def open_periods(self, *days: date) -> None:
        """Open (setting up where missing) the NetSuite accounting periods of these days.

        For tests whose days come from the real clock (a Schedule fires now), not from the demo
        firm's anchor: the sandbox's calendar is drawn around the anchor, which may be far away.
        """
        for month in sorted({f"{day:%Y-%m}" for day in days}):
            response = await self.http.put(f"/_admin/netsuite/periods/{month}", json={"closed": False})
            response.raise_for_status()

    async def approve(self, day: date) -> None:
        for kind in ("time_entries", "expenses"):
            await self._post(f"/_admin/kantata/{kind}/approve", {"date": day.isoformat()})

    async def approve_ids(self, kind: str, entry_ids: list[str]) -> None:
        """Approve these line items (``kantata:<id>``) only, as a manager would days later."""
        await self._post(f"/_admin/kantata/{kind}/approve", {"ids": [i.removeprefix("kantata:") for i in entry_ids]})

    async def delete_time(self, entry_id: str) -> None:
        raw = entry_id.removeprefix("kantata:")
        (await self.http.delete(f"/kantata/api/v1/time_entries/{raw}.json")).raise_for_status()
