"""The normalized envelope, side-loaded (``include``d) records, and Kantata's error bodies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors._core import (
    AuthError,
    BusinessError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from connectors.kantata import KantataConnector, parse_error
from connectors.kantata.models import Envelope, RawStory, RawUser
from tests.kantata.conftest import settings_for

# Shaped like the reference's example: a story whose sub-story is side-loaded into the same
# "stories" map, and users included for both.
STORIES_WITH_INCLUDES: dict[str, Any] = {
    "count": 2,
    "meta": {"count": 2, "page_count": 1, "page_number": 1, "page_size": 20},
    "results": [{"key": "stories", "id": "12"}, {"key": "stories", "id": "10"}],
    "stories": {
        "10": {"id": "10", "workspace_id": "3", "title": "Design", "sub_story_ids": ["11"]},
        "11": {"id": "11", "workspace_id": "3", "title": "Design review (sub-task)"},
        "12": {"id": 12, "workspace_id": 3, "title": "Build", "story_type": "milestone"},
    },
    "users": {"5": {"id": "5", "full_name": "Mei Müller", "email_address": "mei@example.com"}},
}


def test_primary_records_follow_results_order_and_skip_side_loaded_ones() -> None:
    envelope = Envelope.model_validate(STORIES_WITH_INCLUDES)
    primary = envelope.primary("stories", RawStory)
    assert [s.id for s in primary] == ["12", "10"]
    assert primary[0].workspace_id == "3" and primary[0].story_type == "milestone"


def test_side_loaded_records_are_reachable_by_id_including_same_type_ones() -> None:
    envelope = Envelope.model_validate(STORIES_WITH_INCLUDES)
    assert set(envelope.side_loaded("stories", RawStory)) == {"10", "11", "12"}
    assert envelope.side_loaded("users", RawUser)["5"].full_name == "Mei Müller"
    assert envelope.side_loaded("workspaces", RawStory) == {}
    assert envelope.meta.page_count == 1 and envelope.count == 2


def test_an_empty_listing_parses() -> None:
    envelope = Envelope.model_validate({"count": 0, "meta": {"count": 0, "page_count": 0}, "results": []})
    assert envelope.primary("time_entries", RawStory) == []


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", "https://api.mavenlink.com/api/v1/workspaces.json")
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {
                "errors": [
                    {"type": "validation", "message": "Please give your project a title", "field": "title"},
                    {"type": "validation", "message": "Please select a role for this project", "field": "creator_role"},
                ]
            },
            "validation",
            "title: Please give your project a title; creator_role: Please select a role for this project",
        ),
        ({"errors": [{"type": "oauth", "message": "Invalid OAuth 2 Request"}]}, "oauth", "Invalid OAuth 2 Request"),
        ({"errors": [{"type": "system", "message": "Not found"}]}, "system", "Not found"),
        ({"error": "invalid_client", "error_description": "unknown client"}, "invalid_client", "unknown client"),
        ("<html>Bad Gateway</html>", None, "<html>Bad Gateway</html>"),
    ],
)
def test_error_bodies_are_read(body: Any, code: str | None, message: str) -> None:
    assert parse_error(_response(422, body)) == (code, message)


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (400, "system", BusinessError),
        (401, "oauth", AuthError),
        (403, "system", AuthError),
        (404, "system", NotFoundError),
        (422, "validation", BusinessError),
        (429, "system", RateLimitedError),
        (503, "system", TransientError),
        (504, "system", TransientError),
    ],
)
async def test_each_documented_status_is_classified(
    status: int, error_type: str, expected: type[ConnectorError]
) -> None:
    """Kantata's statuses in its own error shape; 429 arrives without any rate-limit header."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"errors": [{"type": error_type, "message": f"HTTP {status}"}]})

    settings = settings_for("https://api.mavenlink.test", access_token="static", retry_attempts=1)
    async with KantataConnector(settings, transport=httpx.MockTransport(answer)) as connector:
        with pytest.raises(expected) as caught:
            await connector.find_project_by_external_id("P-1")
    error = caught.value
    assert (error.status, error.code, error.message) == (status, error_type, f"HTTP {status}")
    assert error.retry_after is None
