"""Where the BambooHR connector points and how it authenticates, read from ``PSFLOW_BAMBOOHR_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors._core import ConnectorSettings

__all__ = ["DEMO_API_KEY", "DEMO_COMPANY", "BambooHRSettings"]

DEMO_COMPANY = "psflowdemo"
"""The sandbox's company domain."""
DEMO_API_KEY = "psflow-demo-bamboohr-key"
"""The sandbox's API key."""


class BambooHRSettings(ConnectorSettings):
    """Settings of one BambooHR company.

    Attributes:
        base_url: The host, e.g. ``https://acme.bamboohr.com`` (the ``/api/v1`` root is added), or
            ``https://api.bamboohr.com`` with ``legacy_gateway`` for ``/api/gateway.php/{company}/v1``.
        company: The company domain (used by the gateway form).
        api_key: The API key, sent as the Basic-auth user name (research §4 "Base URL and auth").
        legacy_gateway: Use the ``gateway.php`` form of the base URL.
        page_size: Employees per page of ``GET /employees`` (``page[limit]``, at most 100).
        cost_centre_field, skills_field, standard_hours_field, role_field: The account's (custom)
            fields holding cost centre, skills (``"a; b"``), contracted weekly hours and rate-card role.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_BAMBOOHR_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/bamboohr"
    company: str = Field(default=DEMO_COMPANY, min_length=1)
    api_key: SecretStr = SecretStr(DEMO_API_KEY)
    legacy_gateway: bool = False
    page_size: int = Field(default=50, ge=1, le=100)
    cost_centre_field: str = "customCostCentre"
    skills_field: str = "customSkills"
    standard_hours_field: str = "customStandardHoursPerWeek"
    role_field: str = "customRole"

    @property
    def api_root(self) -> str:
        """The API root every path hangs off."""
        root = self.base_url.rstrip("/")
        return f"{root}/api/gateway.php/{self.company}/v1" if self.legacy_gateway else f"{root}/api/v1"
