"""The chaos harness's own rules, without a stack: dates, fault configs, counting helpers, verdicts, options."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bench._chaos_amend import AmendmentCounts, add_amendments
from bench._chaos_count import _hours, _iso
from bench._chaos_faults import fault_config
from bench._chaos_webhooks import WebhookOutcome
from bench._chaos_world import ArrangeError, chaos_days
from bench.chaos import findings, main, passed


def test_chaos_days_are_the_last_weekend_days_of_last_month() -> None:
    assert chaos_days(date(2026, 12, 4), 3) == [date(2026, 11, 22), date(2026, 11, 28), date(2026, 11, 29)]
    assert chaos_days(date(2027, 1, 1), 1) == [date(2026, 12, 27)]


def test_chaos_days_refuses_more_days_than_last_month_has_weekend_days() -> None:
    with pytest.raises(ArrangeError, match="only 9 weekend days"):
        chaos_days(date(2026, 12, 4), 10)


def test_the_fault_rate_is_split_evenly_between_four_kinds() -> None:
    config = fault_config(0.2, 20, seed=7)
    kinds = ("rate_limit", "unavailable", "server_error", "commit_then_fail")
    assert sum(config[kind] for kind in kinds) == pytest.approx(0.2)
    assert [config[kind] for kind in kinds] == pytest.approx([0.05] * 4)
    assert (config["latency_ms"], config["retry_after_s"], config["seed"]) == (20, 1, 7)


def test_netsuite_values_read_back() -> None:
    assert _hours("1:30") == Decimal("1.5")
    assert _hours("2.25") == Decimal("2.25")
    assert _iso("11/9/2026") == "2026-11-09"


def _result(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "lost": 0, "duplicated": 0, "half_provisioned": 0, "gateway_5xx": 0, "restart_probe_ok": True, "problems": [],
        "deals": {"lost": [], "duplicated": [], "half_provisioned": [], "reported_provisioned_with_inactive_job": []},
        "entries": {"lost": [], "duplicated": 0},
        "invoices": {"entries_not_invoiced": [], "jobs_short": [], "entries_invoiced_twice": [], "jobs_over": [],
                     "hours_not_invoiced": "0"},
        "gateway": {"hostile_5xx_or_dropped": [], "hostile_wrongly_accepted": [],
                    "crm_deliveries": {"5xx_other_than_503": 0},
                    "restart_probe": {"status": 503, "retry_after": "5", "answer_s": 0.2}},
        "cli": {"tracebacks": [], "exit_0": [], "not_one_line": []},
    }  # fmt: skip
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = result
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return result


def test_a_clean_run_passes_with_no_findings() -> None:
    assert passed(_result())
    assert findings(_result()) == []


def test_a_run_whose_gateway_did_not_answer_503_while_temporal_was_down_fails() -> None:
    assert not passed(_result(restart_probe_ok=False))


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        ({"half_provisioned": 1, "deals__half_provisioned": ["salesforce:006x"]}, "finding 1"),
        ({"lost": 1, "deals__lost": ["hubspot:91"]}, "finding 2"),
        ({"lost": 1, "entries__lost": ["kantata:5"]}, "finding 3"),
        (
            {"gateway_5xx": 1, "gateway__hostile_5xx_or_dropped": ["hubspot: superscript-two timestamp"]},
            "findings 4 and 5",
        ),
        ({"gateway__hostile_wrongly_accepted": ["hubspot: objectId -5"]}, "finding 5"),
        ({"cli__tracebacks": ["engagement provision --opportunity "]}, "finding 6"),
        ({"lost": 1, "invoices__entries_not_invoiced": ["kantata:9"]}, "finding 7"),
        ({"gateway__restart_probe": {"status": 503, "retry_after": None, "answer_s": 1}}, "finding 8"),
        ({"gateway__crm_deliveries": {"5xx_other_than_503": 0, "no_answer": 3}}, "finding 8"),
        ({"gateway__restart_probe": {"status": 202, "retry_after": None, "answer_s": 1}}, "finding 8"),
        ({"duplicated": 1, "entries__duplicated": 1}, "NEW (duplicates)"),
    ],
)
def test_each_kind_of_failure_names_its_finding(changes: dict[str, Any], finding: str) -> None:
    found = findings(_result(**changes))
    assert len(found) == 1 and found[0].startswith(finding), found


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--deals", "0"], "--deals must be at least 1"),
        (["--fault-rate", "1.5"], "--fault-rate must be between 0 and 1"),
        (["--cli-inputs", "26"], "--cli-inputs must be between 0 and 25"),
        (["--fault-seconds", "0"], "--fault-seconds must be positive"),
        (["--outage-seconds", "250"], "--outage-seconds must be between 0 and 0.7 x --fault-seconds"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.parametrize(
    ("counts", "malformed", "totals"),
    [
        (AmendmentCounts(lost=["salesforce:006x v2: no event"]), [], {"lost": 1, "duplicated": 0}),
        (AmendmentCounts(duplicated=["salesforce:006x v1: 2 events"]), [], {"lost": 0, "duplicated": 1}),
        (AmendmentCounts(out_of_order=["salesforce:006x: events in order [2, 1]"]), [], {"amendments_wrong": 1}),
        (AmendmentCounts(malformed_left_a_trace=["events for hubspot:9"]), [], {"amendments_wrong": 1}),
        (AmendmentCounts(), [WebhookOutcome("amendment: no id", 202, True)], {"amendments_wrong": 1}),
        (AmendmentCounts(), [WebhookOutcome("amendment: unknown contract", 500, None)], {"gateway_5xx": 1}),
    ],
)
def test_a_wrong_amendment_count_fails_the_run_and_names_amendments(
    counts: AmendmentCounts, malformed: list[WebhookOutcome], totals: dict[str, int]
) -> None:
    result = add_amendments(_result(), counts, malformed)

    assert {key: result[key] for key in totals} == totals
    assert not passed(result)
    assert any("amendments" in finding for finding in findings(result)) or result["gateway_5xx"]


def test_amendments_applied_everywhere_pass() -> None:
    result = add_amendments(_result(), AmendmentCounts(contracts=1, expected=2, applied=2), [])

    assert passed(result) and findings(result) == []
