"""Fixtures: the Kantata emulator and the event sink in-process, a store, and the resource sync's activities.

No Temporal: activities run in Temporal's `ActivityEnvironment`, which records heartbeats and lets a
test hand a retry the details an earlier attempt heartbeated.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.testing import ActivityEnvironment

from activities.resources.models import HRSource
from activities.resources.psa import ResourcePsaActivities
from activities.resources.state import ResourceStateActivities
from connectors.events import EventSinkConnector, EventSinkSettings
from connectors.kantata import KantataConnector
from sandbox._db import SandboxDB
from sandbox.app import create_app
from sandbox.seed import DemoFirm, seed_all
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from sandbox.systems.kantata import SYSTEM as KANTATA
from sandbox.systems.sink import SYSTEM as SINK
from store import Store
from tests.kantata.conftest import HOST, InProcessTransport, settings_for

TODAY = date(2026, 11, 26)
"""A Thursday, pinned: the firm, the hires' dates and every "today" of these tests derive from it."""
SOURCE = HRSource(legal_entity="uk", hr_system="bamboohr")
API = "/kantata/api/v1"


class Killed(BaseException):
    """The worker process dying: nothing catches it, the activity attempt just ends."""


class Recording(InProcessTransport):
    """The emulator in-process, remembering each request as ``METHOD path?query`` (API prefix dropped).

    ``kill_after`` (a predicate on that text) makes the matching request reach the emulator and then
    kills the attempt before the answer arrives: the write is done, the caller never learns it.
    ``refuse`` (a predicate on that text and the body) answers the matching requests 422 without passing them on.
    """

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app=app)
        self.sent: list[str] = []
        self.kill_after: Callable[[str], bool] | None = None
        self.refuse: Callable[[str, bytes], bool] | None = None
        """Requests the PSA answers 422 to, as Kantata does a write breaking one of its rules."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        line = f"{request.method} {request.url.path.removeprefix(API)}"
        if request.url.query:
            line += f"?{request.url.query.decode()}"
        self.sent.append(line)
        if self.refuse is not None and self.refuse(line, await request.aread()):
            body = {"errors": [{"type": "validation", "message": "the account refuses this", "field": "email_address"}]}
            return httpx.Response(422, json=body, request=request)
        response = await super().handle_async_request(request)
        if self.kill_after is not None and self.kill_after(line):
            self.kill_after = None
            raise Killed(line)
        return response

    def writes(self) -> list[str]:
        """The requests that changed something in the PSA (anything but GET; not the token), without their query."""
        return [s.split("?")[0] for s in self.sent if not s.startswith("GET ") and "/oauth/" not in s]

    def reset(self) -> None:
        self.sent.clear()


@dataclass
class World:
    """What a test drives: the emulator app, the connectors, the store and the activities."""

    app: FastAPI
    transport: Recording
    kantata: KantataConnector
    sink: EventSinkConnector
    store: Store
    psa: ResourcePsaActivities
    state: ResourceStateActivities
    api: httpx.AsyncClient
    firm: DemoFirm
    beats: list[Any] = field(default_factory=list)

    def env(self, details: Any = None) -> ActivityEnvironment:
        """An activity environment recording heartbeats; with ``details``, a retry resuming from them."""
        env = ActivityEnvironment()
        env.on_heartbeat = lambda *beat: self.beats.append(beat[0] if beat else None)
        if details is not None:
            from dataclasses import replace

            env.info = replace(env.info, heartbeat_details=[details], attempt=2)
        return env

    @property
    def db(self) -> SandboxDB:
        db: SandboxDB = self.app.state.db
        return db


@pytest.fixture(scope="session")
def resources_firm() -> DemoFirm:
    return DemoFirm.generate(today=TODAY)


@pytest.fixture(scope="session")
def resources_template(tmp_path_factory: pytest.TempPathFactory, resources_firm: DemoFirm) -> Path:
    path = tmp_path_factory.mktemp("resources-template") / "sandbox.db"
    db = SandboxDB(path)
    seed_all(db, [KANTATA], resources_firm)
    db.close()
    return path


@pytest_asyncio.fixture
async def world(
    resources_template: Path, tmp_path: Path, store: Store, resources_firm: DemoFirm
) -> AsyncIterator[World]:
    path = tmp_path / "sandbox.db"
    shutil.copyfile(resources_template, path)
    app = create_app(path, systems=[KANTATA, SINK], faults={})
    transport = Recording(app)
    kantata = KantataConnector(settings_for(), transport=transport)
    sink = EventSinkConnector(EventSinkSettings(base_url=f"{HOST}/sink"), transport=InProcessTransport(app=app))
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"{HOST}{API}",
        headers={"Authorization": f"Bearer {DEMO_ACCESS_TOKEN}"},
    )
    yield World(
        app=app,
        transport=transport,
        kantata=kantata,
        sink=sink,
        store=store,
        psa=ResourcePsaActivities(kantata, store),
        state=ResourceStateActivities(store, sink),
        api=api,
        firm=resources_firm,
    )
    await kantata.aclose()
    await sink.aclose()
    await api.aclose()
