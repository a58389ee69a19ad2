"""`HubSpotApi`: the raw CRM endpoints the connector uses (v3 objects and pipelines, v4 associations).

It sends through the connector's client and handles 429s; `HubSpotConnector` owns the client and
builds the canonical methods on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from connectors._core import OAuth2RefreshToken, RestClient, StaticBearerAuth
from connectors.hubspot.errors import rate_limited_error
from connectors.hubspot.models import (
    AssociationBatch,
    AssociationPage,
    AssociationTypeList,
    BatchResult,
    CrmObject,
    ObjectPage,
    PipelineList,
)
from connectors.hubspot.settings import HubSpotSettings

__all__ = ["ASSOCIATION_PAGE", "BATCH_LIMIT", "HubSpotApi", "auth_of", "rate_limits"]

BATCH_LIMIT = 100
"""Inputs HubSpot accepts in one batch call."""
ASSOCIATION_PAGE = 500
"""Associations per page of a v4 listing (HubSpot's maximum)."""

# Our clock starts a window when a request leaves; HubSpot's when it arrives. A little slack
# keeps a request that travelled faster than the one before it from landing in a full window.
_WINDOW_SLACK_S = 0.1


def rate_limits(settings: HubSpotSettings) -> dict[str, Any]:
    """The account's rolling window, as limits on the connector's rate budget."""
    return {"window": (settings.rate_limit_max, settings.rate_limit_interval_s + _WINDOW_SLACK_S)}


def auth_of(settings: HubSpotSettings) -> httpx.Auth:
    """OAuth 2.0 (refresh-token grant) when the settings hold a refresh token, else the private-app token."""
    if settings.refresh_token is not None:
        return OAuth2RefreshToken(
            settings.oauth_token_url, settings.client_id, settings.client_secret, settings.refresh_token
        )
    assert settings.private_app_token is not None  # the settings validator guarantees one of the two
    return StaticBearerAuth(settings.private_app_token)


class HubSpotApi:
    """HubSpot CRM v3 endpoints over the connector's `RestClient`.

    Every call draws from one process-wide `RateBudget` shaped like the account's rolling
    window (see `rate_limits`), so concurrent flows stay under HubSpot's limit instead of meeting
    429s; a 429 that happens anyway (other apps share the account's limit) pauses the whole budget.

    Args:
        client: The connector's client.
    """

    def __init__(self, client: RestClient) -> None:
        self._client = client

    async def read(
        self,
        object_type: str,
        record_id: str,
        properties: Sequence[str],
        *,
        associations: Sequence[str] = (),
        id_property: str | None = None,
    ) -> CrmObject:
        """``GET /crm/v3/objects/{type}/{id}``, by HubSpot id or by a unique property's value."""
        params = {"properties": ",".join(properties)}
        if associations:
            params["associations"] = ",".join(associations)
        if id_property:
            params["idProperty"] = id_property
        path = f"/crm/v3/objects/{object_type}/{quote(record_id, safe=':')}"
        return CrmObject.model_validate(await self._json("GET", path, params))

    async def update(self, object_type: str, record_id: str, properties: Mapping[str, str]) -> CrmObject:
        """``PATCH /crm/v3/objects/{type}/{id}``; setting values is safe to repeat."""
        body = {"properties": dict(properties)}
        path = f"/crm/v3/objects/{object_type}/{quote(record_id, safe=':')}"
        raw = await self._json("PATCH", path, json=body, idempotent=True)
        return CrmObject.model_validate(raw)

    async def list_page(
        self, object_type: str, properties: Sequence[str], *, limit: int, after: str | None = None
    ) -> ObjectPage:
        """``GET /crm/v3/objects/{type}``: one page, oldest first."""
        params: dict[str, Any] = {"limit": limit, "properties": ",".join(properties)}
        if after is not None:
            params["after"] = after
        return ObjectPage.model_validate(await self._json("GET", f"/crm/v3/objects/{object_type}", params))

    async def search_page(self, object_type: str, body: Mapping[str, Any]) -> ObjectPage:
        """``POST /crm/v3/objects/{type}/search``: one page of matches (read-only, so retried freely)."""
        raw = await self._json("POST", f"/crm/v3/objects/{object_type}/search", json=dict(body), idempotent=True)
        return ObjectPage.model_validate(raw)

    async def batch(self, object_type: str, action: str, body: Mapping[str, Any]) -> BatchResult:
        """``POST /crm/v3/objects/{type}/batch/{action}`` for ``read``, ``update`` or ``upsert``.

        All three are safe to repeat (reads, and writes of values keyed by id or unique property),
        so a call whose answer was lost is retried without creating duplicates. A 207 answer is
        returned, not raised: its ``errors`` name the refused inputs.
        """
        raw = await self._json(
            "POST", f"/crm/v3/objects/{object_type}/batch/{action}", json=dict(body), idempotent=True
        )
        return BatchResult.model_validate(raw)

    async def pipelines(self, object_type: str) -> PipelineList:
        """``GET /crm/v3/pipelines/{type}``: every pipeline with its stages (HubSpot does not page it)."""
        return PipelineList.model_validate(await self._json("GET", f"/crm/v3/pipelines/{object_type}"))

    async def association_types(self, from_type: str, to_type: str) -> AssociationTypeList:
        """``GET /crm/v4/associations/{from}/{to}/labels``: every association type, labels included."""
        raw = await self._json("GET", f"/crm/v4/associations/{from_type}/{to_type}/labels")
        return AssociationTypeList.model_validate(raw)

    async def associations_page(
        self, from_type: str, record_id: str, to_type: str, *, after: str | None = None
    ) -> AssociationPage:
        """``GET /crm/v4/objects/{from}/{id}/associations/{to}``: one page (up to 500) with their types."""
        params: dict[str, Any] = {"limit": ASSOCIATION_PAGE}
        if after is not None:
            params["after"] = after
        path = f"/crm/v4/objects/{from_type}/{quote(record_id, safe='')}/associations/{to_type}"
        return AssociationPage.model_validate(await self._json("GET", path, params))

    async def batch_associations(self, from_type: str, to_type: str, record_ids: Sequence[str]) -> AssociationBatch:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: several records' associations (read-only)."""
        body = {"inputs": [{"id": record_id} for record_id in record_ids]}
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        return AssociationBatch.model_validate(await self._json("POST", path, json=body, idempotent=True))

    async def _json(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self._client.request(
            method, path, params=params, json=json, idempotent=idempotent, allow=(429,)
        )
        if response.status_code == 429:
            error = rate_limited_error(response)
            budget = self._client.budget
            if budget is not None and error.retry_after is not None:
                # The account's window is shared with other apps: hold every flow back, not just this call.
                budget.penalise(error.retry_after)
            raise error
        return self._client.decode_json(response)
