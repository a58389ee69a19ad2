"""The provisioning benchmark's core runs end to end on the session's server and sandbox (shape, not speed)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from temporalio.client import Client

import worker
from bench.provisioning import Arrivals, BenchOptions, main, run_benchmark, summary_table
from stack.settings import Settings

FIGURES = {
    "provisioned",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "throughput_per_s",
    "failed",
    "cpu_ms_per_deal",
    "requests_per_deal",
}


async def test_five_deals_are_provisioned_both_ways_and_reported_as_json(
    temporal_client: Client, flow_settings: Settings
) -> None:
    options = BenchOptions(deals=5, arrivals=Arrivals(rate=20.0), warmup=1)
    async with worker.running_workers(temporal_client, flow_settings):
        result = await run_benchmark(temporal_client, flow_settings, options)

    assert json.loads(json.dumps(result)) == result
    assert {"deals", "mode", "orchestrated", "baseline", "ratio", "target", "meets_target", "machine"} <= set(result)
    assert (result["deals"], result["mode"]) == (5, "rate=20/s")
    for phase in ("orchestrated", "baseline"):
        assert set(result[phase]) >= FIGURES, result[phase]
        assert (result[phase]["provisioned"], result[phase]["failed"]) == (5, 0), result["first_failures"]
        assert 0 < result[phase]["p50_ms"] <= result[phase]["p95_ms"] <= result[phase]["max_ms"]
        calls = result[phase]["requests_per_deal"]
        assert {"salesforce", "kantata", "netsuite", "sink", "total"} <= set(calls), calls
        assert calls["total"] == pytest.approx(sum(v for k, v in calls.items() if k != "total"), abs=0.05)
    assert {"p95", "throughput"} <= set(result["ratio"])
    assert result["target"] == {"p95_ms": 300.0, "throughput_per_s": 20.0}
    assert isinstance(result["meets_target"], bool)
    assert {"cpus", "load_avg_1m_before", "load_avg_1m_after", "python", "temporal_cli_version"} <= set(
        result["machine"]
    )

    console = Console(record=True, width=120)
    console.print(summary_table(result))
    assert "orchestrated" in console.export_text()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--deals", "0"], "--deals must be at least 1"),
        (["--rate", "0"], "--rate must be positive"),
        (["--rate", "5", "--concurrency", "2"], "not allowed with argument"),
        (["--dynamic-config", "novalue"], "--dynamic-config takes KEY=VALUE"),
        (["--stack", "local", "--dynamic-config", "a=1"], "the local stack's is `psflow dev up`'s"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
