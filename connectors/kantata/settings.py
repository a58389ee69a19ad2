"""Where the Kantata connector points and how it authenticates, read from ``PSFLOW_KANTATA_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors._core import ConnectorSettings

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "KantataSettings"]

DEMO_CLIENT_ID = "psflow-demo"
"""The sandbox's OAuth client id."""
DEMO_CLIENT_SECRET = "psflow-demo-secret"
"""The sandbox's OAuth client secret."""


class KantataSettings(ConnectorSettings):
    """Settings of one Kantata OX account.

    With ``access_token`` set the connector sends it as a static bearer token: Kantata tokens
    (obtained once through the authorization-code flow) never expire unless revoked. Without
    it the connector asks ``token_url`` for a token with the ``client_credentials`` grant and
    asks again when a request answers 401.

    Attributes:
        base_url: The API root: ``https://api.mavenlink.com/api/v1`` for the real service.
        token_url: The OAuth 2.0 token endpoint: ``https://app.mavenlink.com/oauth/token``.
        access_token: A long-lived access token; setting it switches off the token request.
        client_id: The OAuth application's client id.
        client_secret: The OAuth application's secret.
        service_name: The ``service_name`` of every external reference psflow writes and reads.
        page_size: Records per page (Kantata allows up to 200).
        project_code_field: The workspace custom field holding the project code.
        cost_centre_field: The user custom field holding the cost centre.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_KANTATA_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/kantata/api/v1"
    token_url: str = "http://127.0.0.1:8700/kantata/oauth/token"
    access_token: SecretStr | None = None
    client_id: str = DEMO_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEMO_CLIENT_SECRET)
    service_name: str = Field(default="psflow", min_length=1)
    page_size: int = Field(default=200, ge=1, le=200)
    project_code_field: str = "Project Code"
    cost_centre_field: str = "Cost Centre"
