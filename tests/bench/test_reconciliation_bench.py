"""The reconciliation benchmark's core runs end to end on a private stack with 60 entries (shape, not speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.reconciliation import ReconciliationOptions, main, run_reconciliation, summary_table

PHASE = {"seconds", "records", "records_per_s", "read", "seconds_by_listing", "cpu_ms_per_record"}


async def test_a_posted_period_reconciles_clean_and_then_finds_the_drift_injected(tmp_path: Path) -> None:
    result = await run_reconciliation(ReconciliationOptions(entries=60, drift=3), tmp_path)

    assert json.loads(json.dumps(result)) == result
    assert result["entries"] == 60
    posting = result["posting"]
    assert posting["posted"] >= 60 and posting["failed"] == 0
    first, second = result["raw"]
    assert set(first) == set(second) == PHASE
    assert first["read"]["psa_time_entries"] >= 60
    clean = result["reconcile"]
    assert (clean["status"], clean["differences"], clean["provisional"]) == ("clean", {}, False)
    assert clean["compared_total"] > 0
    assert clean["history_length"] > 0
    assert clean["worker_peak_rss_mb"] > 0
    assert result["ratio"] > 0
    drift = result["drift"]
    assert (drift["injected"], drift["found"], drift["all_found"]) == (3, 3, True)
    assert drift["new_differences"] == {"hours_mismatch": 3}
    assert drift["reconcile"]["differences"] == {"hours_mismatch": 3}

    console = Console(record=True, width=140)
    console.print(summary_table(result))
    assert "reconcile (clean)" in console.export_text()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--entries", "0"], "--entries must be at least 1"),
        (["--entries", "5", "--drift", "6"], "--drift must be between 1 and --entries (5)"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
