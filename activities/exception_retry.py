"""The store's side of retrying an exception (``events`` task queue): write the retry down, close it when it worked.

`RetryExceptionWorkflow` notes the retry first (`ExceptionRetryActivities.note_retry`: history
"retried", with the edits, the person and the retry's workflow id), then re-runs the failed item; a
re-run of a whole flow (provisioning, invoicing) that succeeded resolves the exception naming the
retry (`resolve_retried`); a re-run reconciliation resolves what it no longer finds, and `verdict`
says whether it did. A posting retry resolves its exception itself, in the activity that posts.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA
from canonical import CanonicalModel
from store import ExceptionRecord, Store
from store import exceptions as exc

Verdict = Literal["resolved", "failed again"]


class RetryResult(CanonicalModel):
    """What a retry did: the exception resolved, or the item failed again, and why in words."""

    outcome: Verdict
    message: str


class NoteRetry(CanonicalModel):
    """A person's retry of an exception, as its history keeps it."""

    exception_id: int = Field(ge=1)
    actor: str = Field(min_length=1)
    edits: dict[str, str] = Field(default_factory=dict)
    workflow_id: str = Field(min_length=1)


class ResolveRetried(CanonicalModel):
    """An exception whose item the retry (``workflow_id``) re-ran successfully."""

    exception_id: int = Field(ge=1)
    workflow_id: str = Field(min_length=1)


class ExceptionRetryActivities:
    """Writes retries into exceptions' histories and resolves the ones a retry fixed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name="exceptions.note_retry")
    async def note_retry(self, request: NoteRetry) -> None:
        """Add "retried" to the exception's history, once per retry even when the activity runs again."""
        await asyncio.to_thread(self._note, request)

    def _note(self, request: NoteRetry) -> None:
        exception(self._store, request.exception_id)
        noted = exc.history(self._store, request.exception_id)
        if any(e.action == "retried" and e.detail.get("workflow_id") == request.workflow_id for e in noted):
            return
        exc.note_retry(
            self._store,
            request.exception_id,
            actor=request.actor,
            edits=dict(request.edits),
            workflow_id=request.workflow_id,
        )

    @activity.defn(name="exceptions.resolve_retried")
    async def resolve_retried(self, request: ResolveRetried) -> RetryResult:
        """Resolve the exception naming the retry, unless a run already did (then say which)."""
        return await asyncio.to_thread(self._resolve, request)

    def _resolve(self, request: ResolveRetried) -> RetryResult:
        row = exception(self._store, request.exception_id)
        if row.state in exc.ACTIVE:
            exc.resolve(
                self._store,
                flow=row.flow,
                system=row.system,
                kind=row.kind,
                business_keys=[row.business_key],
                run_id=request.workflow_id,
            )
            return RetryResult(outcome="resolved", message=f"exception {row.id} resolved by {request.workflow_id}")
        return RetryResult(outcome="resolved", message=f"exception {row.id} is {row.state} (by {row.resolved_by})")

    @activity.defn(name="exceptions.retry_verdict")
    async def verdict(self, request: ResolveRetried) -> RetryResult:
        """Whether the re-run flow resolved the exception itself (a reconciliation that no longer finds it)."""
        row = await asyncio.to_thread(exception, self._store, request.exception_id)
        if row.state in exc.ACTIVE:
            return RetryResult(outcome="failed again", message=f"still found after the re-run: {row.message}")
        return RetryResult(outcome="resolved", message=f"exception {row.id} is {row.state} (by {row.resolved_by})")


def exception(store: Store, exception_id: int) -> ExceptionRecord:
    """The exception; one that is gone fails the retry for good (retrying the activity cannot bring it back)."""
    try:
        return exc.get(store, exception_id)
    except LookupError as error:
        raise ApplicationError(str(error), type=INVALID_DATA, non_retryable=True) from None
