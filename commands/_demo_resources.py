"""The demo's resource sync: a hire, a leaver and a leave request in the sandbox's Workday reach Kantata.

A first sync reads every worker (the first run of a source is a full sweep) and links them to their
Kantata users by email. Then HR changes, through the Workday emulator's admin routes, the way a
person in HR would: a consultant booked on a project leaves (their last day yesterday), a new
consultant is hired from next week, and a colleague's leave is approved for next week. The second
sync reads only those changes and brings them to Kantata; the demo shows each one there, and who is
free next week.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.client import Client

from commands._common import UserError, out, table, workflow_url
from stack.connectors import Connectors
from stack.settings import Settings

LEAVE_HOURS = Decimal(8)


def _next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


async def _sync(client: Client, config: Settings, today: date, title: str) -> None:
    from commands.resources import print_result
    from stack.flows import start_resource_sync

    out.print(title, highlight=False)
    handle, started = await start_resource_sync(config, client, today=today)
    if not started:
        out.print(f"  (a resource sync was already running: {handle.id}; waiting for it)", highlight=False)
    print_result(await handle.result())
    out.print(f"  {workflow_url(config, handle.id, handle.first_execution_run_id or handle.run_id)}", soft_wrap=True)


async def _admin(config: Settings, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"{config.sandbox_url}/_admin/workday", timeout=30) as admin:
        response = await admin.post(path, json=body)
    if response.status_code >= 400:
        raise UserError(f"the Workday sandbox refused {path}: {response.status_code} {response.text[:200]}")
    found: dict[str, Any] = response.json()
    return found


async def _participants(connectors: Connectors) -> dict[str, str]:
    """Kantata users staffed on a project: user id → a workspace they are on."""
    found: dict[str, str] = {}
    listing = await connectors.kantata.client.get_json("/participations.json", params={"per_page": 200})
    for participation in (listing.get("participations") or {}).values():
        found.setdefault(str(participation["user_id"]), str(participation["workspace_id"]))
    return found


async def _book(connectors: Connectors, user_id: str, workspace_id: str, start: date, end: date, hours: int) -> None:
    """Book a user on a workspace (a workspace resource and an allocation), as a resource manager would."""
    kantata = connectors.kantata.client
    body = {"workspace_resource": {"workspace_id": workspace_id, "user_id": user_id}}
    resource = (await kantata.post_json("/workspace_resources.json", body))["results"][0]["id"]
    allocation = {"resource_id": resource, "start_date": start.isoformat(), "end_date": end.isoformat()}
    allocation["minutes"] = hours * 60
    await kantata.post_json("/workspace_allocations.json", {"workspace_allocation": allocation})


async def sync_resources(client: Client, config: Settings, connectors: Connectors, today: date) -> None:
    """Sync, change three people in Workday, sync again, and show the changes in Kantata and who is free."""
    from commands.resources import hours, who_is_free
    from store import Store
    from store.resources import availability

    entity = next((name for name, system in config.hr_systems.items() if system == "workday"), None)
    if entity is None:
        out.print("skipped: no legal entity takes its people from Workday (setting hr_systems)", highlight=False)
        return
    out.rule(f"Resource sync: HR (Workday, legal entity {entity}) to the PSA")
    await _sync(client, config, today, "First sync (a source's first reads every worker: linked to Kantata by email)")

    monday = _next_monday(today)
    week = (monday, monday + timedelta(days=4))
    staffed = await _participants(connectors)
    store = Store(config.store_url)
    try:
        rows = [row for row in availability(store, *week, legal_entity=entity) if row.psa_user_id in staffed]
    finally:
        store.engine.dispose()
    if len(rows) < 2:
        raise UserError("fewer than two Workday consultants are staffed in Kantata: reset the sandbox")
    leaver, on_leave = rows[0], rows[1]
    assert leaver.psa_user_id is not None and on_leave.psa_user_id is not None
    last_day = today - timedelta(days=1)
    await _book(connectors, leaver.psa_user_id, staffed[leaver.psa_user_id], today + timedelta(days=3), week[1], 40)
    wid = leaver.worker_id.removeprefix("workday:")
    await _admin(config, f"/workers/{wid}/terminate", {"termination_date": last_day.isoformat()})
    leave_days = [monday + timedelta(days=n) for n in range(3)]
    days = [{"date": d.isoformat(), "hours": str(LEAVE_HOURS), "type": "Vacation"} for d in leave_days]
    await _admin(config, f"/workers/{on_leave.worker_id.removeprefix('workday:')}/time-off", {"days": days})
    leaver_hr = await connectors.workday.get_worker(wid)
    tag = uuid.uuid4().hex[:6]  # a new person each time the demo runs on the same sandbox
    new_email = f"noor.haddad.{tag}@{(leaver.email or 'firm.example').rpartition('@')[2]}"
    hired = await _admin(
        config,
        "/workers",
        {
            "first_name": "Noor",
            "last_name": f"Haddad-{tag}",
            "email": new_email,
            "business_title": "Consultant",
            "job_profile": "Consultant",
            "supervisory_org_id": leaver_hr.supervisory_org,
            "location": leaver_hr.location or "London",
            "skills": ["Python", "Data Engineering"],
            "hire_date": monday.isoformat(),
        },
    )
    out.print(
        f"In Workday: {leaver.name} leaves (last day {last_day}; booked on a project until {week[1]}), "
        f"{hired.get('descriptor', 'Noor Haddad')} is hired from {monday}, and {on_leave.name}'s leave "
        f"{leave_days[0]} to {leave_days[-1]} is approved.",
        highlight=False,
    )
    await _sync(client, config, today, "Second sync: only what changed since the first")

    users = {user.email: user for user in await connectors.kantata.list_users()}
    left_booked = await connectors.kantata.allocated_hours(today, week[1] + timedelta(days=30), [leaver.psa_user_id])
    entries = await connectors.kantata.time_off_page(user_ids=[on_leave.psa_user_id], start=week[0], end=week[1])
    shown = table("HR", "who", "in Kantata", title="reached the PSA")
    new_user = users.get(new_email)
    invited = f"invited, user {new_user.source.id}" if new_user and new_user.source else "not in Kantata"
    shown.add_row("hired", new_email, invited)
    left = users.get(leaver.email or "")
    state = "membership disabled" if left is not None and not left.active else "still active"
    booked = f"{hours(left_booked.get(leaver.psa_user_id, Decimal(0)))} h booked after the last day"
    shown.add_row("left", leaver.name or leaver.worker_id, f"{state}; {booked}")
    off = ", ".join(f"{entry.requested_date} {hours(entry.hours)} h" for entry in entries.items)
    shown.add_row("leave approved", on_leave.name or on_leave.worker_id, f"time off: {off or 'none'}")
    out.print(shown)

    store = Store(config.store_url)
    try:
        rows = availability(store, *week, legal_entity=entity)
    finally:
        store.engine.dispose()
    user_ids = [row.psa_user_id for row in rows if row.psa_user_id]
    free = who_is_free(rows, await connectors.kantata.allocated_hours(*week, user_ids))
    title = f"who is free {week[0]} to {week[1]}"
    shown = table("worker", "name", "capacity h", "time off h", "booked h", "free h", title=title)
    changed = (on_leave.worker_id, f"workday:{hired.get('id')}")
    for person in [*free[:5], *(p for p in free[5:] if p.worker_id in changed)]:
        shown.add_row(
            person.worker_id,
            person.name or "-",
            hours(person.capacity_hours),
            hours(person.time_off_hours),
            hours(person.allocated_hours),
            hours(person.free_hours),
        )
    out.print(shown)
    out.print(f"  psflow resources availability --from {week[0]} --to {week[1]}", highlight=False)
    out.print("  psflow exceptions list --flow resources", highlight=False)
