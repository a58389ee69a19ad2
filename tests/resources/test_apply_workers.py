"""`resources.apply_workers` and `resources.disable_due` through the Kantata emulator: identity, writes, leavers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from activities.resources.models import ApplyRequest, ApplyResult, BadWorker, DueRequest, ResourcePolicy
from canonical import Consultant
from store import exceptions as exc
from store import resources as res
from tests.resources.conftest import SOURCE, TODAY, Killed, World

NEXT_MONDAY = TODAY + timedelta(days=4)


def hire(n: int, **changes: Any) -> Consultant:
    values: dict[str, Any] = {
        "id": f"bamboohr:{n}",
        "employee_id": f"E-{n}",
        "name": f"Hire Number{n}",
        "email": f"hire.{n}@psflow-demo.example",
        "title": "Consultant",
        "role": "Consultant",
        "cost_centre": "CC-TEC-UK",
        "skills": ("Python",),
        "standard_hours_per_week": Decimal(40),
        "hire_date": NEXT_MONDAY,
    }
    return Consultant(**(values | changes))


def request(workers: list[Consultant], **changes: Any) -> ApplyRequest:
    values: dict[str, Any] = {"source": SOURCE, "run_id": "run-1", "today": TODAY, "workers": workers}
    return ApplyRequest(**(values | changes))


async def apply(world: World, workers: list[Consultant], **changes: Any) -> ApplyResult:
    return await world.env().run(world.psa.apply_workers, request(workers, **changes))


def exceptions_of(world: World, worker_id: str, *, active: bool = True) -> dict[str, exc.ExceptionRecord]:
    rows = exc.find(world.store, flow="resources", key=worker_id, states=exc.ACTIVE if active else None)
    return {row.kind: row for row in rows}


async def user(world: World, user_id: str) -> Consultant:
    (found,) = await world.kantata.users_by_ids([user_id])
    return found


async def test_a_hire_is_invited_with_its_profile_and_hours_and_applied_once(world: World) -> None:
    worker = hire(1)
    result = await apply(world, [worker])

    assert result.counts == {"invalid": 0, "invited": 1}
    invitations = [w for w in world.transport.writes() if w.startswith("POST /account_invitations")]
    assert invitations == ["POST /account_invitations.json"]
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None and row.applied_fingerprint is not None
    assert world.store.system_id("worker", worker.id, "kantata") == row.psa_user_id
    psa = await user(world, row.psa_user_id)
    assert (psa.email, psa.title, psa.role, psa.employee_id) == (worker.email, "Consultant", "Consultant", "E-1")
    assert (psa.cost_centre, psa.skills, psa.active) == ("CC-TEC-UK", ("Python",), True)
    weeks = (await world.api.get("/workweek_memberships.json", params={"user_id": row.psa_user_id})).json()
    (week,) = weeks["workweek_memberships"].values()
    assert week["start_date"] == "2026-11-29" and week["monday_minutes"] == 480  # the Sunday before the hire
    assert [(c.reason, c.start, c.psa_user_id) for c in result.availability] == [
        ("hired", NEXT_MONDAY, row.psa_user_id)
    ]

    world.transport.reset()
    again = await apply(world, [worker], run_id="run-2")
    assert again.counts == {"invalid": 0, "unchanged": 1} and again.availability == []
    assert world.transport.sent == []  # an unchanged fingerprint costs no PSA call at all


async def test_a_changed_worker_is_updated_and_the_manager_kept_in_the_store_only(world: World) -> None:
    worker = hire(2)
    await apply(world, [worker])
    changed = worker.model_copy(
        update={
            "title": "Senior Consultant",
            "cost_centre": "CC-OPS-UK",
            "skills": ("Go", "Python"),
            "standard_hours_per_week": Decimal(30),
            "manager_id": "bamboohr:1",
        }
    )
    world.transport.reset()
    result = await apply(world, [changed], run_id="run-2")

    assert result.counts == {"invalid": 0, "updated": 1}
    assert not [w for w in world.transport.writes() if "account_invitations" in w]
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None
    psa = await user(world, row.psa_user_id)
    assert (psa.title, psa.cost_centre, psa.skills) == ("Senior Consultant", "CC-OPS-UK", ("Go", "Python"))
    assert (row.manager_id, row.standard_hours_per_week) == ("bamboohr:1", Decimal(30))
    hours = [c for c in result.availability if c.reason == "hours"]
    assert [(c.start, c.hours) for c in hours] == [(NEXT_MONDAY, "30")]


async def test_a_worker_is_linked_by_employee_reference_before_email(world: World) -> None:
    seeded = world.firm.consultants[0]
    worker = hire(3, employee_id=seeded.employee_id, email="someone.else@psflow-demo.example", title="Principal")
    result = await apply(world, [worker])

    assert result.counts == {"invalid": 0, "linked": 1, "exceptions": 1}
    assert not [w for w in world.transport.writes() if "account_invitations" in w]
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None
    psa = await user(world, row.psa_user_id)
    assert psa.email == seeded.email.lower() and psa.title == "Principal"  # applied, the login kept
    found = exceptions_of(world, worker.id)
    assert set(found) == {"email_changed"}
    assert found["email_changed"].values == {
        "old": seeded.email.lower(),
        "new": worker.email,
        "psa_user_id": row.psa_user_id,
    }


async def test_a_worker_is_linked_by_email_and_gets_the_employee_reference(world: World) -> None:
    worker = hire(4)
    body = {"account_invitation": {"full_name": "Hand Made", "email_address": worker.email.upper()}}
    invited = (await world.api.post("/account_invitations.json", json=body)).json()
    user_id = str(next(iter(invited["account_invitations"].values()))["user_id"])
    world.transport.reset()

    result = await apply(world, [worker])

    assert result.counts == {"invalid": 0, "linked": 1}
    assert not [w for w in world.transport.writes() if "account_invitations" in w]
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id == user_id
    psa = await user(world, user_id)
    assert (psa.employee_id, psa.name) == ("E-4", "Hand Made")  # the PSA's name is left as it is
    assert exceptions_of(world, worker.id) == {}


async def test_two_users_with_the_email_are_an_exception_and_nothing_is_written(world: World) -> None:
    worker = hire(5)
    for name in ("First Copy", "Second Copy"):
        world.db.insert(
            "kantata",
            "users",
            {"full_name": name, "email_address": worker.email, "_email": worker.email, "account_id": "1"},
        )
    world.transport.reset()

    result = await apply(world, [worker])

    assert result.counts == {"invalid": 0, "conflicts": 1}
    assert world.transport.writes() == []
    assert res.resource(world.store, worker.id) is None
    found = exceptions_of(world, worker.id)["duplicate_email"]
    assert found.values["email"] == worker.email and len(found.values["psa_user_ids"]) == 2
    assert found.system == "bamboohr" and found.flow == "resources"


async def test_a_rehire_under_a_new_id_is_an_exception_and_not_merged(world: World) -> None:
    leaver = hire(6, hire_date=date(2025, 1, 6), termination_date=TODAY - timedelta(days=30))
    await apply(world, [hire(6, hire_date=date(2025, 1, 6))])
    await apply(world, [leaver], run_id="run-2")
    rehire = hire(66, email=leaver.email, hire_date=NEXT_MONDAY)
    world.transport.reset()

    result = await apply(world, [rehire], run_id="run-3")

    assert result.counts == {"invalid": 0, "conflicts": 1}
    assert world.transport.writes() == []
    assert res.resource(world.store, rehire.id) is None
    found = exceptions_of(world, rehire.id)
    assert set(found) == {"rehire_new_id"}
    values = found["rehire_new_id"].values
    assert (values["linked_worker_id"], values["matched_by"]) == (leaver.id, "email")
    assert values["linked_termination_date"] == leaver.termination_date.isoformat()  # type: ignore[union-attr]


async def test_a_second_worker_on_an_employed_workers_user_is_an_identity_conflict(world: World) -> None:
    await apply(world, [hire(7)])
    other = hire(77, employee_id="E-7")  # same employee reference, another HR id, still employed
    world.transport.reset()

    result = await apply(world, [other], run_id="run-2")

    assert result.counts == {"invalid": 0, "conflicts": 1} and world.transport.writes() == []
    found = exceptions_of(world, other.id)["identity_conflict"]
    assert (found.values["linked_worker_id"], found.values["matched_by"]) == ("bamboohr:7", "employee_id")


async def test_an_email_change_is_an_exception_the_rest_is_applied_and_a_clean_run_resolves_it(world: World) -> None:
    worker = hire(8)
    await apply(world, [worker])
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None
    moved = worker.model_copy(update={"email": "new.address@psflow-demo.example", "title": "Manager"})

    result = await apply(world, [moved], run_id="run-2")

    assert result.counts == {"invalid": 0, "updated": 1, "exceptions": 1}
    psa = await user(world, row.psa_user_id)
    assert (psa.email, psa.title) == (worker.email, "Manager")  # the login is left for a person
    found = exceptions_of(world, worker.id)["email_changed"]
    assert found.values == {"old": worker.email, "new": moved.email, "psa_user_id": row.psa_user_id}

    back = worker.model_copy(update={"title": "Manager"})
    await apply(world, [back], run_id="run-3")
    assert exceptions_of(world, worker.id) == {}
    closed = exceptions_of(world, worker.id, active=False)["email_changed"]
    assert (closed.state, closed.resolved_by) == ("resolved", "run-3")


async def test_unknown_cost_centre_and_skill_are_exceptions_with_the_rest_applied(world: World) -> None:
    worker = hire(9, cost_centre="CC-NOWHERE", skills=("Python", "Basket Weaving"), title="Analyst")
    policy = ResourcePolicy(cost_centres=("CC-TEC-UK",), unknown_skills="exception")
    await world.kantata.ensure_skill("Python")

    result = await apply(world, [worker], policy=policy)

    assert result.counts == {"invalid": 0, "invited": 1, "exceptions": 2}
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None and row.applied_fingerprint is None
    psa = await user(world, row.psa_user_id)
    assert (psa.title, psa.skills, psa.cost_centre) == ("Analyst", ("Python",), None)
    found = exceptions_of(world, worker.id)
    assert found["unknown_cost_centre"].values["cost_centre"] == "CC-NOWHERE"
    assert found["unknown_skill"].values["skills"] == ["Basket Weaving"]
    assert "Basket Weaving" not in await world.kantata.skill_names()


async def test_a_bad_worker_is_an_exception_and_a_later_clean_apply_resolves_it(world: World) -> None:
    bad = BadWorker(worker_id="bamboohr:10", problem="no email", values={"workEmail": None})
    result = await apply(world, [hire(11)], bad=[bad])
    assert result.counts == {"invalid": 1, "invited": 1}
    assert exceptions_of(world, "bamboohr:10")["invalid_worker"].values == {"workEmail": None}

    await apply(world, [hire(10)], run_id="run-2")
    assert exceptions_of(world, "bamboohr:10") == {}


async def test_a_worker_the_psa_refuses_is_an_exception_and_the_page_goes_on(world: World) -> None:
    refused, fine = hire(14, email="refused@psflow-demo.example"), hire(15)
    world.transport.refuse = lambda line, body: line.startswith("POST /account_invitations") and b"refused@" in body

    result = await apply(world, [refused, fine])

    assert result.counts == {"invalid": 1, "invited": 1}
    found = exceptions_of(world, refused.id)["invalid_worker"]
    assert (found.values["status"], found.values["email"]) == (422, refused.email)
    assert res.resource(world.store, refused.id) is None and res.resource(world.store, fine.id) is not None


async def _participant(world: World) -> tuple[Consultant, str]:
    """A seeded user on a project, booked on it as a workspace resource."""
    participations = (await world.api.get("/participations.json", params={"per_page": 1})).json()
    (participation,) = participations["participations"].values()
    body = {"workspace_resource": {"workspace_id": participation["workspace_id"], "user_id": participation["user_id"]}}
    resource = (await world.api.post("/workspace_resources.json", json=body)).json()["results"][0]["id"]
    return await user(world, str(participation["user_id"])), str(resource)


async def _allocate(world: World, resource_id: str, start: date, end: date) -> str:
    body = {
        "workspace_allocation": {
            "resource_id": resource_id,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "minutes": 4800,
        }
    }
    response = await world.api.post("/workspace_allocations.json", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["id"])


async def test_a_leaver_loses_future_allocations_and_is_disabled_only_after_the_last_day(world: World) -> None:
    psa, resource_id = await _participant(world)
    user_id = psa.source.id if psa.source else ""
    last_day = TODAY + timedelta(days=8)  # a Friday
    past = await _allocate(world, resource_id, TODAY - timedelta(days=10), TODAY - timedelta(days=3))
    future = await _allocate(world, resource_id, last_day + timedelta(days=3), last_day + timedelta(days=20))
    worker = hire(12, employee_id=psa.employee_id, email=psa.email, hire_date=date(2024, 3, 4))
    first = await apply(world, [worker])
    assert first.counts == {"invalid": 0, "linked": 1}
    assert first.availability == []  # a colleague linked by the first sync is no change of capacity

    leaving = worker.model_copy(update={"termination_date": last_day})
    result = await apply(world, [leaving], run_id="run-2")

    assert result.counts == {"invalid": 0, "updated": 1, "allocations_removed": 1}
    assert [(c.reason, c.start) for c in result.availability] == [("left", last_day + timedelta(days=1))]
    kept = (await world.api.get("/workspace_allocations.json", params={"user_ids": user_id})).json()
    assert set(kept["workspace_allocations"]) == {past}
    assert (await world.api.get(f"/workspace_allocations/{future}.json")).status_code == 404
    assert (await user(world, user_id)).active

    for today in (TODAY, last_day):
        due = await world.env().run(world.psa.disable_due, DueRequest(source=SOURCE, run_id="run-3", today=today))
        assert due.counts == {}
    assert (await user(world, user_id)).active
    done = await world.env().run(
        world.psa.disable_due, DueRequest(source=SOURCE, run_id="run-4", today=last_day + timedelta(days=1))
    )
    assert done.counts == {"disabled": 1}
    psa_after = await user(world, user_id)
    assert not psa_after.active  # disabled, still listed: nothing deleted
    row = res.resource(world.store, worker.id)
    assert row is not None and row.disabled_at is not None and not row.active
    again = await world.env().run(
        world.psa.disable_due, DueRequest(source=SOURCE, run_id="run-5", today=last_day + timedelta(days=2))
    )
    assert again.counts == {}


async def test_a_leaver_already_gone_is_not_invited(world: World) -> None:
    gone = hire(13, hire_date=date(2020, 1, 6), termination_date=date(2023, 5, 31))
    result = await apply(world, [gone])
    assert result.counts == {"invalid": 0, "skipped": 1}
    assert world.transport.writes() == []
    world.transport.reset()
    assert (await apply(world, [gone], run_id="run-2")).counts == {"invalid": 0, "unchanged": 1}
    assert world.transport.sent == []


def invitations(world: World) -> list[str]:
    return [s for s in world.transport.sent if s.startswith("POST /account_invitations")]


async def test_a_pages_hires_are_invited_fifty_a_request(world: World) -> None:
    workers = [hire(n) for n in range(100, 220)]

    result = await apply(world, workers)

    assert result.counts == {"invalid": 0, "invited": 120}
    assert len(invitations(world)) == 3  # 50 + 50 + 20, not one a hire
    custom_values = [s for s in world.transport.sent if "/custom_field_values" in s]
    assert custom_values == ["POST /custom_field_values.json"] * 2  # 100 + 20 values, no reads
    assert [c.worker_id for c in result.availability] == [w.id for w in workers]
    rows = res.resources(world.store, [w.id for w in workers])
    users = {row.psa_user_id for row in rows.values()}
    assert len(rows) == 120 and len(users) == 120 and None not in users
    psa = await user(world, rows["bamboohr:219"].psa_user_id or "")
    assert (psa.email, psa.employee_id, psa.cost_centre, psa.skills) == (
        "hire.219@psflow-demo.example",
        "E-219",
        "CC-TEC-UK",
        ("Python",),
    )


async def test_an_unknown_cost_centre_is_not_written_in_bulk_and_a_refused_bulk_write_goes_per_worker(
    world: World,
) -> None:
    workers = [hire(51), hire(52, cost_centre="CC-NOWHERE"), hire(53, cost_centre="CC-OPS-UK")]
    policy = ResourcePolicy(cost_centres=("CC-TEC-UK", "CC-OPS-UK"))
    bulk = b'"custom_field_values"'  # refused in bulk only: one value at a time is accepted
    world.transport.refuse = lambda line, body: line.startswith("POST /custom_field_values") and bulk in body

    result = await apply(world, workers, policy=policy)

    assert result.counts == {"invalid": 0, "invited": 3, "exceptions": 1}
    assert set(exceptions_of(world, "bamboohr:52")) == {"unknown_cost_centre"}
    sent = [s.split("?")[0] for s in world.transport.sent if "/custom_field_values" in s]
    # the refused bulk write, then each known one read and written by `upsert_user`; none for CC-NOWHERE
    assert sent.count("POST /custom_field_values.json") == 3

    world.transport.refuse = None
    again = await apply(world, [hire(54), hire(55, cost_centre="CC-OPS-UK")], policy=policy, run_id="run-2")
    assert again.counts == {"invalid": 0, "invited": 2}
    rows = res.resources(world.store, ["bamboohr:54", "bamboohr:55"])
    assert [(await user(world, rows[w].psa_user_id or "")).cost_centre for w in ("bamboohr:54", "bamboohr:55")] == [
        "CC-TEC-UK",
        "CC-OPS-UK",
    ]


async def test_workers_of_one_page_sharing_an_email_or_employee_id_are_not_invited_twice(world: World) -> None:
    first = hire(41)
    same_email = hire(42, email=first.email.upper())
    same_ref = hire(43, employee_id=first.employee_id)

    result = await apply(world, [first, same_email, same_ref])

    assert result.counts == {"invalid": 0, "invited": 1, "conflicts": 2}
    assert len(invitations(world)) == 1
    assert set(exceptions_of(world, same_email.id)) == {"identity_conflict"}
    assert exceptions_of(world, same_ref.id)["identity_conflict"].values["matched_by"] == "employee_id"


async def test_a_retry_after_the_bulk_invitation_invites_nobody_again_and_counts_them_invited(world: World) -> None:
    workers = [hire(n) for n in (21, 22, 23)]
    # The bulk invitation reaches Kantata, then the worker dies before hearing back.
    world.transport.kill_after = lambda line: line.startswith("POST /account_invitations")
    with pytest.raises(Killed):
        await apply(world, workers)
    last = world.beats[-1]
    assert last["done"] == 0 and last["inviting"] == [w.id for w in workers] and last["invited"] == {}

    retry = await world.env(details=last).run(world.psa.apply_workers, request(workers))

    assert retry.counts == {"invalid": 0, "invited": 3}
    assert [(c.worker_id, c.reason) for c in retry.availability] == [(w.id, "hired") for w in workers]
    assert len(invitations(world)) == 1  # one for the three, across both attempts
    assert all(res.resource(world.store, w.id) is not None for w in workers)


async def test_a_retry_resumes_after_the_last_worker_done_and_applies_nothing_twice(world: World) -> None:
    workers = [hire(n) for n in (24, 25, 26)]
    # The second worker's profile write reaches Kantata, then the worker dies before hearing back.
    world.transport.kill_after = lambda line: (
        line.startswith("PUT /users/") and sum(s.startswith("PUT /users/") for s in world.transport.sent) == 2
    )
    with pytest.raises(Killed):
        await apply(world, workers)
    last = world.beats[-1]
    assert last["done"] == 1 and last["counts"] == {"invalid": 0, "invited": 1}
    assert set(last["invited"]) == {w.id for w in workers}
    sent_before = len(world.transport.sent)

    retry = await world.env(details=last).run(world.psa.apply_workers, request(workers))

    assert retry.counts == {"invalid": 0, "invited": 3}
    assert [c.worker_id for c in retry.availability] == [w.id for w in workers]
    assert len(invitations(world)) == 1
    resumed = world.transport.sent[sent_before:]
    assert not any(workers[0].email in s or workers[0].email.replace("@", "%40") in s for s in resumed)
    assert not any(s.startswith("POST /account_invitations") for s in resumed)
    assert all(res.resource(world.store, w.id) is not None for w in workers)


async def test_a_retried_disable_due_resumes_after_the_last_leaver_done(world: World) -> None:
    last_day = TODAY - timedelta(days=1)
    for n in (31, 32):
        await apply(world, [hire(n, hire_date=date(2024, 3, 4))])
        res.save_resource(world.store, f"bamboohr:{n}", termination_date=last_day, allocations_removed_on=last_day)
    world.transport.reset()
    details = {"after": "bamboohr:31", "counts": {"disabled": 1}}

    retried = await world.env(details=details).run(
        world.psa.disable_due, DueRequest(source=SOURCE, run_id="run-2", today=TODAY)
    )

    assert retried.counts == {"disabled": 2}
    assert len([w for w in world.transport.writes() if w.endswith("/disable.json")]) == 1
    assert [r.worker_id for r in res.due_disable(world.store, SOURCE, TODAY)] == ["bamboohr:31"]
