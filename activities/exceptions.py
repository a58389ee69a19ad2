"""Exceptions raised and auto-resolved by the flows (``events`` task queue: they are for people).

A flow that fails for good records what failed, under its business key; a later run that succeeds for
the same key resolves it and is named as the run that did (Celigo-style auto-resolve). Both are store
calls only, run in a thread; `store.exceptions` decides what a repeat, a reopen or an ignored one means.

``exceptions.resolve`` is also registered on the ``flows`` task queue, where the provisioning and
invoicing runs call it as a *local* activity on success: a run cannot know whether an earlier run of its
key failed, and a local activity costs one marker in the run's last workflow task, not a round trip.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from store import Store
from store import exceptions as exc


class ExceptionOccurrence(BaseModel):
    """One failure of a flow for one business key, as `store.exceptions.Occurrence` takes it.

    Attributes:
        flow: posting, provisioning, invoicing, reconciliation, amendment or resources.
        system: The system the failure is about (netsuite, kantata, salesforce, hubspot, psflow).
        kind: What failed, per flow (provisioning: engagement; invoicing: invoice; amendment: amendment).
        business_key: Which one (provisioning: ``{crm}:{opportunity_id}``; invoicing: ``{project_id}:{period}``;
            amendment: ``{crm}:{contract_id}:v{version}:{target}``).
        reason: A short code (an error type such as ``BusinessRuleViolation``).
        message: What a person needs to read.
        values: The offending values: ids and the failing step, never names or amounts beyond what it needs.
        records: The records involved, each ``{"system", "type", "id"}``.
        retry_input: The failed item's editable input; None: a retry takes no edits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow: str = Field(min_length=1, max_length=16)
    system: str = Field(min_length=1, max_length=32)
    kind: str = Field(min_length=1, max_length=32)
    business_key: str = Field(min_length=1, max_length=255)
    reason: str = Field(min_length=1, max_length=32)
    message: str = Field(max_length=2000)
    values: dict[str, Any] = Field(default_factory=dict)
    records: list[dict[str, str]] = Field(default_factory=list)
    business_date: date | None = None
    retry_input: dict[str, Any] | None = None

    def to_store(self) -> exc.Occurrence:
        """The store's occurrence of the same failure."""
        return exc.Occurrence(
            flow=self.flow,
            system=self.system,
            kind=self.kind,
            business_key=self.business_key,
            reason=self.reason,
            message=self.message,
            values=dict(self.values),
            records=[dict(record) for record in self.records],
            business_date=self.business_date,
            retry_input=None if self.retry_input is None else dict(self.retry_input),
        )


class RecordExceptions(BaseModel):
    """Failures one run met, and the run (``{workflow_id}/{run_id}``) that met them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    occurrences: list[ExceptionOccurrence]
    run_id: str = Field(min_length=1, max_length=255)


class ResolveExceptions(BaseModel):
    """Business keys a run has just succeeded for: their active exceptions are resolved by that run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow: str = Field(min_length=1, max_length=16)
    system: str = Field(min_length=1, max_length=32)
    kind: str = Field(min_length=1, max_length=32)
    business_keys: list[str]
    run_id: str = Field(min_length=1, max_length=255)


class ExceptionActivities:
    """Opens and auto-resolves the flows' exceptions in the one store model."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name="exceptions.record")
    async def record(self, request: RecordExceptions) -> list[int]:
        """Open (or count again, or reopen) one exception per occurrence; returns their ids in order."""
        occurrences = [occurrence.to_store() for occurrence in request.occurrences]
        return await asyncio.to_thread(exc.record, self._store, occurrences, run_id=request.run_id)

    @activity.defn(name="exceptions.resolve")
    async def resolve(self, request: ResolveExceptions) -> int:
        """Resolve the keys' active exceptions, naming the run; returns how many there were (0: none open)."""
        return await asyncio.to_thread(
            exc.resolve,
            self._store,
            flow=request.flow,
            system=request.system,
            kind=request.kind,
            business_keys=list(request.business_keys),
            run_id=request.run_id,
        )
