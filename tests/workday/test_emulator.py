"""The emulator's documented errors and limits, read raw, with the connector's classification of each."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors._core import Outcome, classify
from connectors.workday import parse_workday_error
from tests.workday.conftest import ADMIN, access_token

API = "/workday/ccx/api/common/v1/psflow_demo"
ABSENCE = "/workday/ccx/api/absenceManagement/v1/psflow_demo"
REPORT = "/workday/ccx/service/customreport2/psflow_demo/ISU_psflow/psflow_Worker_Staffing"
TOKEN = "/workday/ccx/oauth2/psflow_demo/token"


async def _wid(admin: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await admin.get(f"{API}/workers", params={"limit": 1}, headers=headers)).json()["data"][0]["id"])


@pytest.mark.parametrize(
    ("path", "params", "status", "outcome", "code", "says"),
    [
        (f"{API}/workers", {"limit": 101}, 400, Outcome.BUSINESS, "invalid_parameter", "between 1 and 100"),
        (f"{API}/workers", {"limit": 0}, 400, Outcome.BUSINESS, "invalid_parameter", "between 1 and 100"),
        (f"{API}/workers", {"offset": -5}, 400, Outcome.BUSINESS, "invalid_parameter", "offset"),
        (f"{API}/workers", {"limit": "ten"}, 400, Outcome.BUSINESS, "invalid_request", "limit"),
        (f"{API}/workers/{'f' * 32}", {}, 404, Outcome.NOT_FOUND, "not_found", "no worker"),
        ("/workday/ccx/api/common/v1/acme/workers", {}, 404, Outcome.NOT_FOUND, "invalid_tenant", "'acme'"),
        (f"{ABSENCE}/workers/WID/timeOffDetails", {"fromDate": "31/01/2025"}, 400, Outcome.BUSINESS,
         "invalid_parameter", "yyyy-mm-dd"),
        (f"{ABSENCE}/workers/WID/timeOffDetails", {"fromDate": "2025-02-01", "toDate": "2025-01-01"}, 400,
         Outcome.BUSINESS, "invalid_parameter", "before fromDate"),
        (REPORT, {"format": "csv"}, 400, Outcome.BUSINESS, "invalid_parameter", "format"),
        ("/workday/ccx/service/customreport2/psflow_demo/someone/Other", {"format": "json"}, 404, Outcome.NOT_FOUND,
         "not_found", "psflow_Worker_Staffing"),
        ("/workday/ccx/api/staffing/v6/psflow_demo/jobs", {}, 404, Outcome.NOT_FOUND, "not_found", "No GET"),
    ],
)  # fmt: skip
async def test_bad_requests_get_workday_errors(
    admin: httpx.AsyncClient,
    path: str,
    params: dict[str, Any],
    status: int,
    outcome: Outcome,
    code: str,
    says: str,
) -> None:
    headers = {"Authorization": f"Bearer {await access_token(admin)}"}
    if "/WID/" in path:
        path = path.replace("/WID/", f"/{await _wid(admin, headers)}/")
    response = await admin.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "errors"} and says in body["error"]
    assert body["errors"] == [{"error": body["error"], "code": code}]
    result = classify(response, parse_error=parse_workday_error)
    assert (result.outcome, result.code) == (outcome, code)


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic cHNmbG93LWRlbW86cHNmbG93LWRlbW8tc2VjcmV0"])
async def test_missing_or_bad_bearer_is_401(admin: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await admin.get(f"{API}/workers", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert classify(response, parse_error=parse_workday_error).outcome is Outcome.AUTH


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "x"}, None, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("psflow-demo", "psflow-demo-secret"), 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, ("psflow-demo", "psflow-demo-secret"), 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x"}, ("psflow-demo", "nope"), 401, "invalid_client"),
    ],
)
async def test_token_endpoint_errors_use_the_oauth_shape(
    admin: httpx.AsyncClient, form: dict[str, str], auth: tuple[str, str] | None, status: int, error: str
) -> None:
    response = await admin.post(TOKEN, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]


async def test_token_response_and_configurable_lifetime(admin: httpx.AsyncClient) -> None:
    await admin.put(f"{ADMIN}/token-ttl", json={"seconds": 120})
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "psflow-demo-workday-refresh-token",
        "client_id": "psflow-demo",
        "client_secret": "psflow-demo-secret",
    }
    body = (await admin.post(TOKEN, data=form)).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 120 and "refresh_token" not in body


async def test_search_and_paging_totals(admin: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {await access_token(admin)}"}
    everyone = (await admin.get(f"{API}/workers", headers=headers)).json()
    assert everyone["total"] == 50 and len(everyone["data"]) == 20  # default limit
    worker = everyone["data"][0]
    found = (await admin.get(f"{API}/workers", params={"search": worker["descriptor"]}, headers=headers)).json()
    assert worker["id"] in [w["id"] for w in found["data"]] and found["total"] < 50
    assert worker["href"].endswith(f"{API}/workers/{worker['id']}")
    assert len(worker["id"]) == 32 and int(worker["id"], 16) >= 0


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"supervisory_org_id": "SO-NOPE"}, 400, "unknown supervisory organization"),
        ({"cost_center_id": "CC-NOPE"}, 400, "unknown cost center"),
        ({"employee_id": "E-1001"}, 409, "already taken"),
    ],
)
async def test_admin_hire_refuses_bad_data(
    admin: httpx.AsyncClient, body: dict[str, str], status: int, says: str
) -> None:
    hire = {
        "first_name": "Ada",
        "last_name": "Byrne",
        "email": "ada.byrne@psflow-demo.example",
        "business_title": "Analyst",
        "job_profile": "Analyst",
        "supervisory_org_id": "SO-OPS-EU",
        "location": "Dublin",
        **body,
    }
    response = await admin.post(f"{ADMIN}/workers", json=hire)
    assert response.status_code == status and says in response.text


async def test_admin_refuses_unknown_workers_and_tokens(admin: httpx.AsyncClient) -> None:
    assert (await admin.post(f"{ADMIN}/workers/{'0' * 32}/terminate")).status_code == 404
    assert (await admin.patch(f"{ADMIN}/workers/{'0' * 32}", json={"location": "Cork"})).status_code == 404
    assert (await admin.delete(f"{ADMIN}/refresh-tokens/never-issued")).status_code == 404
    assert (await admin.put(f"{ADMIN}/token-ttl", json={"seconds": 0})).status_code == 422


async def test_status_counts_the_demo_firm(admin: httpx.AsyncClient) -> None:
    counts = (await admin.get("/_admin/status")).json()["systems"]["workday"]["counts"]
    assert counts["worker"] == 50 and counts["time_off"] > 0
    assert counts["supervisory_organization"] == counts["cost_center"] == 9
