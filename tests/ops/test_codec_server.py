"""The codec server's HTTP contract (research note temporal-round2 §5.2): proto3 JSON of Payloads in and out,
CORS preflight on both routes for the Web UI's origin, and nothing decoded without the bearer token."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from stack.codec import EncryptionCodec, KeyRing, new_key_text
from stack.codec_server import create_app, token
from stack.settings import Settings, TemporalSettings

TOKEN = "test-token-0123456789"
UI = "http://localhost:8233"
OLD, NEW = new_key_text(), new_key_text()


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def payloads(text: str) -> list[Payload]:
    parsed = Payloads()
    json_format.Parse(text, parsed)
    return list(parsed.payloads)


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"client":"Acme Ltd","rate":"150.00"}')


@pytest_asyncio.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a rotated ring: ``new`` encrypts, ``old`` still decrypts."""
    settings = Settings(data_dir=tmp_path, temporal=TemporalSettings(ui_url=UI))
    app = create_app(settings, EncryptionCodec(KeyRing.of({"old": OLD, "new": NEW}, "new")), TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "X-Namespace": "default"}


async def test_encode_then_decode_round_trips_and_a_payload_under_the_old_key_decodes(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/encode", content=body(PLAIN, PLAIN), headers=AUTH)
    assert encoded.status_code == 200
    sealed = payloads(encoded.text)
    assert [p.metadata["encryption-key-id"] for p in sealed] == [b"new", b"new"]
    assert b"Acme" not in encoded.content and b"QWNtZ" not in encoded.content
    [under_old] = await EncryptionCodec(KeyRing.of({"old": OLD})).encode([PLAIN])
    decoded = await http.post("/decode", content=body(*sealed, under_old), headers=AUTH)
    assert decoded.status_code == 200 and payloads(decoded.text) == [PLAIN] * 3


async def test_no_token_or_a_wrong_one_decodes_nothing(http: httpx.AsyncClient) -> None:
    [sealed] = await EncryptionCodec(KeyRing.of({"old": OLD})).encode([PLAIN])
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        for route in ("/decode", "/encode"):
            answer = await http.post(route, content=body(sealed), headers=headers)
            assert answer.status_code == 401 and "Acme" not in answer.text, (route, headers)
    assert (await http.post("/t/nope/decode", content=body(sealed))).status_code == 401
    assert (await http.post(f"/t/{TOKEN}/decode", content=body(sealed))).status_code == 200


@pytest.mark.parametrize("route", ["/encode", "/decode", f"/t/{TOKEN}/decode"])
async def test_the_web_uis_preflight_is_allowed_for_its_origin_only(http: httpx.AsyncClient, route: str) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await http.options(route, headers={"Origin": UI, **ask})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    assert (await http.options(route, headers={"Origin": "http://evil.example", **ask})).status_code == 400


async def test_a_body_that_is_not_payloads_json_is_a_400(http: httpx.AsyncClient) -> None:
    assert (await http.post("/decode", content=b"not json", headers=AUTH)).status_code == 400
    garbled = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"binary/encrypted").decode()}}]}
    answer = await http.post("/decode", content=json.dumps(garbled), headers=AUTH)
    assert answer.status_code == 400 and "key" in answer.json()["detail"]


def test_the_local_token_is_generated_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = token(settings)
    assert len(first) >= 32 and token(settings) == first
    assert stat.S_IMODE((tmp_path / "codec-server.token").stat().st_mode) == 0o600
