"""Settings every connector shares, read from the environment by pydantic-settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors._core._budget import RateBudget
from connectors._core._redact import register_secret
from connectors._core._retry import RetryConfig

__all__ = ["ConnectorSettings"]


class ConnectorSettings(BaseSettings):
    """Base of each system's settings; subclasses add credentials as `SecretStr` fields.

    ```python
    class NetSuiteSettings(ConnectorSettings):
        model_config = SettingsConfigDict(env_prefix="PSFLOW_NETSUITE_", extra="ignore")
        account_id: str
        consumer_secret: SecretStr
    ```

    Every `SecretStr` value is registered for redaction as soon as the settings load.

    Attributes:
        base_url: The API root (the real service or a sandbox emulator).
        timeout_s: Per-request timeout in seconds.
        max_concurrency: Requests in flight at once across the process; `None` for no limit.
        requests_per_second: Sustained request rate across the process; `None` for no limit.
        requests_per_day: Requests allowed in any 24 hours (Salesforce's daily API allocation);
            `None` for no limit. A connector with a window of its own (HubSpot) cannot take one too.
        retry_attempts: In-process attempts per request, the first included.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_", extra="ignore")

    base_url: str
    timeout_s: float = Field(default=30.0, gt=0)
    max_concurrency: int | None = Field(default=None, ge=1)
    requests_per_second: float | None = Field(default=None, gt=0)
    requests_per_day: int | None = Field(default=None, ge=1)
    retry_attempts: int = Field(default=3, ge=1)

    def model_post_init(self, context: Any, /) -> None:
        """Register secret values for redaction."""
        register_secret(*(value.get_secret_value() for value in self.__dict__.values() if isinstance(value, SecretStr)))

    def retry_config(self) -> RetryConfig:
        """The in-process retry bounds these settings describe."""
        return RetryConfig(max_attempts=self.retry_attempts)

    def rate_budget(self, system: str, **limits: Any) -> RateBudget | None:
        """The process-wide budget for `system`, or `None` when no limit is configured.

        Args:
            system: The system label.
            **limits: Further `RateBudget` limits fixed by the connector (``burst``, ``window``).
        """
        if self.requests_per_day is not None:
            if "window" in limits:
                raise ValueError(f"{system}: requests_per_day cannot be combined with the connector's own window")
            limits = {**limits, "window": (self.requests_per_day, 86400.0)}
        if self.max_concurrency is None and self.requests_per_second is None and not limits:
            return None
        return RateBudget.shared(
            system,
            max_concurrency=self.max_concurrency,
            requests_per_second=self.requests_per_second,
            **limits,
        )
