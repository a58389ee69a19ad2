"""Which HubSpot deal stages mean "a change order was signed", learnt from HubSpot once and then remembered.

A HubSpot webhook names only the deal and its new stage, so the gateway tells a won change order from
a won new deal by the stage id. The change-order pipeline is one the firm created, and HubSpot gives
its stages ids of its own in each account (research apis-round2.md §3: stage ids are not labels, and
user-made ids differ per portal), so the gateway asks the connector
(`connectors.hubspot.HubSpotConnector.change_order_won_stages`, which finds the pipeline by its label)
instead of having an admin copy ids into a setting that would go stale when the pipeline is edited.

The answer is fetched on the first delivery that needs it (not at start-up, so the gateway starts and
serves Salesforce and won deals while HubSpot is unreachable), within `LOOKUP_TIMEOUT_S`, and kept for
the life of the process. While it cannot be had, a delivery to a stage other than the won stage is
answered as ignored, and the polling fallback picks up the change order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from stack.connectors import Connectors
from stack.settings import Settings

__all__ = ["LOOKUP_TIMEOUT_S", "ChangeOrderStages", "StageLookup", "hubspot_lookup"]

log = logging.getLogger("psflow.gateway")

LOOKUP_TIMEOUT_S = 2.0
"""Longest a delivery waits for the lookup: HubSpot wants its webhook answered within 5 s."""

StageLookup = Callable[[], Awaitable[set[str]]]


def hubspot_lookup(settings: Settings) -> StageLookup:
    """Ask the HubSpot connector the worker would use for the change-order pipeline's won stages."""

    async def lookup() -> set[str]:
        connectors = Connectors.build(settings)
        try:
            return await connectors.hubspot.change_order_won_stages()
        finally:
            await connectors.aclose()

    return lookup


class ChangeOrderStages:
    """The won stages of the change-order pipeline, looked up once (retried on later deliveries until found)."""

    def __init__(self, lookup: StageLookup) -> None:
        self._lookup = lookup
        self._stages: frozenset[str] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> frozenset[str]:
        """The stage ids; empty while HubSpot cannot say (the failure is logged)."""
        if self._stages is not None:
            return self._stages
        async with self._lock:
            if self._stages is None:
                try:
                    async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                        self._stages = frozenset(await self._lookup())
                    log.info("gateway: HubSpot change-order won stages %s", sorted(self._stages))
                except Exception:
                    log.exception("gateway could not look up HubSpot's change-order stages; the poll will find them")
                    return frozenset()
            return self._stages
