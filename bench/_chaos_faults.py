"""The chaos itself: faults at every emulated system, worker kills, and a Temporal server restart.

Faults use the sandbox's ``/_admin/faults`` API: the fault rate is split evenly between 429 and 503
(both with ``Retry-After: 1``), 500, and commit-then-fail (the write is committed, then answered
500), and every request is slowed by the latency. Each system gets its own seed derived from the run's.

While the server is down the run wins one more HubSpot deal, so the CRM's own webhook meets the
outage, and sends the gateway a signed copy of that event itself: the gateway must answer 503 with
``Retry-After`` (it could not record the event durably) and never 202. Once the server is back the
run redelivers the copy, honouring ``Retry-After``, and expects 202; the deal must then end
provisioned exactly once, which the counts check like any other deal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench._chaos_webhooks import HUBSPOT, Signer, hubspot_event
from bench._chaos_world import Deal, win
from bench._stack import Stack, start_again, stop
from stack.connectors import Connectors

Say = Callable[[str], None]
PROBE_TIMEOUT_S = 30.0
REDELIVERY_ATTEMPTS = 10


def fault_config(rate: float, latency_ms: float, seed: int) -> dict[str, Any]:
    """One system's fault config: ``rate`` of requests fail, split evenly between four kinds."""
    share = rate / 4
    return {
        "latency_ms": latency_ms,
        "rate_limit": share,
        "unavailable": share,
        "server_error": share,
        "commit_then_fail": share,
        "retry_after_s": 1,
        "seed": seed,
    }


async def faults_on(sandbox_url: str, rate: float, latency_ms: float, seed: int) -> list[str]:
    """Install the faults at every system the sandbox serves; returns their names."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        systems = sorted((await http.get("/_admin/faults")).json()["counters"])
        for index, system in enumerate(systems):
            config = fault_config(rate, latency_ms, seed * 1000 + index)
            (await http.put(f"/_admin/faults/{system}", json=config)).raise_for_status()
    return systems


async def outage(sandbox_url: str, system: str, seconds: float, restore: dict[str, Any]) -> None:
    """``system`` answers every request 503 (``Retry-After: 1``) for ``seconds``, then ``restore`` is put back."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        down = {"unavailable": 1.0, "retry_after_s": 1, "latency_ms": restore.get("latency_ms", 0)}
        (await http.put(f"/_admin/faults/{system}", json=down)).raise_for_status()
        try:
            await asyncio.sleep(seconds)
        finally:
            (await http.put(f"/_admin/faults/{system}", json=restore)).raise_for_status()


async def faults_off(sandbox_url: str) -> dict[str, dict[str, int]]:
    """Remove every fault; returns what was injected, per system."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        snapshot = (await http.delete("/_admin/faults")).json()
    return {
        system: {kind: count for kind, count in counters.items() if count}
        for system, counters in snapshot["counters"].items()
    }


@dataclass
class ProcessChaos:
    """Kills and restarts, one at a time; a worker that dies on its own is restarted and counted."""

    stack: Stack
    say: Say
    worker_kills: int = 0
    worker_crashes: int = 0
    server_restarts: int = 0
    restart_probe: dict[str, Any] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def kill_worker(self, pause_s: float) -> None:
        """SIGKILL the worker mid-work, leave it down ``pause_s``, start a new one."""
        async with self.lock:
            process = self.stack.processes["worker"]
            old = process.popen.pid if process.popen else None
            await stop(process, signal.SIGKILL)
            self.worker_kills += 1
            await asyncio.sleep(pause_s)
            pid = await start_again(self.stack, "worker")
            self.say(f"worker killed (SIGKILL, pid {old}) and restarted after {pause_s:.1f}s as pid {pid}")

    async def watch_worker(self, stop_event: asyncio.Event) -> None:
        """Restart the worker whenever it has died without being killed, until ``stop_event``."""
        while not stop_event.is_set():
            async with self.lock:
                popen = self.stack.processes["worker"].popen
                if popen is not None and popen.poll() is not None:
                    self.worker_crashes += 1
                    self.say(f"the worker exited on its own (code {popen.returncode}): restarting it")
                    await start_again(self.stack, "worker")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), 2)

    async def restart_server(self, connectors: Connectors, deal: Deal | None, down_s: float) -> None:
        """Stop the Temporal server; while it is down win ``deal`` and probe the gateway with it; start it again."""
        async with self.lock:
            started = time.monotonic()
            await stop(self.stack.processes["temporal"])
            self.say("Temporal server stopped" + (f"; winning {deal.key} and probing the gateway" if deal else ""))
            probe: dict[str, Any] = {}
            if deal is not None:
                probe = await self._probe(connectors, deal)
            await asyncio.sleep(max(0.0, down_s - (time.monotonic() - started)))
            await start_again(self.stack, "temporal")
            self.server_restarts += 1
            down = round(time.monotonic() - started, 2)
            self.say(f"Temporal server back after {down}s")
            if deal is not None:
                probe |= {"down_s": down, "redelivery": await self._redeliver(probe)}
                self.say(f"webhook during the restart: {probe['status']} (Retry-After {probe['retry_after']}), "
                         f"redelivered: {probe['redelivery']}")  # fmt: skip
                self.restart_probe = probe

    async def _probe(self, connectors: Connectors, deal: Deal) -> dict[str, Any]:
        signer = Signer(self.stack.settings)
        body = json.dumps([hubspot_event(int(deal.id))]).encode()
        probe: dict[str, Any] = {"deal": deal.key, "event": body.decode()}
        try:
            await win(connectors, deal)
        except Exception as exc:  # the probe still goes; the deal would then be lost, and counted
            probe["win_error"] = str(exc)[:200]
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=signer.url, timeout=PROBE_TIMEOUT_S) as http:
            try:
                answer = await http.post(HUBSPOT, content=body, headers=signer.hubspot(body))
                probe |= {"status": answer.status_code, "retry_after": answer.headers.get("Retry-After")}
                probe["body"] = answer.text[:200]
            except httpx.HTTPError as exc:
                probe |= {"status": None, "retry_after": None, "body": f"{type(exc).__name__}: {exc}"[:200]}
        probe["answer_s"] = round(time.monotonic() - started, 2)
        return probe

    async def _redeliver(self, probe: dict[str, Any]) -> list[int | None]:
        """Send the probe's event again, as HubSpot would, until it is taken (bounded)."""
        signer = Signer(self.stack.settings)
        body = str(probe["event"]).encode()
        retry_after = probe.get("retry_after")
        delay = min(float(retry_after), 5.0) if retry_after and retry_after.isascii() and retry_after.isdigit() else 1.0
        statuses: list[int | None] = []
        async with httpx.AsyncClient(base_url=signer.url, timeout=PROBE_TIMEOUT_S) as http:
            for _ in range(REDELIVERY_ATTEMPTS):
                await asyncio.sleep(delay)
                try:
                    answer = await http.post(HUBSPOT, content=body, headers=signer.hubspot(body))
                    statuses.append(answer.status_code)
                    if answer.status_code < 500:
                        break
                except httpx.HTTPError:
                    statuses.append(None)
        return statuses
