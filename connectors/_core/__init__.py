"""The shared HTTP core of every connector: auth, rate budget, retry, error policy, paging, redaction.

A connector is a `BaseConnector`, which builds its one `RestClient` from the settings and owns its
lifecycle; the connector adds typed endpoint methods on top:

```python
class EventSinkConnector(BaseConnector[EventSinkSettings]):
    def __init__(self, settings, *, transport=None):  # httpx.ASGITransport(app=emulator) in tests
        super().__init__("events", settings, transport=transport, auth=StaticBearerAuth(settings.token))

    async def publish(self, event):
        await self.client.request("POST", "/events", json=event.envelope())
```
"""

from connectors._core._auth import OAuth2TokenAuth, StaticBearerAuth, Token, TokenOptions
from connectors._core._budget import BudgetTransport, RateBudget
from connectors._core._classify import (
    Classification,
    ErrorParser,
    Rule,
    classify,
    classify_exception,
    default_error_parser,
    outcome_for_status,
    parse_retry_after,
    retryable_status,
)
from connectors._core._client import RestClient
from connectors._core._connector import BaseConnector
from connectors._core._errors import (
    RETRYABLE_OUTCOMES,
    AuthError,
    BusinessError,
    ConnectorError,
    NotFoundError,
    Outcome,
    PermanentError,
    RateLimitedError,
    TransientError,
    error_for,
)
from connectors._core._grants import (
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    OAuth2ClientCredentials,
    OAuth2JwtBearerAssertion,
    OAuth2RefreshToken,
)
from connectors._core._ids import own_id
from connectors._core._oauth1 import (
    OAuth1HmacSha256,
    oauth1_authorization_header,
    oauth1_percent_encode,
    oauth1_sign,
    oauth1_signature_base_string,
    parse_oauth1_header,
)
from connectors._core._paging import (
    FieldError,
    FieldProblem,
    Page,
    Unreadable,
    after_cursor,
    cursor_to_int,
    next_url_cursor,
    offset_cursor,
    page_cursor,
    pages,
    paginate,
)
from connectors._core._redact import MASK, RedactingFilter, redact, register_secret
from connectors._core._retry import (
    DEFAULT_IDEMPOTENCY_HEADERS,
    DEFAULT_RETRY,
    READ_ONLY_EXTENSION,
    REPLAYABLE_EXTENSION,
    THROTTLE_STATUSES,
    RetryConfig,
    RetryTransport,
    is_read_only,
    is_replayable,
)
from connectors._core._settings import ConnectorSettings

__all__ = [
    "CLIENT_ASSERTION_TYPE_JWT_BEARER",
    "DEFAULT_IDEMPOTENCY_HEADERS",
    "DEFAULT_RETRY",
    "MASK",
    "READ_ONLY_EXTENSION",
    "REPLAYABLE_EXTENSION",
    "RETRYABLE_OUTCOMES",
    "THROTTLE_STATUSES",
    "AuthError",
    "BaseConnector",
    "BudgetTransport",
    "BusinessError",
    "Classification",
    "ConnectorError",
    "ConnectorSettings",
    "ErrorParser",
    "FieldError",
    "FieldProblem",
    "NotFoundError",
    "OAuth1HmacSha256",
    "OAuth2ClientCredentials",
    "OAuth2JwtBearerAssertion",
    "OAuth2RefreshToken",
    "OAuth2TokenAuth",
    "Outcome",
    "Page",
    "PermanentError",
    "RateBudget",
    "RateLimitedError",
    "RedactingFilter",
    "RestClient",
    "RetryConfig",
    "RetryTransport",
    "Rule",
    "StaticBearerAuth",
    "Token",
    "TokenOptions",
    "TransientError",
    "Unreadable",
    "after_cursor",
    "classify",
    "classify_exception",
    "cursor_to_int",
    "default_error_parser",
    "error_for",
    "is_read_only",
    "is_replayable",
    "next_url_cursor",
    "oauth1_authorization_header",
    "oauth1_percent_encode",
    "oauth1_sign",
    "oauth1_signature_base_string",
    "offset_cursor",
    "outcome_for_status",
    "own_id",
    "page_cursor",
    "pages",
    "paginate",
    "parse_oauth1_header",
    "parse_retry_after",
    "redact",
    "register_secret",
    "retryable_status",
]
