"""The emulator's API shapes, seen over raw HTTP: envelope, paging, filters, errors, auth, admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.seed import DemoFirm
from tests.kantata.conftest import raw_client

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"


async def test_envelope_with_includes_and_page_meta(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{API}/workspaces.json", params={"per_page": 5, "include": "external_references"})
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 12 and body["meta"] == {"count": 12, "page_count": 3, "page_number": 1, "page_size": 5}
    assert [r["key"] for r in body["results"]] == ["workspaces"] * 5
    first = body["workspaces"][body["results"][0]["id"]]
    (reference_id,) = first["external_reference_ids"]
    assert body["external_references"][reference_id]["service_name"] == "psflow"
    assert first["price_in_cents"] > 0 and first["currency"] in ("USD", "GBP", "EUR")


async def test_paths_work_with_and_without_the_json_suffix(api: httpx.AsyncClient) -> None:
    with_suffix = (await api.get(f"{API}/users.json", params={"only": "1,2"})).json()
    without = (await api.get(f"{API}/users", params={"only": "1,2"})).json()
    assert with_suffix == without and with_suffix["count"] == 2


async def test_only_does_not_404_but_show_does_for_hidden_records(api: httpx.AsyncClient) -> None:
    await api.put(f"{API}/workspaces/1.json", json={"workspace": {"archived": True}})
    assert (await api.get(f"{API}/workspaces.json", params={"only": "1,999"})).json()["count"] == 0
    hidden = await api.get(f"{API}/workspaces/1.json")
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["type"] == "system"
    shown = await api.get(f"{API}/workspaces/1.json", params={"include_archived": "true"})
    assert shown.json()["workspaces"]["1"]["archived"] is True
    assert (await api.get(f"{API}/workspaces.json", params={"archived": "only"})).json()["count"] == 1


async def test_limit_and_offset_take_precedence_and_per_page_is_capped(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"{API}/time_entries.json", params={"limit": 3, "offset": 6, "page": 9})).json()
    assert len(body["results"]) == 3 and body["meta"]["page_number"] == 3
    capped = (await api.get(f"{API}/time_entries.json", params={"per_page": 500})).json()
    assert capped["meta"]["page_size"] == 200 and len(capped["results"]) == 200


async def test_approved_filter_ignores_its_value(api: httpx.AsyncClient, firm: DemoFirm) -> None:
    approved = sum(1 for e in firm.time_entries if e.approval_state == "approved")
    for value in ("true", "false"):
        body = (await api.get(f"{API}/time_entries.json", params={"approved": value})).json()
        assert body["count"] == approved


async def test_create_validation_lists_every_problem(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{API}/time_entries.json", json={"time_entry": {"time_in_minutes": -5}})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"workspace_id", "date_performed", "time_in_minutes"} <= fields
    assert all(error["type"] == "validation" for error in response.json()["errors"])


async def test_bulk_create_and_nested_external_reference(api: httpx.AsyncClient) -> None:
    entries = [{"workspace_id": 1, "date_performed": "2026-06-16", "time_in_minutes": 30 * n} for n in (1, 2)]
    entries[0]["external_reference"] = {"service_name": "jira", "service_model": "Worklog", "service_model_ref": "W-1"}
    body = (await api.post(f"{API}/time_entries.json", json={"time_entries": entries})).json()
    assert body["count"] == 2 and all(e["currency"] for e in body["time_entries"].values())
    refs = await api.get(f"{API}/external_references.json", params={"subject_type": "TimeEntry", "include": "subject"})
    (ref,) = refs.json()["results"]
    assert refs.json()["external_references"][ref["id"]]["subject_ref"]["key"] == "time_entries"


@pytest.mark.parametrize(
    ("path", "params", "status", "fragment"),
    [
        ("time_entries.json", {"date_performed_between": "2026-06-01"}, 400, "two dates"),
        ("time_entries.json", {"order": "notes:asc"}, 400, "not valid"),
        ("time_entries.json", {"page": "0"}, 400, "at least 1"),
        ("external_references.json", {}, 400, "subject_type is required"),
        ("nothing_here.json", {}, 404, "no /nothing_here endpoint"),
        ("stories/99999.json", {}, 404, "not found"),
    ],
)
async def test_bad_requests_answer_in_kantatas_error_shape(
    api: httpx.AsyncClient, path: str, params: dict[str, Any], status: int, fragment: str
) -> None:
    response = await api.get(f"{API}/{path}", params=params)
    assert response.status_code == status
    (error,) = response.json()["errors"]
    assert fragment in error["message"] and error["type"] == "system"


async def test_bad_token_is_an_oauth_error(app: FastAPI) -> None:
    async with raw_client(app, token="not-a-token") as client:
        response = await client.get(f"{API}/workspaces.json")
    assert response.status_code == 401
    assert response.json() == {"errors": [{"type": "oauth", "message": "Invalid OAuth 2 Request"}]}


@pytest.mark.parametrize(
    ("form", "status", "key"),
    [
        ({"grant_type": "client_credentials"}, 200, "access_token"),
        ({"grant_type": "authorization_code", "code": "psflow-demo-code"}, 200, "refresh_token"),
        ({"grant_type": "authorization_code", "code": "stale"}, 400, "error"),
        ({"grant_type": "password"}, 400, "error"),
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "error"),
    ],
)
async def test_token_endpoint(app: FastAPI, form: dict[str, str], status: int, key: str) -> None:
    credentials = {"client_id": "psflow-demo", "client_secret": "psflow-demo-secret"}
    async with raw_client(app, token=None) as client:
        response = await client.post("/kantata/oauth/token", data={**credentials, **form})
        assert response.status_code == status and key in response.json()
        if status == 200:
            assert "expires_in" not in response.json()
            token = response.json()["access_token"]
            listing = await client.get(f"{API}/roles.json", headers={"Authorization": f"Bearer {token}"})
            assert listing.json()["count"] == 6


async def test_refresh_token_grant(app: FastAPI) -> None:
    credentials = {"client_id": "psflow-demo", "client_secret": "psflow-demo-secret"}
    async with raw_client(app, token=None) as client:
        first = await client.post(
            "/kantata/oauth/token", data={**credentials, "grant_type": "authorization_code", "code": "psflow-demo-code"}
        )
        refresh = first.json()["refresh_token"]
        again = await client.post(
            "/kantata/oauth/token", data={**credentials, "grant_type": "refresh_token", "refresh_token": refresh}
        )
    assert again.status_code == 200 and again.json()["access_token"] != first.json()["access_token"]


async def test_own_rate_limit_answers_429_without_headers(api: httpx.AsyncClient, admin: Admin) -> None:
    await admin("PUT", "/_admin/kantata/rate_limit", json={"requests": 2, "window_s": 60})
    statuses = [(await api.get(f"{API}/roles.json")).status_code for _ in range(3)]
    limited = await api.get(f"{API}/roles.json")
    assert statuses == [200, 200, 429] and limited.status_code == 429
    assert "retry-after" not in limited.headers and limited.json()["errors"][0]["type"] == "system"
    assert (await admin("GET", "/_admin/kantata/rate_limit")).json()["requests"] == 2


async def test_admin_adds_a_day_and_approves_it(api: httpx.AsyncClient, admin: Admin) -> None:
    added = (await admin("POST", "/_admin/kantata/time_entries", json={"date": "2026-06-17", "hours": 7.5})).json()
    assert len(added["ids"]) > 10
    day = {"date_performed_between": "2026-06-17:2026-06-17", "include": "recent_submission"}
    before = (await api.get(f"{API}/time_entries.json", params={**day, "per_page": 200})).json()
    assert before["count"] == len(added["ids"])
    assert {s["status"] for s in before["timesheet_submissions"].values()} == {"pending"}
    approved = (await admin("POST", "/_admin/kantata/time_entries/approve", json={"date": "2026-06-17"})).json()
    assert sorted(approved["changed"]) == sorted(added["ids"])
    again = (await admin("POST", "/_admin/kantata/time_entries/approve", json={"date": "2026-06-17"})).json()
    assert again["changed"] == []
    after = (await api.get(f"{API}/time_entries.json", params={**day, "approved": "true"})).json()
    assert after["count"] == len(added["ids"])
    rejected = await admin("POST", "/_admin/kantata/time_entries/reject", json={"ids": added["ids"][:2]})
    assert len(rejected.json()["changed"]) == 2


async def test_admin_adds_and_approves_expenses(api: httpx.AsyncClient, admin: Admin) -> None:
    added = (await admin("POST", "/_admin/kantata/expenses", json={"date": "2026-06-17", "amount": "19.90"})).json()
    await admin("POST", "/_admin/kantata/expenses/approve", json={"ids": added["ids"]})
    body = (await api.get(f"{API}/expenses.json", params={"only": ",".join(added["ids"])})).json()
    assert all(e["approved"] and e["amount_in_cents"] == 1990 for e in body["expenses"].values())


@pytest.mark.parametrize(
    ("reference", "field"),
    [
        ({"subject_type": "Workspace", "subject_id": 1, "service_name": "psflow"}, "external_reference.service_model"),
        (
            {
                "subject_type": "Galaxy",
                "subject_id": 1,
                "service_name": "a",
                "service_model": "b",
                "service_model_ref": "c",
            },
            "subject_type",
        ),
        (
            {
                "subject_type": "User",
                "subject_id": 999,
                "service_name": "a",
                "service_model": "b",
                "service_model_ref": "c",
            },
            "subject_id",
        ),
    ],
)
async def test_create_or_update_reference_validates(
    api: httpx.AsyncClient, reference: dict[str, Any], field: str
) -> None:
    response = await api.post(
        f"{API}/external_references/create_or_update.json", json={"external_reference": reference}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_create_or_update_reference_keeps_one_per_service(api: httpx.AsyncClient) -> None:
    reference = {"subject_type": "User", "subject_id": 1, "service_name": "workday", "service_model": "Worker"}
    for ref in ("W-1", "W-2"):
        await api.post(
            f"{API}/external_references/create_or_update",
            json={"external_reference": {**reference, "service_model_ref": ref}},
        )
    body = (
        await api.get(f"{API}/external_references.json", params={"subject_type": "User", "service_name": "workday"})
    ).json()
    assert [r["service_model_ref"] for r in body["external_references"].values()] == ["W-2"]
