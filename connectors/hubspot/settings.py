"""Where the HubSpot connector points and how it authenticates, read from ``PSFLOW_HUBSPOT_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from canonical import OpportunityStage
from connectors._core import ConnectorSettings

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PRIVATE_APP_TOKEN",
    "HubSpotSettings",
]

DEMO_PRIVATE_APP_TOKEN = "pat-na1-psflow-demo-0000-private-app"
"""The sandbox's fixed private-app token."""
DEMO_CLIENT_ID = "psflow-demo"
"""The sandbox's OAuth app client id."""
DEMO_CLIENT_SECRET = "psflow-demo-secret"
"""The sandbox's app client secret (OAuth refresh and webhook signatures)."""


class HubSpotSettings(ConnectorSettings):
    """Settings of one HubSpot account (portal).

    With ``refresh_token`` set the connector uses OAuth 2.0 (refresh-token grant against
    ``token_url``); otherwise it sends ``private_app_token`` as a static bearer token.

    Attributes:
        base_url: The API root: ``https://api.hubapi.com`` for the real service.
        private_app_token: A private app's access token.
        client_id: The OAuth app's client id.
        client_secret: The app's client secret: used for the OAuth refresh grant and as the key
            of webhook signatures (v3), as HubSpot does.
        refresh_token: An OAuth refresh token; setting it switches the connector to OAuth.
        token_url: The OAuth token endpoint; defaults to ``{base_url}/oauth/v1/token``.
        rate_limit_max: Requests the account allows per rolling interval (100 per 10 s for a
            private app on most tiers).
        rate_limit_interval_s: The length of that interval.
        default_currency: The account's company currency, used when a deal or company carries
            none.
        won_stage: The internal id of the pipeline's closed-won stage.
        stage_map: The account's own stage ids → canonical stages, over the default pipeline's
            (JSON in the environment, e.g. ``{"signed": "closed_won"}``).
        page_size: Records per list page (HubSpot allows up to 100).
        search_page_size: Records per search page (HubSpot allows up to 200).
        search_result_cap: Results one search query can page through (10,000 at HubSpot);
            longer result sets are read as several queries.
        change_order_pipeline: The id of the deal pipeline change orders go through; when unset
            it is found by ``change_order_pipeline_label``.
        change_order_pipeline_label: The label of that pipeline.
        change_order_label: The deal↔deal association label from a change-order deal to the deal
            it changes (its type id is looked up: HubSpot gives each account its own).
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_HUBSPOT_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/hubspot"
    private_app_token: SecretStr | None = SecretStr(DEMO_PRIVATE_APP_TOKEN)
    client_id: str = DEMO_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEMO_CLIENT_SECRET)
    refresh_token: SecretStr | None = None
    token_url: str | None = None
    rate_limit_max: int = Field(default=100, ge=1)
    rate_limit_interval_s: float = Field(default=10.0, gt=0)
    default_currency: str = Field(default="GBP", min_length=3, max_length=3)
    won_stage: str = "closedwon"
    stage_map: dict[str, OpportunityStage] = Field(default_factory=dict)
    page_size: int = Field(default=100, ge=1, le=100)
    search_page_size: int = Field(default=200, ge=1, le=200)
    search_result_cap: int = Field(default=10_000, ge=1)
    change_order_pipeline: str | None = None
    change_order_pipeline_label: str = Field(default="Change orders", min_length=1)
    change_order_label: str = Field(default="Change order of", min_length=1)

    @model_validator(mode="after")
    def _has_credentials(self) -> HubSpotSettings:
        if self.refresh_token is None and self.private_app_token is None:
            raise ValueError(
                "HubSpot needs credentials: set PSFLOW_HUBSPOT_PRIVATE_APP_TOKEN, or "
                "PSFLOW_HUBSPOT_REFRESH_TOKEN with PSFLOW_HUBSPOT_CLIENT_ID and PSFLOW_HUBSPOT_CLIENT_SECRET"
            )
        return self

    @property
    def uses_oauth(self) -> bool:
        """Whether requests authenticate with OAuth 2.0 rather than a private-app token."""
        return self.refresh_token is not None

    @property
    def oauth_token_url(self) -> str:
        """The token endpoint for the refresh grant."""
        return self.token_url or f"{self.base_url.rstrip('/')}/oauth/v1/token"
