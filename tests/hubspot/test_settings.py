"""Settings from the environment, and the auth each choice leads to."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from canonical import OpportunityStage
from connectors._core import OAuth2RefreshToken, StaticBearerAuth
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from tests.hubspot.conftest import SIX_ITEM_DEAL, settings


def test_defaults_point_at_the_sandbox_with_the_demo_private_app() -> None:
    defaults = HubSpotSettings()
    assert defaults.base_url == "http://127.0.0.1:8700/hubspot"
    assert not defaults.uses_oauth
    assert defaults.oauth_token_url == "http://127.0.0.1:8700/hubspot/oauth/v1/token"
    assert isinstance(HubSpotConnector(defaults).auth, StaticBearerAuth)


def test_real_account_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_HUBSPOT_BASE_URL", "https://api.hubapi.com")
    monkeypatch.setenv("PSFLOW_HUBSPOT_CLIENT_ID", "real-client")
    monkeypatch.setenv("PSFLOW_HUBSPOT_CLIENT_SECRET", "real-secret-value")
    monkeypatch.setenv("PSFLOW_HUBSPOT_REFRESH_TOKEN", "na1-refresh-token")
    monkeypatch.setenv("PSFLOW_HUBSPOT_RATE_LIMIT_MAX", "190")
    monkeypatch.setenv("PSFLOW_HUBSPOT_STAGE_MAP", '{"signed": "closed_won"}')
    real = HubSpotSettings()
    assert real.uses_oauth and real.oauth_token_url == "https://api.hubapi.com/oauth/v1/token"
    assert real.stage_map == {"signed": OpportunityStage.CLOSED_WON}
    connector = HubSpotConnector(real)
    assert isinstance(connector.auth, OAuth2RefreshToken)
    assert connector.budget is not None and connector.budget.limits["window"][0] == 190


def test_no_credentials_at_all_is_refused() -> None:
    with pytest.raises(ValidationError, match="PSFLOW_HUBSPOT_PRIVATE_APP_TOKEN"):
        HubSpotSettings(private_app_token=None)


async def test_stage_map_reads_and_writes_the_accounts_own_stage_ids(transport: httpx.ASGITransport) -> None:
    mapped = settings(stage_map={"decisionmakerboughtin": OpportunityStage.PROPOSAL})
    async with HubSpotConnector(mapped, transport=transport) as hubspot:
        await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.PROPOSAL)
        deal = await hubspot.api.read("deals", SIX_ITEM_DEAL, ("dealstage",))
        assert deal.prop("dealstage") == "decisionmakerboughtin"
        assert (await hubspot.get_deal(SIX_ITEM_DEAL)).stage is OpportunityStage.PROPOSAL
