"""Settings: PSFLOW_WORKDAY_* points the connector at a real tenant without code changes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.workday import DEMO_STAFFING_REPORT, WorkdaySettings


def test_defaults_point_at_the_sandbox() -> None:
    settings = WorkdaySettings()
    assert settings.base_url == "http://127.0.0.1:8700/workday"
    assert settings.oauth_token_url == "http://127.0.0.1:8700/workday/ccx/oauth2/psflow_demo/token"
    assert (settings.client_id, settings.client_auth, settings.page_size) == ("psflow-demo", "basic", 100)
    assert settings.staffing_report == DEMO_STAFFING_REPORT


def test_a_real_tenant_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_WORKDAY_BASE_URL", "https://wd2-impl-services1.workday.com/")
    monkeypatch.setenv("PSFLOW_WORKDAY_TENANT", "acme_preview")
    monkeypatch.setenv("PSFLOW_WORKDAY_CLIENT_ID", "NzQ0ZjQ2")
    monkeypatch.setenv("PSFLOW_WORKDAY_CLIENT_SECRET", "client-secret-value")
    monkeypatch.setenv("PSFLOW_WORKDAY_REFRESH_TOKEN", "refresh-token-value")
    monkeypatch.setenv("PSFLOW_WORKDAY_STAFFING_REPORT", "/ISU_psflow/Consultant_Staffing/")
    settings = WorkdaySettings()
    assert settings.oauth_token_url == "https://wd2-impl-services1.workday.com/ccx/oauth2/acme_preview/token"
    assert settings.refresh_token.get_secret_value() == "refresh-token-value"
    assert "refresh-token-value" not in repr(settings)
    assert settings.staffing_report == "ISU_psflow/Consultant_Staffing"


@pytest.mark.parametrize("report", ["", "  "])
def test_an_empty_report_turns_the_report_off(report: str) -> None:
    assert WorkdaySettings(staffing_report=report).staffing_report is None


@pytest.mark.parametrize("report", ["Consultant_Staffing", "a/b/c", "/b"])
def test_a_report_needs_owner_and_name(report: str) -> None:
    with pytest.raises(ValidationError, match="owner/Report_Name"):
        WorkdaySettings(staffing_report=report)


@pytest.mark.parametrize("page_size", [0, 101])
def test_page_size_is_within_workdays_limit(page_size: int) -> None:
    with pytest.raises(ValidationError):
        WorkdaySettings(page_size=page_size)
