"""The exceptions benchmark runs end to end on a small store (shape and counts, not speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.exceptions import ExceptionsOptions, main, run_exceptions, summary_table

FIGURES = {"median_ms", "p10_ms", "p90_ms", "min_ms", "max_ms", "rows", "ratio", "plan"}


def test_a_small_store_is_recorded_escalated_queried_and_walked(tmp_path: Path) -> None:
    result = run_exceptions(ExceptionsOptions(sizes=(600, 1200), repeats=2, escalation_pages=2), tmp_path)

    assert json.loads(json.dumps(result)) == result
    small, large = result["runs"]
    assert (small["open"], large["open"]) == (600, 1200)
    queries = large["queries"]
    assert set(queries["find_active"]) == FIGURES
    assert queries["baseline_select_ids"]["ratio"] == 1.0
    assert queries["find_active"]["rows"] == 200
    assert queries["find_key"]["rows"] == 1
    assert 0 < queries["find_rare_flow"]["rows"] < 200  # 2 in 100 of the exceptions are amendments
    assert queries["find_escalated"]["rows"] > 0  # escalate_due ran first, at the same instant
    assert "exception" in queries["find_flow_kind"]["plan"]
    assert large["walk"]["rows"] == 1200  # every one, page by page, none twice
    assert large["escalate_due"]["pages"] >= 1 and large["escalate_due"]["rows"] > 0
    assert set(result["scaling_largest_over_smallest"]) == set(queries)

    console = Console(record=True, width=140)
    console.print(summary_table(result))
    assert "find_active" in console.export_text()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--open", "0"], "--open must be at least 1"),
        (["--repeats", "1"], "--repeats must be at least 2"),
        (["--escalation-pages", "0"], "--escalation-pages must be at least 1"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
