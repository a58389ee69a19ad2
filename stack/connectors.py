"""Building every connector from its own settings (``PSFLOW_<SYSTEM>_*``), once per process.

Without a system's ``PSFLOW_<SYSTEM>_BASE_URL`` the connector points at the sandbox named by
``PSFLOW_SANDBOX_URL``, so tests and a second local stack can run the emulators on another port.
Pointing a system at the real API is configuration: set its base URL and credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors._core import RateBudget
from connectors._core._shared_budget import share_budgets
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from connectors.events import EventSinkConnector, EventSinkSettings
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.kantata import KantataConnector, KantataSettings
from connectors.netsuite import NetSuiteConnector, NetSuiteSettings
from connectors.salesforce import SalesforceConnector, SalesforceSettings
from connectors.workday import WorkdayConnector, WorkdaySettings
from stack.settings import Settings

if TYPE_CHECKING:
    from store.budgets import PostgresBudgets


def budget_backend(settings: Settings) -> PostgresBudgets | None:
    """Where the connectors' budgets are kept: the PostgreSQL store (every worker shares it) or None (per process).

    ``budget_backend = "auto"`` shares them when the store is PostgreSQL; on SQLite a deployment is one
    process, whose own budgets hold. Their scope is the namespace and task queue prefix: two deployments
    on one database never share a budget.

    Raises:
        ValueError: ``budget_backend = "postgres"`` with a store that is not PostgreSQL.
    """
    postgres = settings.store_url.startswith(("postgresql", "postgres:"))
    if settings.budget_backend == "process" or (settings.budget_backend == "auto" and not postgres):
        return None
    if not postgres:
        raise ValueError("budget_backend 'postgres' needs a PostgreSQL store: set database_url to postgresql://…")
    from store.budgets import PostgresBudgets

    return PostgresBudgets(settings.store_url, scope=f"{settings.temporal.namespace}/{settings.task_queue_prefix}")


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
    budgets: PostgresBudgets | None = None
    """The deployment-wide budgets' backend, when the connectors draw from one (`budget_backend`)."""

    @classmethod
    def build(cls, settings: Settings) -> Connectors:
        """Every connector, configured from the environment (and the sandbox URL for defaults).

        Their budgets are this process's, or the deployment's when `budget_backend` gives a backend.
        """
        budgets = budget_backend(settings)
        if budgets is not None:
            share_budgets(budgets)
            RateBudget.reset_registry()
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
            budgets=budgets,
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
        if self.budgets is not None:
            share_budgets(None)
            RateBudget.reset_registry()
            await self.budgets.aclose()
