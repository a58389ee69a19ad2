"""The BambooHR emulator against research §4: auth, Accept, both base URLs, since, paging, errors, throttling."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox import create_app
from tests.bamboohr.conftest import ADMIN, API, AUTH, JSON


async def test_basic_auth_takes_the_api_key_as_user_and_any_password(api: httpx.AsyncClient) -> None:
    ok = await api.get(f"{API}/employees/1", headers=JSON, auth=(AUTH[0], "anything at all"))
    assert ok.status_code == 200, ok.text
    bad = await api.get(f"{API}/employees/1", headers=JSON, auth=("not-a-key", "x"))
    assert bad.status_code == 401
    assert "API key" in bad.headers["X-BambooHR-Error-Message"]
    assert (await api.get(f"{API}/employees/1", headers=JSON)).status_code == 401


async def test_json_only_with_accept_header(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{API}/employees/1", auth=AUTH)
    assert response.status_code == 406
    assert "Accept: application/json" in response.headers["X-BambooHR-Error-Message"]


async def test_legacy_gateway_form_serves_the_same_records(api: httpx.AsyncClient) -> None:
    new = await api.get(f"{API}/employees/2?fields=workEmail", headers=JSON, auth=AUTH)
    old = await api.get("/bamboohr/api/gateway.php/psflowdemo/v1/employees/2?fields=workEmail", headers=JSON, auth=AUTH)
    assert old.status_code == 200 and old.json() == new.json()
    other = await api.get("/bamboohr/api/gateway.php/acme/v1/employees/2", headers=JSON, auth=AUTH)
    assert other.status_code == 404


async def test_employee_zero_is_the_keys_own_employee_and_unknown_fields_are_null(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"{API}/employees/0?fields=firstName,noSuchField", headers=JSON, auth=AUTH)).json()
    assert body["id"] == "1" and body["firstName"] and body["noSuchField"] is None


@pytest.mark.parametrize(
    "since",
    ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+0000", "2026-01-01T01:00:00-01:00"],
)
async def test_changed_accepts_z_and_both_offset_forms(api: httpx.AsyncClient, since: str) -> None:
    response = await api.get(f"{API}/employees/changed", params={"since": since}, headers=JSON, auth=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["employees"], dict) and body["employees"]["1"]["action"] == "Inserted"
    assert body["latest"] == max(e["lastChanged"] for e in body["employees"].values())


@pytest.mark.parametrize(
    "query", ["", "?since=", "?since=2026-01-01", "?since=yesterday", "?since=2026-01-01T00:00:00"]
)
async def test_changed_refuses_a_missing_or_bad_since(api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"{API}/employees/changed{query}", headers=JSON, auth=AUTH)
    assert response.status_code == 400
    assert "since" in response.headers["X-BambooHR-Error-Message"]


async def test_an_unencoded_plus_in_since_is_a_bad_request(api: httpx.AsyncClient) -> None:
    # '+' in a raw query string decodes to a space (§4: "the + must be URL-encoded").
    response = await api.get(f"{API}/employees/changed?since=2026-01-01T00:00:00+00:00", headers=JSON, auth=AUTH)
    assert response.status_code == 400


async def test_directory_is_current_staff_and_403_when_not_shared(api: httpx.AsyncClient) -> None:
    await api.post(
        f"{API}/employees/3/tables/employmentStatus",
        json={"date": "2026-01-31", "employmentStatus": "Terminated"},
        headers=JSON,
        auth=AUTH,
    )
    current = (await api.get(f"{API}/employees/directory", headers=JSON, auth=AUTH)).json()
    everyone = (await api.get(f"{API}/employees/directory?onlyCurrent=false", headers=JSON, auth=AUTH)).json()
    assert "3" not in {e["id"] for e in current["employees"]}
    assert "3" in {e["id"] for e in everyone["employees"]}
    assert {f["id"] for f in current["fields"]} >= {"workEmail", "jobTitle"}
    await api.put(f"{ADMIN}/directory-sharing", json={"enabled": False})
    assert (await api.get(f"{API}/employees/directory", headers=JSON, auth=AUTH)).status_code == 403


async def test_employees_pages_by_cursor_through_everyone(api: httpx.AsyncClient) -> None:
    seen: list[str] = []
    params: dict[str, str] = {"page[limit]": "7"}
    pages = 0
    while True:
        body = (await api.get(f"{API}/employees", params=params, headers=JSON, auth=AUTH)).json()
        pages += 1
        seen += [e["id"] for e in body["data"]]
        if body["meta"]["nextCursor"] is None:
            break
        params["page[after]"] = body["meta"]["nextCursor"]
    assert len(seen) == len(set(seen)) == 50 and pages == 8
    bad = await api.get(f"{API}/employees", params={"page[after]": "garbage!"}, headers=JSON, auth=AUTH)
    assert bad.status_code == 400


async def test_time_off_needs_start_and_end_and_knows_superceded(api: httpx.AsyncClient) -> None:
    missing = await api.get(f"{API}/time_off/requests?start=2026-01-01", headers=JSON, auth=AUTH)
    assert missing.status_code == 400 and "end" in missing.headers["X-BambooHR-Error-Message"]
    await api.put(f"{ADMIN}/clock", json={"now": "2026-03-01T09:00:00Z"})
    first = await api.put(
        f"{API}/employees/4/time_off/request",
        json={"status": "approved", "start": "2026-04-06", "end": "2026-04-07", "timeOffTypeId": "77", "amount": "16"},
        headers=JSON,
        auth=AUTH,
    )
    assert first.status_code == 201, first.text
    second = await api.put(
        f"{API}/employees/4/time_off/request",
        json={
            "status": "approved",
            "start": "2026-04-06",
            "end": "2026-04-08",
            "timeOffTypeId": "77",
            "dates": [{"ymd": "2026-04-06", "amount": "8"}, {"ymd": "2026-04-08", "amount": "4"}],
            "previousRequest": first.json()["id"],
        },
        headers=JSON,
        auth=AUTH,
    )
    assert second.json()["dates"] == {"2026-04-06": "8", "2026-04-08": "4"}
    listed = await api.get(
        f"{API}/time_off/requests",
        params={"start": "2026-04-07", "end": "2026-04-07", "employeeId": "4", "status": "superceded"},
        headers=JSON,
        auth=AUTH,
    )
    assert [r["id"] for r in listed.json()] == [first.json()["id"]]


async def test_approved_time_off_cancels_only_before_it_starts(api: httpx.AsyncClient) -> None:
    await api.put(f"{ADMIN}/clock", json={"now": "2026-03-01T09:00:00Z"})
    body = {"status": "approved", "start": "2026-03-02", "end": "2026-03-02", "timeOffTypeId": "77"}
    created = (await api.put(f"{API}/employees/5/time_off/request", json=body, headers=JSON, auth=AUTH)).json()
    await api.put(f"{ADMIN}/clock", json={"now": "2026-03-02T09:00:00Z"})
    late = await api.put(
        f"{API}/time_off/requests/{created['id']}/status", json={"status": "canceled"}, headers=JSON, auth=AUTH
    )
    assert late.status_code == 400 and "no longer be cancelled" in late.headers["X-BambooHR-Error-Message"]


@pytest.mark.parametrize(("mode", "status"), [("2026", 429), ("legacy", 503)])
async def test_throttle_modes(api: httpx.AsyncClient, mode: str, status: int) -> None:
    await api.put(f"{ADMIN}/throttle", json={"mode": mode, "limit": 1, "window_s": 60})
    assert (await api.get(f"{API}/employees/1", headers=JSON, auth=AUTH)).status_code == 200
    limited = await api.get(f"{API}/employees/1", headers=JSON, auth=AUTH)
    assert limited.status_code == status
    if mode == "2026":
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
    else:
        assert "Retry-After" not in limited.headers


async def test_sandbox_status_lists_bamboohr_with_its_counts(tmp_path: Path) -> None:
    # `psflow sandbox status` prints this listing.
    app = create_app(tmp_path / "all.db", seed="demo")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        listed = (await client.get("/_admin/status")).json()["systems"]["bamboohr"]
    assert listed["base_url"].endswith("/bamboohr/api/v1")
    assert listed["counts"]["employee"] == 50 and listed["counts"]["time_off_request"] > 0


async def test_whos_out_mixes_time_off_and_holidays(api: httpx.AsyncClient) -> None:
    await api.put(f"{ADMIN}/clock", json={"now": "2026-12-20T09:00:00Z"})
    body = {"status": "approved", "start": "2026-12-23", "end": "2026-12-24", "timeOffTypeId": "77"}
    await api.put(f"{API}/employees/6/time_off/request", json=body, headers=JSON, auth=AUTH)
    entries = (await api.get(f"{API}/time_off/whos_out", headers=JSON, auth=AUTH)).json()
    holidays = [e for e in entries if e["type"] == "holiday"]
    assert holidays and all("employeeId" not in e for e in holidays)
    assert any(e["type"] == "timeOff" and e["employeeId"] == "6" and e["start"] == "2026-12-23" for e in entries)
    assert all(e["start"] <= "2027-01-03" and e["end"] >= "2026-12-20" for e in entries)
