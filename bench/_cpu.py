"""CPU seconds each process of the stack spends during a phase: what bounds throughput on a small machine."""

from __future__ import annotations

import os
from collections.abc import Mapping

import psutil


def _cpu_s(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


class CpuMeter:
    """Reads user+system CPU time of named processes (plus this one, as ``bench``) at start and stop."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = {**pids, "bench": os.getpid()}
        self._start: dict[str, float | None] = {}

    def start(self) -> None:
        """Take the first reading."""
        self._start = {name: _cpu_s(pid) for name, pid in self._pids.items()}

    def per_item_ms(self, items: int) -> dict[str, float]:
        """CPU ms per item (deal, entry) of every process since `start` (a process that went away is left out)."""
        used: dict[str, float] = {}
        for name, pid in self._pids.items():
            before, after = self._start.get(name), _cpu_s(pid)
            if before is not None and after is not None and items:
                used[name] = round((after - before) * 1000 / items, 2)
        return used
