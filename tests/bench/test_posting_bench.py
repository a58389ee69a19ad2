"""The posting benchmark's core runs end to end on a private stack with 50 entries (shape, not speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.posting import PostingOptions, main, run_posting, summary_table

PHASE = {"seconds", "entries_per_s", "posted", "already_posted", "rejected", "failed"}


async def test_fifty_entries_post_both_ways_and_are_reported_as_json(tmp_path: Path) -> None:
    options = PostingOptions(entries=50, latency_ms=5.0, concurrency=3)
    result = await run_posting(options, tmp_path)

    assert json.loads(json.dumps(result)) == result
    assert (result["entries"], result["latency_ms"], result["concurrency"]) == (50, 5.0, 3)
    assert set(result["orchestrated"]) >= PHASE
    assert {"seconds", "entries_per_s"} <= set(result["raw"])
    orchestrated = result["orchestrated"]
    assert (orchestrated["posted"], orchestrated["already_posted"], orchestrated["rejected"]) == (50, 0, 0)
    assert orchestrated["failed"] == 0
    assert result["raw"]["posted"] == 50
    assert result["ratio"] > 0
    assert result["worker_peak_rss_mb"] > 0
    assert result["netsuite"]["concurrency_limit"] == 3
    assert result["netsuite"]["peak_in_flight"] <= 3
    assert result["netsuite"]["rejected"] == 0
    assert (
        set(result["targets"])
        == set(result["meets"])
        == {
            "ratio",
            "worker_peak_rss_mb_at_100k",
            "scaling_100k_over_10k",
        }
    )
    assert {"cpus", "load_avg_1m_before", "load_avg_1m_after"} <= set(result["machine"])

    console = Console(record=True, width=120)
    console.print(summary_table(result))
    assert "orchestrated" in console.export_text()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--entries", "0"], "--entries must be at least 1"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--latency-ms", "-1"], "--latency-ms must be 0 or more"),
        (["--page-size", "500"], "--page-size must be between 1 and 200"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
