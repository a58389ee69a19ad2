"""The emulator's people API over raw HTTP (research apis-round2 §1): invitations, memberships,
time off (merge and cap), skills and skill memberships, custom field values, their bulk and rate limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"
MONDAY, SATURDAY = "2026-06-15", "2026-06-20"


def _invitation(n: int) -> dict[str, str]:
    return {"email_address": f"new.{n}@psflow-demo.example", "full_name": f"New Hire {n}"}


async def _invite(api: httpx.AsyncClient, n: int) -> str:
    response = await api.post(f"{API}/account_invitations.json", json={"account_invitation": _invitation(n)})
    assert response.status_code == 200, response.text
    (invitation,) = response.json()["account_invitations"].values()
    return str(invitation["user_id"])


async def test_users_cannot_be_created_without_an_invitation(api: httpx.AsyncClient) -> None:
    before = (await api.get(f"{API}/users.json")).json()["count"]
    response = await api.post(f"{API}/users.json", json={"user": _invitation(1)})
    assert response.status_code == 404
    assert "account_invitations" in response.json()["errors"][0]["message"]
    assert (await api.get(f"{API}/users.json")).json()["count"] == before


async def test_an_invitation_makes_an_active_member_once_per_email(api: httpx.AsyncClient) -> None:
    user_id = await _invite(api, 1)
    users = (await api.get(f"{API}/users/{user_id}.json", params={"include": "account_memberships"})).json()
    user = users["users"][user_id]
    assert user["email_address"] == "new.1@psflow-demo.example"
    (membership_id,) = user["account_membership_ids"]
    assert users["account_memberships"][membership_id]["disabled"] is False
    again = {"account_invitation": {**_invitation(1), "email_address": "NEW.1@psflow-demo.example"}}
    response = await api.post(f"{API}/account_invitations.json", json=again)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "email_address"


async def test_invitations_bulk_at_most_50_all_or_nothing(api: httpx.AsyncClient) -> None:
    before = (await api.get(f"{API}/users.json")).json()["count"]
    too_many = {"account_invitations": [_invitation(n) for n in range(51)]}
    assert (await api.post(f"{API}/account_invitations.json", json=too_many)).status_code == 400
    one_bad = {"account_invitations": [*(_invitation(n) for n in range(49)), {"full_name": "No Email"}]}
    assert (await api.post(f"{API}/account_invitations.json", json=one_bad)).status_code == 422
    assert (await api.get(f"{API}/users.json")).json()["count"] == before
    fifty = {"account_invitations": [_invitation(n) for n in range(50)]}
    response = await api.post(f"{API}/account_invitations.json", json=fifty)
    assert response.status_code == 200 and response.json()["count"] == 50
    assert (await api.get(f"{API}/users.json")).json()["count"] == before + 50


async def test_invitations_have_their_own_rate_limit(api: httpx.AsyncClient, admin: Admin) -> None:
    await admin("PUT", "/_admin/kantata/rate_limit", params={"scope": "account_invitations"}, json={
        "requests": 1, "window_s": 3600
    })  # fmt: skip
    await _invite(api, 1)
    response = await api.post(f"{API}/account_invitations.json", json={"account_invitation": _invitation(2)})
    assert response.status_code == 429 and "retry-after" not in response.headers
    assert (await api.get(f"{API}/users.json")).status_code == 200


async def test_disabling_keeps_the_user_and_their_history(api: httpx.AsyncClient) -> None:
    entries = (await api.get(f"{API}/time_entries.json", params={"per_page": 1, "include": "user"})).json()
    user_id = next(iter(entries["time_entries"].values()))["user_id"]
    logged = (await api.get(f"{API}/time_entries.json", params={"with_user_ids": user_id})).json()["count"]
    memberships = (await api.get(f"{API}/account_memberships.json", params={"user_id": user_id})).json()
    (membership_id,) = memberships["account_memberships"]
    for _ in range(2):
        response = await api.put(f"{API}/account_memberships/{membership_id}/disable.json")
        assert response.status_code == 200
        assert response.json()["account_memberships"][membership_id]["disabled"] is True
    assert (await api.get(f"{API}/users/{user_id}.json")).status_code == 200
    assert (await api.delete(f"{API}/users/{user_id}.json")).status_code == 404
    assert (await api.get(f"{API}/time_entries.json", params={"with_user_ids": user_id})).json()["count"] == logged


async def _time_off(api: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"{API}/time_off_entries.json", json=body)


async def test_time_off_merges_per_user_day_capped_at_the_workday(api: httpx.AsyncClient) -> None:
    user_id = await _invite(api, 1)
    first = (
        await _time_off(api, {"time_off_entry": {"user_id": user_id, "requested_date": MONDAY, "hours": 3}})
    ).json()
    (entry_id,) = first["time_off_entries"]
    second = await _time_off(api, {"time_off_entry": {"user_id": user_id, "requested_date": MONDAY, "hours": 2.5}})
    assert second.json()["time_off_entries"] == {entry_id: second.json()["time_off_entries"][entry_id]}
    assert second.json()["time_off_entries"][entry_id]["hours"] == 5.5
    third = await _time_off(api, {"time_off_entry": {"user_id": user_id, "requested_date": MONDAY, "hours": 6}})
    assert third.json()["time_off_entries"][entry_id]["hours"] == 8.0
    listed = (await api.get(f"{API}/time_off_entries.json", params={"user_id": user_id})).json()
    assert listed["count"] == 1
    weekend = await _time_off(api, {"time_off_entry": {"user_id": user_id, "requested_date": SATURDAY, "hours": 4}})
    assert weekend.status_code == 422 and weekend.json()["errors"][0]["field"] == "requested_date"


async def test_time_off_put_changes_only_hours_and_delete_is_204(api: httpx.AsyncClient) -> None:
    user_id, other = await _invite(api, 1), await _invite(api, 2)
    created = await _time_off(api, {"time_off_entry": {"user_id": user_id, "requested_date": MONDAY, "hours": 4}})
    (entry_id,) = created.json()["time_off_entries"]
    change = {"time_off_entry": {"hours": 12, "user_id": other, "requested_date": "2026-06-16"}}
    updated = (await api.put(f"{API}/time_off_entries/{entry_id}.json", json=change)).json()
    entry = updated["time_off_entries"][entry_id]
    assert (entry["user_id"], entry["requested_date"], entry["hours"]) == (user_id, MONDAY, 8.0)
    assert (await api.delete(f"{API}/time_off_entries/{entry_id}.json")).status_code == 204
    assert (await api.get(f"{API}/time_off_entries.json", params={"user_id": user_id})).json()["count"] == 0


async def test_time_off_filters_users_dates_and_updated_after(api: httpx.AsyncClient) -> None:
    one, two = await _invite(api, 1), await _invite(api, 2)
    days = ["2026-06-15", "2026-06-16", "2026-06-17"]
    bulk = [{"user_id": user, "requested_date": day, "hours": 8} for user in (one, two) for day in days]
    assert (await _time_off(api, {"time_off_entries": bulk})).json()["count"] == 6
    params = {"user_ids": f"{one},{two}", "start_date": "2026-06-16", "end_date": "2026-06-17"}
    assert (await api.get(f"{API}/time_off_entries.json", params=params)).json()["count"] == 4
    only_two = {"user_id": two, "start_date": "2026-06-17"}
    assert (await api.get(f"{API}/time_off_entries.json", params=only_two)).json()["count"] == 1
    later = {"user_ids": f"{one},{two}", "updated_after": "2099-01-01T00:00:00Z"}
    assert (await api.get(f"{API}/time_off_entries.json", params=later)).json()["count"] == 0


async def test_skills_max_level_and_bulk_of_200(api: httpx.AsyncClient) -> None:
    bad = await api.post(f"{API}/skills.json", json={"skill": {"name": "Rust", "max_level": 3}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "max_level"
    too_many = {"skills": [{"name": f"Skill {n}"} for n in range(201)]}
    assert (await api.post(f"{API}/skills.json", json=too_many)).status_code == 400
    many = await api.post(f"{API}/skills.json", json={"skills": [{"name": f"Skill {n}"} for n in range(200)]})
    assert many.status_code == 200 and many.json()["count"] == 200
    assert {s["max_level"] for s in many.json()["skills"].values()} == {5}


async def test_skill_membership_levels_within_the_skills_max_and_put_changes_only_level(
    api: httpx.AsyncClient,
) -> None:
    user_id = await _invite(api, 1)
    binary = await api.post(f"{API}/skills.json", json={"skill": {"name": "Security clearance", "max_level": 1}})
    skill_id = binary.json()["results"][0]["id"]
    over = {"skill_membership": {"user_id": user_id, "skill_id": skill_id, "level": 2}}
    assert (await api.post(f"{API}/skill_memberships.json", json=over)).status_code == 422
    made = await api.post(
        f"{API}/skill_memberships.json", json={"skill_membership": {**over["skill_membership"], "level": 1}}
    )
    membership_id = made.json()["results"][0]["id"]
    other = (await api.post(f"{API}/skills.json", json={"skill": {"name": "Go"}})).json()["results"][0]["id"]
    moved = {"skill_membership": {"skill_id": other, "level": 1}}
    kept = (await api.put(f"{API}/skill_memberships/{membership_id}.json", json=moved)).json()
    assert kept["skill_memberships"][membership_id]["skill_id"] == skill_id
    assert (
        await api.put(f"{API}/skill_memberships/{membership_id}.json", json={"skill_membership": {"level": 0}})
    ).status_code == 422


async def test_custom_field_value_post_upserts_with_a_new_id(api: httpx.AsyncClient) -> None:
    user_id = await _invite(api, 1)
    fields = (await api.get(f"{API}/custom_fields.json", params={"subject_types": "User"})).json()
    (field_id,) = fields["custom_fields"]
    body = {"subject_type": "User", "subject_id": user_id, "custom_field_id": field_id, "value": "CC-A"}
    first = (await api.post(f"{API}/custom_field_values.json", json={"custom_field_value": body})).json()
    second = await api.post(f"{API}/custom_field_values.json", json={"custom_field_value": {**body, "value": "CC-B"}})
    (first_id,), (second_id,) = first["custom_field_values"], second.json()["custom_field_values"]
    assert first_id != second_id
    listed = (await api.get(f"{API}/custom_field_values.json", params={"with_subject_id": user_id})).json()
    assert [v["value"] for v in listed["custom_field_values"].values()] == ["CC-B"]
    too_many = {"custom_field_values": [body] * 101}
    assert (await api.post(f"{API}/custom_field_values.json", json=too_many)).status_code == 400
