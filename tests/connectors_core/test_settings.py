import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from connectors._core import ConnectorSettings, RateBudget, redact


class ExampleSettings(ConnectorSettings):
    model_config = SettingsConfigDict(env_prefix="PSFLOW_EXAMPLE_", extra="ignore")

    client_id: str = "cid"
    client_secret: SecretStr


def test_reads_environment_with_prefix_and_registers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_EXAMPLE_BASE_URL", "http://127.0.0.1:8101")
    monkeypatch.setenv("PSFLOW_EXAMPLE_CLIENT_SECRET", "env-secret-value-1")
    monkeypatch.setenv("PSFLOW_EXAMPLE_MAX_CONCURRENCY", "4")
    settings = ExampleSettings()  # type: ignore[call-arg]
    assert settings.base_url == "http://127.0.0.1:8101"
    assert settings.timeout_s == 30
    assert settings.retry_attempts == 3
    assert settings.max_concurrency == 4
    assert "env-secret-value-1" not in repr(settings)
    assert redact("oops env-secret-value-1") == "oops ***"


def test_retry_and_budget_from_settings() -> None:
    settings = ExampleSettings(
        base_url="http://x", client_secret=SecretStr("s-123456"), retry_attempts=5, requests_per_second=10
    )
    assert settings.retry_config().max_attempts == 5
    budget = settings.rate_budget("example", burst=3)
    assert budget is RateBudget.shared("example")
    assert budget is not None and budget.limits["burst"] == 3
    unlimited = ExampleSettings(base_url="http://x", client_secret=SecretStr("s-123456"))
    assert unlimited.rate_budget("other") is None


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValidationError):
        ExampleSettings(base_url="http://x", client_secret=SecretStr("s-123456"), max_concurrency=0)
