"""HTTP requests per deal and per system during a phase, as the emulators counted them.

The sandbox's fault middleware counts every request it receives under ``/{system}/...`` (``GET
/_admin/faults``, ``counters.<system>.requests``), whichever process sent it: the worker's
connectors in the orchestrated phase, this process's in the baseline. Retries and token
requests count, since each is a call the system serves. The benchmark's own requests (winning
each deal) are subtracted, so the figure is what provisioning itself costs.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx


class RequestCountError(Exception):
    """The sandbox did not report its request counters; the message says why."""


async def _counters(sandbox_url: str) -> dict[str, int]:
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{sandbox_url.rstrip('/')}/_admin/faults")
            response.raise_for_status()
            counters = response.json()["counters"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise RequestCountError(f"cannot read the sandbox's request counters at {sandbox_url}: {exc}") from exc
    return {system: int(values.get("requests", 0)) for system, values in counters.items()}


class RequestMeter:
    """Reads the sandbox's per-system request counters at the start and the end of a phase.

    Args:
        sandbox_url: The sandbox's root URL (``/_admin`` lives there).
    """

    def __init__(self, sandbox_url: str) -> None:
        self._url = sandbox_url
        self._start: dict[str, int] = {}

    async def start(self) -> None:
        """Take the first reading."""
        self._start = await _counters(self._url)

    async def per_item(self, items: int, own: Mapping[str, int]) -> dict[str, float]:
        """Requests per item by system since `start`, less ``own`` (requests the benchmark itself sent).

        Systems that served nothing are left out; ``total`` sums the others.
        """
        now = await _counters(self._url)
        served = {system: now[system] - self._start.get(system, 0) - own.get(system, 0) for system in now}
        per_item = {system: round(count / items, 2) for system, count in sorted(served.items()) if count and items}
        if per_item:
            per_item["total"] = round(sum(served.values()) / items, 2)
        return per_item
