"""Where the Salesforce connector points and how it signs in, read from ``PSFLOW_SALESFORCE_*``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from canonical import OpportunityStage
from connectors._core import ConnectorSettings

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_REFRESH_TOKEN", "SalesforceSettings"]

DEMO_CLIENT_ID = "psflow-demo"
"""The sandbox connected app's consumer key."""
DEMO_CLIENT_SECRET = "psflow-demo-secret"
"""The sandbox connected app's consumer secret."""
DEMO_REFRESH_TOKEN = "psflow-demo-refresh-token"
"""The sandbox connected app's refresh token, for the ``refresh_token`` grant."""

GrantType = Literal["client_credentials", "refresh_token", "jwt_bearer"]


class SalesforceSettings(ConnectorSettings):
    """Settings of one Salesforce org.

    The connector signs in at ``token_url`` and then sends every data call to the
    ``instance_url`` the token response names, so ``base_url`` only has to be the login host.

    Attributes:
        base_url: The login (or My Domain) URL: ``https://login.salesforce.com``,
            ``https://test.salesforce.com`` for a sandbox org, or ``https://<domain>.my.salesforce.com``
            (required for the ``client_credentials`` grant).
        token_url: The OAuth 2.0 token endpoint; defaults to ``{base_url}/services/oauth2/token``.
        api_version: The REST API version, e.g. ``62.0``.
        grant_type: ``client_credentials`` (the connected app's run-as user), ``refresh_token``
            or ``jwt_bearer`` (a certificate registered with the connected app).
        client_id: The connected app's consumer key.
        client_secret: The connected app's consumer secret.
        refresh_token: The refresh token for the ``refresh_token`` grant.
        username: The user the ``jwt_bearer`` grant signs in as (the JWT ``sub``).
        private_key: The PEM RSA key whose certificate the connected app holds (``jwt_bearer``).
        jwt_audience: The JWT ``aud``: ``https://login.salesforce.com`` or ``https://test.salesforce.com``.
        multi_currency: Whether the org has multiple currencies (then records carry ``CurrencyIsoCode``).
        default_currency: The org's corporate currency, for records without ``CurrencyIsoCode``.
        stage_map: Extra or overriding ``StageName`` → canonical stage entries for orgs with their
            own sales stages, e.g. ``{"Discovery": "qualification"}``. When setting a stage, the
            first name mapped to it is written.
        query_batch_size: Rows per query batch asked for with ``Sforce-Query-Options`` (200-2000);
            `None` leaves Salesforce's default of 2000.
        client_name: Sent as ``Sforce-Call-Options: client=...`` so change events caused by psflow
            carry it in ``changeOrigin`` and can be told apart.
        cpq: Whether the org runs Salesforce CPQ, whose amendment opportunities
            (``SBQQ__AmendedContract__c``) psflow reads as contract amendments. Without it no query
            names a CPQ field, and every won opportunity is a new engagement.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_SALESFORCE_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/salesforce"
    token_url: str | None = None
    api_version: str = Field(default="62.0", pattern=r"^\d{2}\.0$")
    grant_type: GrantType = "client_credentials"
    client_id: str = DEMO_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEMO_CLIENT_SECRET)
    refresh_token: SecretStr | None = None
    username: str | None = None
    private_key: SecretStr | None = None
    jwt_audience: str = "https://login.salesforce.com"
    multi_currency: bool = True
    default_currency: str = Field(default="USD", min_length=3, max_length=3)
    stage_map: dict[str, OpportunityStage] = Field(default_factory=dict)
    query_batch_size: int | None = Field(default=None, ge=200, le=2000)
    client_name: str = "psflow"
    cpq: bool = True

    @model_validator(mode="after")
    def _grant_has_credentials(self) -> SalesforceSettings:
        if self.grant_type == "refresh_token" and self.refresh_token is None:
            raise ValueError("grant_type refresh_token needs PSFLOW_SALESFORCE_REFRESH_TOKEN")
        if self.grant_type == "jwt_bearer" and (self.username is None or self.private_key is None):
            raise ValueError("grant_type jwt_bearer needs PSFLOW_SALESFORCE_USERNAME and PSFLOW_SALESFORCE_PRIVATE_KEY")
        return self

    @property
    def resolved_token_url(self) -> str:
        """The token endpoint: `token_url`, or the login URL's standard path."""
        return self.token_url or f"{self.base_url.rstrip('/')}/services/oauth2/token"
