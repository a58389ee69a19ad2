from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from sandbox import SandboxSystem, system_error
from sandbox._db import SandboxDB
from sandbox.app import discover_systems
from sandbox.seed import SEED_MARKER, SEED_VERSION

from .conftest import asgi_client, fake_error_body, make_app, make_fake

TODAY = date(2025, 3, 14)


def test_discovery_finds_every_system_module_sorted() -> None:
    systems = discover_systems()
    names = [s.name for s in systems]
    assert "sink" in names
    assert names == sorted(names)


async def test_status_reports_base_urls_and_counts(tmp_path: Path) -> None:
    app = make_app(tmp_path / "s.db", public_url="http://sandbox.test:9000/")
    async with asgi_client(app) as client:
        status = (await client.get("/_admin/status")).json()

    assert status["db"] == str(tmp_path / "s.db")
    assert status["systems"]["fake"] == {"base_url": "http://sandbox.test:9000/fake/api/v1", "counts": {"item": 0}}
    assert status["systems"]["sink"]["base_url"] == "http://sandbox.test:9000/sink"
    assert app.state.public_url == "http://sandbox.test:9000"


async def test_errors_are_rendered_in_the_owning_systems_shape(client: httpx.AsyncClient) -> None:
    raised = await client.get("/fake/teapot")
    unknown = await client.get("/fake/no/such/path")
    invalid = await client.post("/fake/refresh")  # missing required query parameter
    wrong_method = await client.delete("/fake/items")
    admin_unknown = await client.get("/_admin/nope")

    assert raised.status_code == 418
    assert raised.json() == [{"errorCode": "TEAPOT", "message": "short and stout", "status": 418}]
    assert (raised.headers["x-extra"], raised.headers["x-fake-error"]) == ("1", "TEAPOT")
    assert unknown.status_code == 404
    assert unknown.json()[0]["errorCode"] == "not_found"
    assert "/fake/no/such/path" in unknown.json()[0]["message"]
    assert invalid.status_code == 400
    assert invalid.json()[0]["errorCode"] == "invalid_request"
    assert "refresh_token" in invalid.json()[0]["message"]
    assert (wrong_method.status_code, wrong_method.json()[0]["errorCode"]) == (405, "method_not_allowed")
    assert admin_unknown.status_code == 404 and admin_unknown.json() == {"detail": "Not Found"}


def test_system_error_helper_uses_the_registered_error_body(tmp_path: Path) -> None:
    make_app(tmp_path / "s.db")
    response = system_error("fake", 403, "NO_ACCESS", "not for you", {"X-Why": "profile"})
    assert response.status_code == 403
    assert response.body == b'[{"errorCode":"NO_ACCESS","message":"not for you","status":403}]'
    assert (response.headers["x-fake-error"], response.headers["x-why"]) == ("NO_ACCESS", "profile")
    assert system_error("unknown", 400, "bad", "x").body == b'{"error":{"code":"bad","message":"x"}}'


async def test_restart_on_the_same_file_keeps_data(tmp_path: Path) -> None:
    async with asgi_client(make_app(tmp_path / "s.db")) as client:
        token = (await client.post("/fake/token")).json()["access_token"]
        created = await client.post("/fake/items", json={"ref": "A"}, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201

    async with asgi_client(make_app(tmp_path / "s.db")) as client:
        assert (await client.get(f"/fake/items/{created.json()['id']}")).json() == created.json()
        # Tokens live in the DB too.
        again = await client.post("/fake/items", json={"ref": "B"}, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 201
        assert again.json()["id"] == "2"


async def test_demo_seed_runs_once_and_survives_restart(tmp_path: Path) -> None:
    first = make_app(tmp_path / "s.db", seed="demo", today=TODAY)
    async with asgi_client(first) as client:
        status = (await client.get("/_admin/status")).json()
        items = (await client.get("/fake/items")).json()
    assert status["systems"]["fake"]["counts"] == {"item": 36}
    assert status["seed"] == {"name": "demo", "seed": 42, "today": "2025-03-14", "version": SEED_VERSION}

    second = make_app(tmp_path / "s.db", seed="demo", today=date(2030, 1, 1))
    async with asgi_client(second) as client:
        assert (await client.get("/fake/items")).json() == items
        assert (await client.get("/_admin/status")).json()["seed"]["today"] == "2025-03-14"

    other_file = make_app(tmp_path / "other.db", seed="demo", today=TODAY)
    async with asgi_client(other_file) as client:
        assert (await client.get("/fake/items")).json() == items  # deterministic


def test_a_db_seeded_by_an_older_sandbox_is_refused_with_what_to_do(tmp_path: Path) -> None:
    db = SandboxDB(tmp_path / "old.db")
    db.kv_set(*SEED_MARKER, {"name": "demo", "seed": 42, "today": "2025-03-14"})  # written before versions
    with pytest.raises(
        ValueError, match=r"older sandbox seeded it \(version 1, this one seeds version \d+\).*make clean"
    ):
        make_app(tmp_path / "old.db", seed="demo", today=TODAY)


async def test_reset_wipes_and_optionally_reseeds(client: httpx.AsyncClient) -> None:
    await client.post(
        "/sink/events",
        json={"hello": 1},
        headers={"ce-id": "1", "ce-source": "s", "ce-specversion": "1.0", "ce-type": "t"},
    )

    reseeded = (await client.post("/_admin/reset", params={"seed": "demo", "today": "2025-03-14"})).json()
    assert reseeded["systems"]["fake"]["counts"] == {"item": 36}
    assert reseeded["systems"]["sink"]["counts"] == {"event": 0, "powerbi_row": 0}

    wiped = (await client.post("/_admin/reset")).json()
    assert wiped["systems"]["fake"]["counts"] == {"item": 0}
    assert wiped["seed"] is None
    assert (await client.post("/_admin/reset", params={"seed": "huge"})).status_code == 400


def test_create_app_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown seed"):
        make_app(tmp_path / "a.db", seed="full")
    with pytest.raises(ValueError, match="taken"):
        make_app(tmp_path / "b.db", systems=[make_fake(), make_fake()])
    reserved = SandboxSystem(name="faults", router=APIRouter(), error_body=fake_error_body)
    with pytest.raises(ValueError, match="reserved"):
        make_app(tmp_path / "c.db", systems=[reserved])
    with pytest.raises(ValueError, match="lowercase"):
        SandboxSystem(name="Bad Name", router=APIRouter(), error_body=fake_error_body)
