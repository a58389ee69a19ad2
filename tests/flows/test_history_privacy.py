"""Histories on the Temporal server hold no client data in plain text; the codec server shows it to token holders.

A provisioning, a posting and an invoice run on the session's dev server; the cached Temporal CLI reads
each history (``temporal workflow show``) as anyone with access to the server would. Then the same
histories are decoded through a running ``psflow codec-server`` whose key ring has rotated since the
runs (a new key encrypts; the runs' key still decrypts), with and without its bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

import worker
from stack.codec import new_key_text
from stack.local.temporal_cli import ensure_temporal_cli
from stack.settings import Settings
from tests.conftest import TEST_KEY, TEST_KEY_ID, _free_port
from tests.flows._kantata import Kantata
from tests.flows.conftest import BILLABLE_ACCOUNT, MakeDeal
from tests.flows.test_invoicing import WEEKEND_BEFORE, invoice_run, new_project
from tests.flows.test_posting import post
from tests.flows.test_provisioning import provision
from workflows import post_time_expenses
from workflows import search_attributes as sa

TOKEN = "operators-only-" + uuid.uuid4().hex
UI_ORIGIN = "http://localhost:8233"
RATE = "173.47"
MINUTES = 7 * 60
AMOUNT = "1214.29"  # 7 h at 173.47, rounded once


def _strings(value: Any) -> Iterator[str]:
    """Every string in the CLI's JSON, and the text of each that is base64 (payload data and metadata)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value
        with contextlib.suppress(binascii.Error, ValueError):
            yield base64.b64decode(value, validate=True).decode("utf-8", "replace")


def show(address: str, workflow_id: str, *codec: str) -> str:
    """``temporal workflow show -o json`` of a workflow, all its strings joined (payloads decoded from base64)."""
    cli = ensure_temporal_cli()
    args = [str(cli), "workflow", "show", "--address", address, "-w", workflow_id, "-o", "json", *codec]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return "\n".join(_strings(json.loads(done.stdout)))


@pytest.fixture
def codec_server(tmp_path: Path) -> Iterator[str]:
    """``psflow codec-server`` as a process, its key ring rotated: a new key ``rotated-2`` encrypts, the runs'
    key (the test run's) still decrypts."""
    port = _free_port()
    keys = {TEST_KEY_ID: TEST_KEY, "rotated-2": new_key_text()}
    env = {
        **os.environ,
        "PSFLOW_ENCRYPTION_KEYS": json.dumps(keys),
        "PSFLOW_ENCRYPTION_KEY_ID": "rotated-2",
        "PSFLOW_CODEC_SERVER_TOKEN": TOKEN,
        "PSFLOW_DATA_DIR": str(tmp_path / "codec-data"),
    }
    psflow = Path(sys.executable).parent / "psflow"
    log = (tmp_path / "codec-server.log").open("w")
    process = subprocess.Popen([str(psflow), "codec-server", "--port", str(port)], env=env, stderr=log, stdout=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{url}/decode", content=b"{}", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, (tmp_path / "codec-server.log").read_text()
                assert time.monotonic() < deadline, "the codec server did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


async def test_histories_hold_no_client_data_in_plain_text_and_the_codec_server_decodes_them_for_token_holders(
    temporal_client: Client,
    flow_settings: Settings,
    make_deal: MakeDeal,
    connectors: Any,
    kantata: Kantata,
    codec_server: str,
) -> None:
    unique = uuid.uuid4().hex[:8]
    client_name = f"Privacy Check {unique}"
    email = f"billing-{unique}@privacy-check.example"
    account = {**BILLABLE_ACCOUNT, "BillingStreet": f"{unique} Harbour Lane", "Description": email}
    deal = await make_deal(client_name, account=account)

    day = WEEKEND_BEFORE[0]
    project_id, workspace = await new_project(connectors, kantata, f"privacy-{unique}")
    user = await kantata.participant(str(await connectors.kantata.find_project_by_external_id("PRJ-0001")))
    await kantata.time(day, workspace, user, MINUTES, int(Decimal(RATE) * 100), "Privacy check")
    await kantata.approve(day)

    async with worker.running_workers(temporal_client, flow_settings):
        provisioning = await provision(temporal_client, flow_settings, "salesforce", deal)
        provisioned = await provisioning.result()
        posting = await post(temporal_client, flow_settings, day)
        posting_id = post_time_expenses.workflow_id(day, prefix=flow_settings.task_queue_prefix)
        invoice, _ = await invoice_run(temporal_client, flow_settings, project_id)
        invoiced = await invoice.result()
    assert provisioned.client == f"{client_name} Ltd" and posting.posted >= 1
    assert invoiced.totals == {"USD": Decimal(AMOUNT)}

    address = flow_settings.temporal.address
    # Per run: what must not be plain text, and what its decoded history shows (the posting's history holds
    # counts only; its rates and amounts stay in the activities, so the decoded check is its counts).
    private = [client_name, f"{unique} Harbour Lane", "Net 30", email, RATE, AMOUNT, "Privacy check"]
    runs = {
        "provisioning": (provisioning.id, [client_name, f"{unique} Harbour Lane", "Net 30"]),
        "posting": (posting_id, ['"posted":1']),
        "invoice": (invoice.id, [AMOUNT, '"hours":"7.00"']),
    }
    for flow, (workflow_id, shown) in runs.items():
        plain = await asyncio.to_thread(show, address, workflow_id)
        leaked = [secret for secret in private + shown if secret in plain]
        assert not leaked, f"{flow} history {workflow_id} holds {leaked} in plain text"
        assert "binary/encrypted" in plain

        auth = ("--codec-endpoint", codec_server, "--codec-auth", f"Bearer {TOKEN}")
        decoded = await asyncio.to_thread(show, address, workflow_id, *auth)
        missing = [secret for secret in shown if secret not in decoded]
        assert not missing, f"{flow} history {workflow_id} decoded through the codec server lacks {missing}"

    # No token, or a wrong one: no decode at all.
    encrypted = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"binary/encrypted").decode()}}]}
    async with httpx.AsyncClient(base_url=codec_server, timeout=10) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = await http.post("/decode", json=encrypted, headers=headers)
            assert answer.status_code == 401, (headers, answer.text)
    refused = await asyncio.to_thread(
        subprocess.run,
        [str(ensure_temporal_cli()), "workflow", "show", "--address", address, "-w", runs["provisioning"][0],
         "--codec-endpoint", codec_server],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and client_name not in refused.stdout


async def test_the_clients_name_is_a_search_attribute_only_when_the_settings_allow_it(
    temporal_client: Client, flow_settings: Settings, make_deal: MakeDeal
) -> None:
    unique = uuid.uuid4().hex[:8]
    hidden = await make_deal(f"Hidden {unique}", account=BILLABLE_ACCOUNT)
    shown = await make_deal(f"Shown {unique}", account=BILLABLE_ACCOUNT)
    allowed = flow_settings.model_copy(update={"visibility_client_names": True})
    async with worker.running_workers(temporal_client, flow_settings):
        hidden_run = await provision(temporal_client, flow_settings, "salesforce", hidden)
        shown_run = await provision(temporal_client, allowed, "salesforce", shown)
        await hidden_run.result()
        await shown_run.result()
    hidden_attributes = (await hidden_run.describe()).typed_search_attributes
    shown_attributes = (await shown_run.describe()).typed_search_attributes
    assert hidden_attributes.get(sa.CLIENT) is None and hidden_attributes.get(sa.FLOW_STATE) == "provisioned"
    assert shown_attributes.get(sa.CLIENT) == f"Shown {unique} Ltd"
