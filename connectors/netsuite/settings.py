"""Where the NetSuite connector points and how it signs in, from ``PSFLOW_NETSUITE_*``.

The defaults reach the sandbox emulator with its fixed demo TBA keys; pointing at a real
account is configuration::

    PSFLOW_NETSUITE_BASE_URL=https://1234567-sb1.suitetalk.api.netsuite.com
    PSFLOW_NETSUITE_ACCOUNT_ID=1234567_SB1
    PSFLOW_NETSUITE_AUTH_MODE=m2m
    PSFLOW_NETSUITE_M2M_CLIENT_ID=<integration client id>
    PSFLOW_NETSUITE_M2M_CERTIFICATE_ID=<certificate id from the M2M setup>
    PSFLOW_NETSUITE_M2M_PRIVATE_KEY_PEM="$(cat private.pem)"
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors._core import ConnectorSettings

DEMO_CURRENCY_IDS = {"USD": "1", "GBP": "2", "CAD": "3", "EUR": "4"}
DEMO_TERMS_IDS = {"Net 15": "1", "Net 30": "2", "Net 45": "3", "Net 60": "4", "Due on receipt": "5"}
DEMO_BILLING_SCHEDULE_IDS = {"TM": "1", "FBM": "2", "FBI": "3", "CB": "4"}
DEMO_EXPENSE_CATEGORY_IDS = {"Airfare": "1", "Lodging": "2", "Meals": "3", "Mileage": "4", "Rail": "5", "Taxi": "6"}
MAX_PAGE_SIZE = 1000


class NetSuiteSettings(ConnectorSettings):
    """NetSuite SuiteTalk REST settings.

    Attributes:
        base_url: The account's REST host, without ``/services/rest``.
        account_id: The account id (``1234567_SB1``); the TBA realm is its upper-case form
            with ``_`` for ``-``.
        auth_mode: ``"tba"`` (token-based, OAuth 1.0a) or ``"m2m"`` (OAuth 2.0 client
            credentials with a signed JWT assertion).
        tba_consumer_key: The integration record's consumer key.
        tba_consumer_secret: The integration record's consumer secret.
        tba_token_id: The access token id.
        tba_token_secret: The access token secret.
        m2m_client_id: The integration's client id (the assertion's ``iss``).
        m2m_certificate_id: The certificate id from the M2M setup (the assertion's ``kid``).
        m2m_private_key_pem: The certificate's private key, PEM.
        m2m_algorithm: The assertion's signing algorithm.
        max_concurrency: Requests in flight across the process; NetSuite's limit is per
            account and shared by every integration, so set it to this integration's share.
        subsidiary_id: Subsidiary of new customers, jobs and invoices.
        currency_ids: ISO currency code → the account's currency internal id.
        terms_ids: Payment terms name → the account's terms internal id.
        expense_category_ids: Expense category name → the account's expense category id.
        billing_schedule_ids: Project billing type (``TM``, ``FBI``, ``FBM``, ``CB``) → the billing
            schedule a job of that type is given by a contract amendment when it has none.
        invoice_item_id: The service item invoice lines are billed as.
        page_size: Rows per page of lists and SuiteQL (NetSuite allows at most 1000).
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_NETSUITE_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/netsuite"
    account_id: str = "PSFLOW_DEMO"
    auth_mode: Literal["tba", "m2m"] = "tba"
    tba_consumer_key: str = "psflow-demo-consumer-key"
    tba_consumer_secret: SecretStr = SecretStr("psflow-demo-consumer-secret")
    tba_token_id: str = "psflow-demo-token-id"
    tba_token_secret: SecretStr = SecretStr("psflow-demo-token-secret")
    m2m_client_id: str = "psflow-demo"
    m2m_certificate_id: str | None = None
    m2m_private_key_pem: SecretStr | None = None
    m2m_algorithm: Literal["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"] = "PS256"
    max_concurrency: int | None = Field(default=5, ge=1)
    subsidiary_id: str = "1"
    currency_ids: dict[str, str] = Field(default_factory=lambda: dict(DEMO_CURRENCY_IDS))
    terms_ids: dict[str, str] = Field(default_factory=lambda: dict(DEMO_TERMS_IDS))
    expense_category_ids: dict[str, str] = Field(default_factory=lambda: dict(DEMO_EXPENSE_CATEGORY_IDS))
    billing_schedule_ids: dict[str, str] = Field(default_factory=lambda: dict(DEMO_BILLING_SCHEDULE_IDS))
    invoice_item_id: str = "1"
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    @model_validator(mode="after")
    def _m2m_has_a_key(self) -> Self:
        if self.auth_mode == "m2m" and (self.m2m_certificate_id is None or self.m2m_private_key_pem is None):
            raise ValueError(
                "auth_mode 'm2m' needs PSFLOW_NETSUITE_M2M_CERTIFICATE_ID and PSFLOW_NETSUITE_M2M_PRIVATE_KEY_PEM "
                "(the certificate registered in NetSuite's OAuth 2.0 client credentials setup)"
            )
        return self

    @property
    def realm(self) -> str:
        """The TBA realm: the account id in upper case with underscores."""
        return self.account_id.upper().replace("-", "_")

    @property
    def rest_root(self) -> str:
        """``{base_url}/services/rest``."""
        return f"{self.base_url.rstrip('/')}/services/rest"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint."""
        return f"{self.rest_root}/auth/oauth2/v1/token"
