"""The provisioning and posting benchmarks on the real cluster with three workers: tiny runs (shape, not speed).

Each starts the benchmark's own cluster (``bench._cluster``: PostgreSQL, server v1.29.1, 8 shards) as the
command line does with ``--stack cluster --workers 3``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import _cluster, posting, provisioning
from bench._stack import StackStartError, fresh_stack
from tests.conftest import POSTGRES_URL


@pytest.fixture(autouse=True)
def _ci_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    """In CI the cluster's databases go to CI's PostgreSQL (and are dropped after); here one is started."""
    if POSTGRES_URL:
        monkeypatch.setenv(_cluster.POSTGRES_URL_ENV, POSTGRES_URL)


async def test_posting_on_the_cluster_with_three_workers_posts_every_entry_once(tmp_path: Path) -> None:
    options = posting.PostingOptions(entries=30, latency_ms=5.0, concurrency=3, stack="cluster", workers=3)
    result = await posting.run_posting(options, tmp_path)

    assert json.loads(json.dumps(result)) == result
    assert result["stack"] == {"server": "cluster", "workers": 3}
    orchestrated = result["orchestrated"]
    assert (orchestrated["posted"], orchestrated["already_posted"], orchestrated["rejected"]) == (30, 0, 0)
    assert orchestrated["failed"] == 0
    assert result["raw"]["posted"] == 30
    # Three workers, one shared NetSuite budget: the emulator never saw more than the limit at once.
    assert result["netsuite"]["peak_in_flight"] <= 3
    assert result["netsuite"]["rejected"] == 0


def test_provisioning_on_the_cluster_with_three_workers_reports_both_phases(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--stack", "cluster", "--workers", "3", "--deals", "4", "--concurrency", "2", "--warmup", "1"]
    assert provisioning.main(argv) == 0

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["stack"]["server"] == "cluster"
    assert result["stack"]["workers"] == 3
    assert (result["orchestrated"]["provisioned"], result["orchestrated"]["failed"]) == (4, 0)
    assert (result["baseline"]["provisioned"], result["baseline"]["failed"]) == (4, 0)
    # Every worker process is one of the stack's and its CPU is counted.
    assert {"worker", "worker2", "worker3"} <= set(result["orchestrated"]["cpu_ms_per_deal"])


async def test_several_workers_need_the_cluster(tmp_path: Path) -> None:
    with pytest.raises(StackStartError, match="cluster"):
        async with fresh_stack(tmp_path, lambda _msg: None, workers=3):
            pass


@pytest.mark.parametrize("module", [posting, provisioning])
def test_workers_above_one_without_the_cluster_are_refused_in_one_line(
    module: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--workers", "3"])  # type: ignore[attr-defined]
    assert exit_info.value.code == 2
    assert "--workers above 1 needs --stack cluster" in capsys.readouterr().err
