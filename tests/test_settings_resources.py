"""The resource sync's settings: legal entities and their HR systems, the schedule, time off window, policy.

The ``resource-sync`` schedule is built from them: its interval, overlap and the workflow's input.

A bad value is one SettingsError line naming the setting and the value, whether it came from a
``PSFLOW_*`` variable (JSON for lists and mappings) or the settings file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy

from activities.resources.models import ResourcePolicy
from stack.schedules import (
    RESOURCE_SYNC,
    SCHEDULES,
    ScheduleError,
    resource_sync_input,
    resource_sync_schedule,
    schedule_id,
)
from stack.settings import SettingsError, load_settings
from workflows.sync_resources import ResourceSyncInput


@pytest.fixture(autouse=True)
def no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PSFLOW_SETTINGS_FILE", raising=False)


def test_defaults_one_entity_on_workday_hourly() -> None:
    settings = load_settings()
    assert settings.hr_systems == {"default": "workday"}
    assert (settings.resource_sync_minutes, settings.resource_full_sweep_hours) == (60, 24)
    assert (settings.resource_time_off_days_back, settings.resource_time_off_days_ahead) == (7, 90)
    assert settings.resource_cost_centres is None
    assert (settings.resource_unknown_skills, settings.resource_skill_map) == ("create", {})


def test_entities_and_policy_from_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_HR_SYSTEMS", '{"uk": "bamboohr", "us": "workday"}')
    monkeypatch.setenv("PSFLOW_RESOURCE_COST_CENTRES", '["CC-100", "CC-200"]')
    monkeypatch.setenv("PSFLOW_RESOURCE_SKILL_MAP", '{"Py": "Python"}')
    monkeypatch.setenv("PSFLOW_RESOURCE_UNKNOWN_SKILLS", "exception")
    settings = load_settings()
    assert settings.hr_systems == {"uk": "bamboohr", "us": "workday"}
    assert settings.resource_cost_centres == ["CC-100", "CC-200"]
    assert (settings.resource_skill_map, settings.resource_unknown_skills) == ({"Py": "Python"}, "exception")


def test_entities_from_the_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "psflow.toml"
    path.write_text('resource_sync_minutes = 30\n[hr_systems]\nuk = "bamboohr"\nde = "workday"\n', encoding="utf-8")
    monkeypatch.setenv("PSFLOW_SETTINGS_FILE", str(path))
    settings = load_settings()
    assert (settings.hr_systems, settings.resource_sync_minutes) == ({"uk": "bamboohr", "de": "workday"}, 30)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"hr_systems": {"uk": "sap"}}, "hr_systems.uk: Input should be 'workday' or 'bamboohr' (got 'sap')"),
        ({"hr_systems": {}}, "hr_systems: Value error, name at least one legal entity"),
        ({"hr_systems": {" ": "workday"}}, "a legal entity's name is empty"),
        ({"resource_sync_minutes": 0}, "resource_sync_minutes: Input should be greater than 0 (got 0)"),
        ({"resource_full_sweep_hours": -1}, "resource_full_sweep_hours: Input should be greater than 0"),
        ({"resource_time_off_days_back": -1}, "resource_time_off_days_back: Input should be greater than or equal"),
        ({"resource_time_off_days_ahead": 0}, "resource_time_off_days_ahead: Input should be greater than or equal"),
        ({"resource_cost_centres": []}, "resource_cost_centres: Value error, list the cost centres' names"),
        ({"resource_cost_centres": ["CC-1", ""]}, "(none empty)"),
        ({"resource_unknown_skills": "ask"}, "resource_unknown_skills: Input should be 'create' or 'exception'"),
        ({"resource_skill_map": {"Py": " "}}, "an HR or PSA skill name is empty in 'Py': ' '"),
    ],
)
def test_a_bad_value_is_one_line(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**overrides)
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_mapping_that_is_not_json_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_HR_SYSTEMS", "uk=bamboohr")
    with pytest.raises(SettingsError, match=r'field "hr_systems".*as JSON, e\.g\. PSFLOW_HR_SYSTEMS=') as raised:
        load_settings()
    assert "\n" not in str(raised.value)


def test_the_schedule_runs_the_sync_every_interval_from_the_settings() -> None:
    settings = load_settings(
        task_queue_prefix="staging-",
        hr_systems={"uk": "bamboohr", "us": "workday"},
        resource_sync_minutes=30,
        resource_full_sweep_hours=12,
        resource_time_off_days_ahead=60,
        resource_cost_centres=["CC-100"],
        resource_skill_map={"Py": "Python"},
        firm_time_zone="Europe/London",
    )
    schedule = resource_sync_schedule(settings)
    [interval] = schedule.spec.intervals
    assert interval.every == timedelta(minutes=30)
    assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert schedule.policy.catchup_window == timedelta(minutes=30)
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == ("ResourceSync", "staging-resource-sync", "staging-flows")
    [given] = action.args
    assert given == resource_sync_input(settings)
    assert isinstance(given, ResourceSyncInput)
    assert [(s.legal_entity, s.hr_system) for s in given.sources] == [("uk", "bamboohr"), ("us", "workday")]
    assert (given.full, given.today, given.time_zone) == (False, None, "Europe/London")
    assert (given.full_sweep_every, given.time_off_days_back, given.time_off_days_ahead) == (timedelta(hours=12), 7, 60)
    assert given.policy == ResourcePolicy(cost_centres=("CC-100",), unknown_skills="create", skill_map={"Py": "Python"})
    assert schedule_id(settings, RESOURCE_SYNC) == "staging-resource-sync"
    assert SCHEDULES[RESOURCE_SYNC].runs(settings) == (
        "every 30 min: HR workers and time off to the PSA (uk: bamboohr, us: workday; full sweep every 12 h)"
    )


def test_a_schedule_with_a_bad_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="'Mars/Olympus' is not an IANA time zone"):
        resource_sync_schedule(load_settings(firm_time_zone="Mars/Olympus"))
