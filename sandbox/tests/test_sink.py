from __future__ import annotations

import httpx

STRUCTURED = {"content-type": "application/cloudevents+json"}


def _event(id_: str, **extra: object) -> dict[str, object]:
    return {"specversion": "1.0", "id": id_, "source": "/psflow/workflows", "type": "project.activated", **extra}


async def test_structured_and_binary_modes_are_stored(client: httpx.AsyncClient) -> None:
    structured = _event("e-1", subject="PRJ-0001", data={"project": "PRJ-0001"})
    r1 = await client.post("/sink/events", json=structured, headers=STRUCTURED)
    r2 = await client.post(
        "/sink/events",
        json={"invoice": "INV-7", "amount": 1250.5},
        headers={
            "ce-specversion": "1.0",
            "ce-id": "e-2",
            "ce-source": "/psflow/workflows",
            "ce-type": "invoice.posted",
            "ce-subject": "INV%207",
            "ce-tenant": "demo",
        },
    )
    r3 = await client.post(
        "/sink/events",
        content=b"\x00\x01",
        headers={
            "ce-specversion": "1.0",
            "ce-id": "e-3",
            "ce-source": "/x",
            "ce-type": "blob",
            "content-type": "application/octet-stream",
        },
    )

    assert [r.status_code for r in (r1, r2, r3)] == [202, 202, 202]
    listed = (await client.get("/sink/events")).json()
    assert listed["total"] == 3
    first, second, third = listed["events"]
    assert first == structured
    assert second == {
        "specversion": "1.0",
        "id": "e-2",
        "source": "/psflow/workflows",
        "type": "invoice.posted",
        "subject": "INV 7",
        "tenant": "demo",
        "datacontenttype": "application/json",
        "data": {"invoice": "INV-7", "amount": 1250.5},
    }
    assert third["data_base64"] == "AAE="


async def test_batch_mode_and_dedupe_by_source_and_id(client: httpx.AsyncClient) -> None:
    batch = [_event("a"), _event("b"), _event("a"), _event("a", source="/other")]
    response = await client.post(
        "/sink/events", json=batch, headers={"content-type": "application/cloudevents-batch+json"}
    )
    again = await client.post("/sink/events", json=_event("b"), headers=STRUCTURED)

    assert (response.status_code, response.json()) == (202, {"accepted": 3, "duplicates": 1})
    assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicates": 1})
    assert (await client.get("/sink/events")).json()["total"] == 3


async def test_filters_and_paging(client: httpx.AsyncClient) -> None:
    for i in range(5):
        kind = "invoice.posted" if i % 2 else "project.activated"
        await client.post("/sink/events", json=_event(f"e{i}", type=kind, subject=f"S{i % 2}"), headers=STRUCTURED)

    by_type = (await client.get("/sink/events", params={"type": "invoice.posted"})).json()
    page = (await client.get("/sink/events", params={"limit": 2, "offset": 1})).json()
    by_subject = (await client.get("/sink/events", params={"subject": "S0", "source": "/psflow/workflows"})).json()

    assert [e["id"] for e in by_type["events"]] == ["e1", "e3"]
    assert (page["total"], [e["id"] for e in page["events"]]) == (5, ["e1", "e2"])
    assert [e["id"] for e in by_subject["events"]] == ["e0", "e2", "e4"]


async def test_bad_events_get_a_clear_400(client: httpx.AsyncClient) -> None:
    missing = await client.post("/sink/events", json={"id": "1", "specversion": "1.0"}, headers=STRUCTURED)
    wrong_version = await client.post("/sink/events", json=_event("1", specversion="0.3"), headers=STRUCTURED)
    not_json = await client.post("/sink/events", content=b"{nope", headers=STRUCTURED)
    no_headers = await client.post("/sink/events", json={"hello": "world"})
    not_a_list = await client.post(
        "/sink/events", json=_event("1"), headers={"content-type": "application/cloudevents-batch+json"}
    )

    for response in (missing, wrong_version, not_json, no_headers, not_a_list):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
    assert "source, type" in missing.json()["error"]["message"]
    assert "'0.3'" in wrong_version.json()["error"]["message"]
    assert "ce-id" in no_headers.json()["error"]["message"]
    assert (await client.get("/sink/events")).json()["total"] == 0


async def test_powerbi_push_rows(client: httpx.AsyncClient) -> None:
    path = "/sink/powerbi/datasets/ds-1/tables/Invoices/rows"
    pushed = await client.post(path, json={"rows": [{"invoice": "INV-1", "amount": 10}, {"invoice": "INV-2"}]})
    await client.post("/sink/powerbi/datasets/ds-1/tables/Other/rows", json={"rows": [{"x": 1}]})
    bad = await client.post(path, json=[{"invoice": "INV-3"}])

    assert pushed.status_code == 200
    assert bad.status_code == 400 and "rows" in bad.json()["error"]["message"]
    assert (await client.get(path)).json() == {
        "total": 2,
        "rows": [{"invoice": "INV-1", "amount": 10}, {"invoice": "INV-2"}],
    }
    assert (await client.delete(path)).status_code == 200
    assert (await client.get(path)).json() == {"total": 0, "rows": []}
    status = (await client.get("/_admin/status")).json()
    assert status["systems"]["sink"]["counts"] == {"event": 0, "powerbi_row": 1}


async def test_admin_forgets_events(client: httpx.AsyncClient) -> None:
    await client.post("/sink/events", json=_event("x"), headers=STRUCTURED)
    assert (await client.delete("/_admin/sink/events")).json() == {"deleted": 1}
    assert (await client.get("/sink/events")).json()["total"] == 0
