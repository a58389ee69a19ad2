"""Pointing the session sandbox's CRM emulators at a gateway: idempotent, replaceable, removable."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stack.local.subscriptions import GatewaySecrets, SubscriptionError, subscribe_sandbox, unsubscribe_sandbox
from stack.settings import Settings
from tests.gateway.conftest import ROOT, free_port, gateway_environment

SECRETS = GatewaySecrets(hubspot_client_secret="hubspot-app-secret", salesforce_relay_secret="relay-secret-1")


@pytest.fixture
def gateway_url(sandbox_url: str) -> Iterator[str]:
    """A gateway URL nobody serves, unsubscribed again after the test."""
    url = f"http://127.0.0.1:{free_port()}/t-{uuid.uuid4().hex[:8]}"
    yield url
    unsubscribe_sandbox(sandbox_url, url)


def targeting(sandbox_url: str, gateway_url: str) -> dict[str, list[dict[str, Any]]]:
    """The emulators' subscriptions that deliver to the gateway."""
    salesforce = httpx.get(f"{sandbox_url}/_admin/salesforce/subscriptions").json()
    hubspot = httpx.get(f"{sandbox_url}/_admin/hubspot/webhooks").json()["results"]
    return {
        "salesforce": [s for s in salesforce if s["url"].startswith(gateway_url)],
        "hubspot": [s for s in hubspot if s["targetUrl"].startswith(gateway_url)],
    }


def test_subscribing_twice_registers_once_per_system(sandbox_url: str, gateway_url: str) -> None:
    first = subscribe_sandbox(sandbox_url, gateway_url, SECRETS)
    again = subscribe_sandbox(sandbox_url, f"{gateway_url}/", SECRETS)
    assert [(s.system, s.state) for s in first] == [("salesforce", "created"), ("hubspot", "created")]
    assert [(s.system, s.state) for s in again] == [("salesforce", "kept"), ("hubspot", "kept")]
    assert [s.id for s in again] == [s.id for s in first]
    found = targeting(sandbox_url, gateway_url)
    assert [s["url"] for s in found["salesforce"]] == [f"{gateway_url}/webhooks/salesforce"]
    [hubspot] = found["hubspot"]
    assert hubspot["targetUrl"] == f"{gateway_url}/webhooks/hubspot"
    assert (hubspot["subscriptionType"], hubspot["propertyName"]) == ("deal.propertyChange", "dealstage")
    assert hubspot["clientSecret"] == "hubspot-app-secret"


def test_a_changed_secret_replaces_the_subscription(sandbox_url: str, gateway_url: str) -> None:
    subscribe_sandbox(sandbox_url, gateway_url, SECRETS)
    rotated = GatewaySecrets(hubspot_client_secret="rotated-app-secret", salesforce_relay_secret="relay-secret-2")
    changed = subscribe_sandbox(sandbox_url, gateway_url, rotated)
    # The relay hides its secrets, so only an explicit replace re-registers it.
    assert [(s.system, s.state) for s in changed] == [("salesforce", "kept"), ("hubspot", "replaced")]
    replaced = subscribe_sandbox(sandbox_url, gateway_url, rotated, replace=True)
    assert [s.state for s in replaced] == ["replaced", "replaced"]
    found = targeting(sandbox_url, gateway_url)
    assert len(found["salesforce"]) == 1
    assert [s["clientSecret"] for s in found["hubspot"]] == ["rotated-app-secret"]


def test_unsubscribing_removes_only_the_gateways_subscriptions(sandbox_url: str, gateway_url: str) -> None:
    other = f"{gateway_url}-other"
    subscribe_sandbox(sandbox_url, gateway_url, SECRETS)
    subscribe_sandbox(sandbox_url, other, SECRETS)
    try:
        removed = unsubscribe_sandbox(sandbox_url, gateway_url)
        assert sorted((s.system, s.state) for s in removed) == [("hubspot", "removed"), ("salesforce", "removed")]
        assert unsubscribe_sandbox(sandbox_url, gateway_url) == []
        assert len(targeting(sandbox_url, other)["salesforce"]) == 1
    finally:
        unsubscribe_sandbox(sandbox_url, other)


def test_an_unreachable_sandbox_is_one_clear_error() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SubscriptionError, match=r"did not answer .* start it with `psflow sandbox up`"):
        subscribe_sandbox(dead, "http://127.0.0.1:8701", SECRETS, timeout_s=2)


def test_the_cli_subscribes_and_unsubscribes(flow_settings: Settings, gateway_url: str) -> None:
    def psflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "gateway", *args, "--gateway-url", gateway_url],
            capture_output=True,
            text=True,
            env=gateway_environment(flow_settings) | {"COLUMNS": "200"},
            cwd=ROOT,
            timeout=60,
        )

    subscribed = psflow("subscribe")
    assert subscribed.returncode == 0, subscribed.stderr
    assert subscribed.stdout.count("created") == 2 and f"{gateway_url}/webhooks/hubspot" in subscribed.stdout
    removed = psflow("unsubscribe")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.count("removed") == 2
    assert targeting(flow_settings.sandbox_url, gateway_url) == {"salesforce": [], "hubspot": []}
