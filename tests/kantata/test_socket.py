"""The connector against the emulator served by uvicorn on a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn

from canonical import Money, Project
from connectors.kantata import KantataConnector
from tests.kantata.conftest import build_app, settings_for


@pytest.fixture
def served(seeded_db: Path, tmp_path: Path) -> Iterator[str]:
    """The seeded emulator on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_app(seeded_db, tmp_path / "served.db"), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


async def test_pages_and_idempotent_create_over_a_socket(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as admin:
        fault = {"commit_then_fail": 1.0, "commit_then_fail_mode": "drop", "path_regex": "/workspaces", "times": 1}
        (await admin.put("/_admin/faults/kantata", json=fault)).raise_for_status()
        project = Project(
            id="hubspot:deal-77",
            code="PRJ-0777",
            name="Socket test",
            customer_id="C-0002",
            budget=Money.of("1000.00", "EUR"),
            start_date=date(2026, 7, 1),
            end_date=date(2026, 8, 1),
        )
        async with KantataConnector(settings_for(served, page_size=100)) as kantata:
            page = await kantata.time_entries_page(approved=True, cursor=None)
            assert len(page.items) == 100 and page.next_cursor == "2"
            workspace_id = await kantata.create_project(project, customer_name="Socket Client")
            assert await kantata.create_project(project, customer_name="Socket Client") == workspace_id
        counters = (await admin.get("/_admin/faults")).json()["counters"]["kantata"]
        assert counters["commit_then_fail"] == 1
        params = {"subject_type": "Workspace", "service_model_ref": project.id}
        headers = {"Authorization": "Bearer psflow-demo-kantata-token"}
        refs = await admin.get("/kantata/api/v1/external_references.json", params=params, headers=headers)
        assert refs.json()["count"] == 1
