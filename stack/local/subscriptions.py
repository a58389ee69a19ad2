"""Pointing the sandbox's CRM emulators at the gateway: the Salesforce CDC relay and HubSpot webhooks.

Safe to repeat: each system's subscriptions are listed first, and one that already targets the
gateway is kept. A HubSpot subscription whose signing secret differs is replaced (the listing shows
it); the Salesforce relay hides its secrets, so a changed relay secret needs ``replace=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from stack.settings import Settings
from stack.webhooks import HUBSPOT_PATH, SALESFORCE_PATH

__all__ = [
    "GatewaySecrets",
    "Subscription",
    "SubscriptionError",
    "subscribe_sandbox",
    "unsubscribe_sandbox",
]

_SALESFORCE = "/_admin/salesforce/subscriptions"
_HUBSPOT = "/_admin/hubspot/webhooks"
_HUBSPOT_TYPE = "deal.propertyChange"
_HUBSPOT_PROPERTY = "dealstage"


class SubscriptionError(Exception):
    """The sandbox could not be reached or refused a subscription; the message says what to do."""


@dataclass(frozen=True)
class GatewaySecrets:
    """The secrets the emulators sign with, which the gateway verifies with."""

    hubspot_client_secret: str
    salesforce_relay_secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewaySecrets:
        """The gateway's own secrets (``gateway_hubspot_client_secret``, ``gateway_salesforce_relay_secret``)."""
        return cls(
            hubspot_client_secret=settings.gateway_hubspot_client_secret.get_secret_value(),
            salesforce_relay_secret=settings.gateway_salesforce_relay_secret.get_secret_value(),
        )


@dataclass(frozen=True)
class Subscription:
    """One emulator subscription targeting the gateway, and what this call did to it."""

    system: Literal["salesforce", "hubspot"]
    id: str
    url: str
    state: Literal["created", "kept", "replaced", "removed"]


def _call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise SubscriptionError(
            f"the sandbox at {http.base_url} did not answer ({exc}): start it with `psflow sandbox up`"
        ) from None
    if response.is_error:
        raise SubscriptionError(
            f"the sandbox refused {method} {path}: HTTP {response.status_code} {response.text[:200]}"
        )
    return response.json() if response.content else None


def _targets(gateway_url: str) -> tuple[str, str]:
    """The gateway's Salesforce relay and HubSpot webhook URLs."""
    gateway = gateway_url.rstrip("/")
    return f"{gateway}{SALESFORCE_PATH}", f"{gateway}{HUBSPOT_PATH}"


def _admin(sandbox_url: str, timeout_s: float) -> httpx.Client:
    """A client for the sandbox's admin API."""
    return httpx.Client(base_url=sandbox_url.rstrip("/"), timeout=timeout_s)


def _salesforce_existing(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    return [s for s in _call(http, "GET", _SALESFORCE) if s["url"] == url]


def _hubspot_existing(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _call(http, "GET", _HUBSPOT)["results"]
        if s["targetUrl"] == url and s["subscriptionType"] == _HUBSPOT_TYPE and s["propertyName"] == _HUBSPOT_PROPERTY
    ]


def subscribe_sandbox(
    sandbox_url: str, gateway_url: str, secrets: GatewaySecrets, *, replace: bool = False, timeout_s: float = 10.0
) -> list[Subscription]:
    """Make the sandbox deliver won deals to the gateway, once per system however often this is called.

    Args:
        sandbox_url: The sandbox's root, e.g. ``http://127.0.0.1:8700``.
        gateway_url: The gateway's root as the sandbox reaches it, e.g. ``http://127.0.0.1:8701``.
        secrets: What each emulator signs with; must match the gateway's settings.
        replace: Re-register even subscriptions that look current (after changing a secret).
        timeout_s: Per request.

    Returns:
        The Salesforce relay and the HubSpot webhook subscription, each created, kept or replaced.

    Raises:
        SubscriptionError: The sandbox did not answer or refused a subscription.
    """
    salesforce_url, hubspot_url = _targets(gateway_url)
    done: list[Subscription] = []
    with _admin(sandbox_url, timeout_s) as http:
        existing = _salesforce_existing(http, salesforce_url)
        if existing and not replace:
            done.append(Subscription("salesforce", str(existing[0]["id"]), salesforce_url, "kept"))
        else:
            for stale in existing:
                _call(http, "DELETE", f"{_SALESFORCE}/{stale['id']}")
            created = _call(
                http, "POST", _SALESFORCE, json={"url": salesforce_url, "secret": secrets.salesforce_relay_secret}
            )
            done.append(
                Subscription("salesforce", str(created["id"]), salesforce_url, "replaced" if existing else "created")
            )

        existing = _hubspot_existing(http, hubspot_url)
        current = [s for s in existing if s["clientSecret"] == secrets.hubspot_client_secret]
        if current and not replace:
            done.append(Subscription("hubspot", str(current[0]["id"]), hubspot_url, "kept"))
        else:
            for stale in existing:
                _call(http, "DELETE", f"{_HUBSPOT}/{stale['id']}")
            body = {
                "target_url": hubspot_url,
                "client_secret": secrets.hubspot_client_secret,
                "subscription_type": _HUBSPOT_TYPE,
                "property_name": _HUBSPOT_PROPERTY,
            }
            created = _call(http, "POST", _HUBSPOT, json=body)
            done.append(Subscription("hubspot", str(created["id"]), hubspot_url, "replaced" if existing else "created"))
    return done


def unsubscribe_sandbox(sandbox_url: str, gateway_url: str, *, timeout_s: float = 10.0) -> list[Subscription]:
    """Remove every sandbox subscription that targets the gateway; returns what was removed.

    Raises:
        SubscriptionError: The sandbox did not answer or refused a removal.
    """
    salesforce_url, hubspot_url = _targets(gateway_url)
    removed: list[Subscription] = []
    with _admin(sandbox_url, timeout_s) as http:
        for subscription in _salesforce_existing(http, salesforce_url):
            _call(http, "DELETE", f"{_SALESFORCE}/{subscription['id']}")
            removed.append(Subscription("salesforce", str(subscription["id"]), salesforce_url, "removed"))
        for subscription in _hubspot_existing(http, hubspot_url):
            _call(http, "DELETE", f"{_HUBSPOT}/{subscription['id']}")
            removed.append(Subscription("hubspot", str(subscription["id"]), hubspot_url, "removed"))
    return removed
