"""The chaos run at small scale, against real processes: nothing lost, duplicated or half-provisioned.

Its own Temporal dev server (a SQLite file, so the restart keeps state), sandbox, gateway and worker
on free loopback ports (`bench.chaos`): six deals won in both CRMs, twenty entries on one day posted
and the month invoiced, 20 % faults at every emulated system, one worker SIGKILL, one server restart
with a webhook arriving while it is down, and the hostile webhooks. Counts come from NetSuite's and
Kantata's own APIs. The month is the one before the sandbox's anchor (pinned by tests/conftest.py),
invoiced with that anchor as its issue date, so the run means the same on any calendar day.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.chaos import ChaosOptions, findings, passed, run_chaos

SMALL = ChaosOptions(
    seed=11,
    deals=6,
    entries=20,
    days=1,
    fault_rate=0.2,
    worker_kills=1,
    server_restarts=1,
    fault_seconds=60.0,
    poll_every_s=15.0,
    cli_inputs=0,
    amended_contracts=1,
    deadline_seconds=200.0,
)


async def test_a_small_chaos_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    result = await run_chaos(SMALL, tmp_path, lambda message: print(message, flush=True))
    print(json.dumps(result, default=str))
    wrong = "\n".join(findings(result))

    assert result["chaos"]["worker_kills"] == 1 and result["chaos"]["server_restarts"] == 1, wrong
    assert sum(counts.get("requests", 0) for counts in result["chaos"]["faults_injected"].values()) > 0
    assert result["deals"]["expected"] == 7 and result["entries"]["expected"] == 20
    assert result["lost"] == 0, wrong
    assert result["duplicated"] == 0, wrong
    assert result["half_provisioned"] == 0, wrong
    assert result["gateway_5xx"] == 0, wrong
    probe = result["gateway"]["restart_probe"]
    assert probe["status"] == 503 and probe["retry_after"], wrong
    assert probe["redelivery"][-1] == 202, wrong
    amendments = result["amendments"]
    assert amendments["contracts"] == 2 and amendments["expected"] == 4, wrong
    assert amendments["applied"] == 4, wrong
    assert not amendments["out_of_order"] and not amendments["malformed_left_a_trace"], wrong
    assert not amendments["malformed_wrongly_accepted"], wrong
    assert len(amendments["noop_refused"]) == 1, wrong
    assert passed(result)
