"""Building every connector from its own settings (``PSFLOW_<SYSTEM>_*``), once per process.

Without a system's ``PSFLOW_<SYSTEM>_BASE_URL`` the connector points at the sandbox named by
``PSFLOW_SANDBOX_URL``, so tests and a second local stack can run the emulators on another port.
Pointing a system at the real API is configuration: set its base URL and credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from connectors.events import EventSinkConnector, EventSinkSettings
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.kantata import KantataConnector, KantataSettings
from connectors.netsuite import NetSuiteConnector, NetSuiteSettings
from connectors.salesforce import SalesforceConnector, SalesforceSettings
from connectors.workday import WorkdayConnector, WorkdaySettings
from stack.settings import Settings


def _sandbox_defaults(prefix: str, sandbox_url: str, **paths: str) -> dict[str, Any]:
    """Settings overrides that rebase a connector onto ``sandbox_url``, unless its base URL is configured."""
    if os.environ.get(f"{prefix}BASE_URL"):
        return {}
    return {field: f"{sandbox_url.rstrip('/')}{path}" for field, path in paths.items()}


@dataclass
class Connectors:
    """One connector per system, shared by every activity in the worker."""

    salesforce: SalesforceConnector
    hubspot: HubSpotConnector
    kantata: KantataConnector
    workday: WorkdayConnector
    bamboohr: BambooHRConnector
    netsuite: NetSuiteConnector
    events: EventSinkConnector

    @classmethod
    def build(cls, settings: Settings) -> Connectors:
        """Every connector, configured from the environment (and the sandbox URL for defaults)."""
        url = settings.sandbox_url
        return cls(
            salesforce=SalesforceConnector(
                SalesforceSettings(**_sandbox_defaults("PSFLOW_SALESFORCE_", url, base_url="/salesforce"))
            ),
            hubspot=HubSpotConnector(HubSpotSettings(**_sandbox_defaults("PSFLOW_HUBSPOT_", url, base_url="/hubspot"))),
            kantata=KantataConnector(
                KantataSettings(
                    **_sandbox_defaults(
                        "PSFLOW_KANTATA_", url, base_url="/kantata/api/v1", token_url="/kantata/oauth/token"
                    )
                )
            ),
            workday=WorkdayConnector(WorkdaySettings(**_sandbox_defaults("PSFLOW_WORKDAY_", url, base_url="/workday"))),
            bamboohr=BambooHRConnector(
                BambooHRSettings(**_sandbox_defaults("PSFLOW_BAMBOOHR_", url, base_url="/bamboohr"))
            ),
            netsuite=NetSuiteConnector(
                NetSuiteSettings(**_sandbox_defaults("PSFLOW_NETSUITE_", url, base_url="/netsuite"))
            ),
            events=EventSinkConnector(EventSinkSettings(**_sandbox_defaults("PSFLOW_EVENTS_", url, base_url="/sink"))),
        )

    async def aclose(self) -> None:
        """Close every HTTP client."""
        for connector in (
            self.salesforce,
            self.hubspot,
            self.kantata,
            self.workday,
            self.bamboohr,
            self.netsuite,
            self.events,
        ):
            await connector.aclose()
