"""The resource sync's PSA side (``psa`` task queue): who is who, users, profiles, leavers and time off.

Identity (docs/resources.md): a worker's key is its HR worker id. A worker the store does not
know yet is matched to a PSA user by the HR employee id (the user's ``Employee`` external
reference), then by email: no user → invited (Kantata creates users only through invitations);
one → linked; two or more → exception ``duplicate_email``. A user already linked to ANOTHER
worker is never merged: exception ``rehire_new_id`` when that worker has left, else
``identity_conflict``; the worker is not applied. A known worker whose HR email differs from its
PSA user's login → exception ``email_changed``, the rest applied (the login is left for a person).

Propagated: title, role, Employee ref, cost centre and skills (`KantataConnector.upsert_user`, with
the PSA's own name and email so neither is overwritten), standard hours (a workweek from
max(hire date, today)), a leaver's future allocations once the last day is known, and their
membership disabled once today is past it. The manager stays in the store. A worker whose
fingerprint (the propagated fields and the policy) equals the one last applied costs no PSA call.

Capacity changes returned for the availability events: ``hired`` (invited, or linked before the
first day; not a colleague the first sync links), ``hours`` (standard hours changed, from the
workweek's effective day), ``left`` (from the day after the last day, once HR gives it) and
``time_off`` (per worker, the span of days set or cleared, with the hours off in it now).

A page's new hires are invited together before any worker is applied (`KantataConnector.invite_users`,
50 an invitation request, against Kantata's invitation limit): a worker neither the store nor the PSA
knows (by employee reference, then email) is queued, unless it shares its email or employee id with
a worker queued before it in the page, or left before today (skipped). Then each worker is applied in
order as above; a queued worker's user is the one its invitation made. A bulk invitation Kantata
refuses leaves its workers to be invited one by one when applied, so a refused one is an exception
and the page goes on. The invited workers' cost centres (those the PSA knows) are written to their new
users in bulk too (`set_cost_centres`, 100 a request, each value an upsert), so their `upsert_user`
neither reads nor writes it; a refused bulk write leaves it to their `upsert_user`.

Which workers are being invited is heartbeated before any invitation is sent, and their user ids once
invited; each worker is heartbeated as done (`ApplyCheckpoint`). A retry resumes after the last
worker done, asks again only for invitations it never heard back from (idempotent by email: nobody
is invited twice, and a worker whose invitation went out is still counted invited), and applies again
only the worker in flight when the attempt died, which repeats no write: every other write sets a value.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity

from activities._errors import classified
from activities._heartbeat import Checkpoints
from activities.resources.models import (
    FLOW,
    ApplyRequest,
    ApplyResult,
    ApplyTimeOffRequest,
    ApplyTimeOffResult,
    AvailabilityChange,
    BadWorker,
    DueRequest,
    HRSource,
    ResourcePolicy,
)
from canonical import Consultant, SystemName, SystemRef
from connectors._core import BusinessError, ConnectorError, NotFoundError
from connectors.kantata import CUSTOM_VALUES_PER_REQUEST, INVITATIONS_PER_REQUEST, KantataConnector
from store import Store
from store import exceptions as exc
from store import resources as res

WORKER_KINDS = (
    "invalid_worker",
    "duplicate_email",
    "rehire_new_id",
    "identity_conflict",
    "email_changed",
    "unknown_cost_centre",
    "unknown_skill",
)
"""The exception kinds keyed by worker id; a later clean apply of the worker resolves them."""
_PROPAGATED = {
    "id",
    "employee_id",
    "name",
    "email",
    "title",
    "role",
    "cost_centre",
    "skills",
    "manager_id",
    "standard_hours_per_week",
    "hire_date",
    "termination_date",
    "active",
}
_DUE_PAGE = 100


def fingerprint(worker: Consultant, policy: ResourcePolicy) -> str:
    """What a worker's apply depends on: the HR fields psflow keeps or propagates, and the policy."""
    body = {"worker": worker.model_dump(mode="json", include=_PROPAGATED), "policy": policy.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class ApplyCheckpoint(BaseModel):
    """How far an `apply_workers` call got: workers done (in request order), counts, changes, problems."""

    done: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    availability: list[AvailabilityChange] = Field(default_factory=list)
    raised: dict[str, list[str]] = Field(default_factory=dict)
    """Worker id → the exception kinds this call recorded for it (workers without any are absent)."""
    inviting: list[str] = Field(default_factory=list)
    """The page's workers queued for a bulk invitation, saved before any invitation is sent."""
    invited: dict[str, str] = Field(default_factory=dict)
    """Worker id → the PSA user its bulk invitation made (queued workers whose invitation was answered)."""
    cost_centres: list[str] = Field(default_factory=list)
    """Invited workers whose new user's cost centre is written in bulk already (or needs no value)."""


class DueCheckpoint(BaseModel):
    """How far a `disable_due` call got: the last worker id done, and counts."""

    after: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class TimeOffCheckpoint(BaseModel):
    """How far an `apply_time_off` call got within its page of workers: how many, the last one's id."""

    done: int = 0
    last: str | None = None
    set: int = 0
    cleared: int = 0
    availability: list[AvailabilityChange] = Field(default_factory=list)


@dataclass
class _Applied:
    outcome: str
    problems: list[exc.Occurrence] = field(default_factory=list)
    changes: list[AvailabilityChange] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    """Further counts: ``disabled``, ``allocations_removed``."""


def _occurrence(source: HRSource, worker_id: str, kind: str, message: str, values: dict[str, Any]) -> exc.Occurrence:
    return exc.Occurrence(
        flow=FLOW,
        system=source.hr_system,
        kind=kind,
        business_key=worker_id,
        reason=kind,
        message=message,
        values=values,
        records=[{"system": source.hr_system, "type": "worker", "id": worker_id}],
    )


def invalid_worker(source: HRSource, bad: BadWorker) -> exc.Occurrence:
    """The exception of a worker HR returned that cannot be used."""
    return _occurrence(source, bad.worker_id, "invalid_worker", f"{bad.worker_id}: {bad.problem}", dict(bad.values))


def refused(source: HRSource, worker: Consultant, error: ConnectorError) -> exc.Occurrence:
    """The exception of a worker the PSA refused (a rule of its own, or a user gone meanwhile)."""
    return _occurrence(
        source,
        worker.id,
        "invalid_worker",
        f"the PSA refused {worker.id} ({worker.email}): {error}",
        {"email": worker.email, "employee_id": worker.employee_id, "status": error.status, "error": str(error)},
    )


def _known_cost_centre(worker: Consultant, policy: ResourcePolicy) -> str | None:
    """The worker's cost centre when the PSA knows it (any, without a list in the policy), else None."""
    known = policy.cost_centres is None or worker.cost_centre in policy.cost_centres
    return worker.cost_centre if known else None


def _user_id(consultant: Consultant) -> str:
    assert consultant.source is not None  # every consultant read from Kantata names its user
    return consultant.source.id


class ResourcePsaActivities:
    """Applies HR's workers and time off to the PSA, keeping what it applied in the store."""

    def __init__(self, kantata: KantataConnector, store: Store) -> None:
        self._kantata = kantata
        self._store = store

    # -- workers ---------------------------------------------------------------------------------

    @activity.defn(name="resources.apply_workers")
    @classified
    async def apply_workers(self, request: ApplyRequest) -> ApplyResult:
        """Apply a page of workers (see the module docstring); count the outcomes, list capacity changes.

        ``counts``: invited, linked, updated, unchanged, skipped (a leaver gone before the sync
        ever saw them: not invited), conflicts (not applied), invalid (HR's bad workers, and
        workers the PSA refused: exception ``invalid_worker`` with its answer; the page goes on),
        exceptions (recorded for applied workers), disabled, allocations_removed.
        """
        beat = Checkpoints(ApplyCheckpoint, ApplyCheckpoint())
        point = beat.last.model_copy(deep=True)
        if point.done == 0 and "invalid" not in point.counts:
            problems = [invalid_worker(request.source, bad) for bad in request.bad]
            await asyncio.to_thread(exc.record, self._store, problems, run_id=request.run_id)
            point.counts["invalid"] = len(problems)
            beat.save(point)
        known_skills: set[str] | None = None
        if request.policy.unknown_skills == "exception" and point.done < len(request.workers):
            known_skills = await self._kantata.skill_names()
        todo = request.workers[point.done :]
        rows = await asyncio.to_thread(res.resources, self._store, [w.id for w in todo])
        await self._invite_new(request, todo, rows, point, beat)
        for worker in todo:
            try:
                applied = await self._apply(request, worker, rows.get(worker.id), known_skills, point)
            except (BusinessError, NotFoundError) as error:
                applied = _Applied("invalid", problems=[refused(request.source, worker, error)])
            if applied.problems:
                await asyncio.to_thread(exc.record, self._store, applied.problems, run_id=request.run_id)
                point.raised[worker.id] = sorted({p.kind for p in applied.problems})
            for key in (applied.outcome, *applied.extra):
                point.counts[key] = point.counts.get(key, 0) + 1
            if applied.problems and applied.outcome not in ("conflicts", "invalid"):
                point.counts["exceptions"] = point.counts.get("exceptions", 0) + len(applied.problems)
            point.availability += applied.changes
            point.done += 1
            beat.save(point)
        await asyncio.to_thread(self._resolve, request, point.raised)
        return ApplyResult(counts=point.counts, availability=point.availability)

    async def _invite_new(
        self,
        request: ApplyRequest,
        todo: Sequence[Consultant],
        rows: dict[str, res.ResourceRow],
        point: ApplyCheckpoint,
        beat: Checkpoints[ApplyCheckpoint],
    ) -> None:
        """Invite the page's new hires in bulk (see the module docstring), heartbeating who and their users."""
        queued = [w for w in todo if w.id in point.inviting and w.id not in point.invited]
        emails = {w.email.lower() for w in queued}
        refs = {w.employee_id for w in queued}
        fresh: list[Consultant] = []
        for worker in todo:
            row = rows.get(worker.id)
            if worker.id in point.inviting or (row is not None and row.psa_user_id is not None):
                continue
            if row is not None and row.applied_fingerprint == fingerprint(worker, request.policy):
                continue
            if worker.termination_date is not None and worker.termination_date < request.today:
                continue  # no invitation for a leaver already gone; `_match` skips or links them
            if worker.email.lower() in emails or worker.employee_id in refs:
                continue  # matched when applied, after the worker queued first: linked to it, a conflict
            if await self._kantata.users_by_employee_ref(worker.employee_id):
                continue
            if await self._kantata.users_by_email(worker.email):
                continue
            fresh.append(worker)
            emails.add(worker.email.lower())
            refs.add(worker.employee_id)
        if fresh:
            point.inviting += [w.id for w in fresh]
            beat.save(point)  # before any invitation goes out: a retry knows these workers were invited
        queued += fresh
        for start in range(0, len(queued), INVITATIONS_PER_REQUEST):
            chunk = queued[start : start + INVITATIONS_PER_REQUEST]
            try:
                users = await self._kantata.invite_users(chunk)
            except (BusinessError, NotFoundError):
                continue  # invited one by one when applied: a refused worker is its own exception
            point.invited.update({w.id: users[w.email.lower()] for w in chunk})
            beat.save(point)
        await self._set_cost_centres(request, todo, point, beat)

    async def _set_cost_centres(
        self,
        request: ApplyRequest,
        todo: Sequence[Consultant],
        point: ApplyCheckpoint,
        beat: Checkpoints[ApplyCheckpoint],
    ) -> None:
        """Write the invited workers' cost centres in bulk, so that `upsert_user` neither reads nor writes them.

        A new user holds no value: a worker whose cost centre is unset or unknown to the PSA needs none.
        Each value is an upsert, so a retry may write one again, never a different one.
        """
        pending = [w for w in todo if w.id in point.invited and w.id not in point.cost_centres]
        values = {w.id: cc for w in pending if (cc := _known_cost_centre(w, request.policy)) is not None}
        point.cost_centres += [w.id for w in pending if w.id not in values]
        chunks = [
            list(values)[at : at + CUSTOM_VALUES_PER_REQUEST] for at in range(0, len(values), CUSTOM_VALUES_PER_REQUEST)
        ]
        for chunk in chunks:
            try:
                await self._kantata.set_cost_centres({point.invited[w]: values[w] for w in chunk})
            except (BusinessError, NotFoundError):
                continue  # written per worker by `upsert_user`
            point.cost_centres += chunk
            beat.save(point)

    def _resolve(self, request: ApplyRequest, raised: dict[str, list[str]]) -> None:
        """Resolve each worker's open exceptions of the kinds it did not raise again in this call."""
        bad = {b.worker_id for b in request.bad}
        for kind in WORKER_KINDS:
            keys = [w.id for w in request.workers if w.id not in bad and kind not in raised.get(w.id, ())]
            if keys:
                exc.resolve(
                    self._store,
                    flow=FLOW,
                    system=request.source.hr_system,
                    kind=kind,
                    business_keys=keys,
                    run_id=request.run_id,
                )

    async def _apply(
        self,
        request: ApplyRequest,
        worker: Consultant,
        row: res.ResourceRow | None,
        known_skills: set[str] | None,
        point: ApplyCheckpoint,
    ) -> _Applied:
        source, today, policy = request.source, request.today, request.policy
        applied_print = fingerprint(worker, policy)
        if row is not None and row.applied_fingerprint == applied_print:
            return _Applied("unchanged")
        psa: Consultant | None = None
        if row is not None and row.psa_user_id is not None:
            found = await self._kantata.users_by_ids([row.psa_user_id])
            psa = found[0] if found else None
        result = _Applied("updated")
        invited = point.invited.get(worker.id) if psa is None else None
        if invited is not None:
            result.outcome, psa = "invited", self._new_user(worker, invited)
        elif psa is None:
            matched = await self._match(source, worker, today, ours=worker.id in point.inviting)
            if isinstance(matched, _Applied):
                if matched.outcome == "skipped":
                    await self._save(source, worker, applied_print, psa_user_id=None, active=worker.active)
                return matched
            result.outcome, psa = matched
        user_id = _user_id(psa)
        if result.outcome in ("invited", "linked"):
            await asyncio.to_thread(self._map_ids, worker.id, user_id, psa.email)
            # Capacity appears for a hire (invited, or linked before the first day), not for a colleague
            # the first sync links or a leaver a sweep finds: those change nobody's availability.
            starting = worker.hire_date is not None and worker.hire_date >= today
            staying = worker.termination_date is None or worker.termination_date >= today
            if staying and (result.outcome == "invited" or starting):
                start = max(worker.hire_date, today) if worker.hire_date else today
                result.changes.append(self._change(worker, user_id, start, "hired", None))
        if psa.email.lower() != worker.email.lower():
            result.problems.append(
                _occurrence(
                    source,
                    worker.id,
                    "email_changed",
                    f"{worker.id}'s email in HR is {worker.email}, but the PSA user {user_id} logs in as "
                    f"{psa.email}: change the login in the PSA if the person's address really changed",
                    {"old": psa.email, "new": worker.email, "psa_user_id": user_id},
                )
            )
        cost_centre = worker.cost_centre
        if cost_centre is not None and _known_cost_centre(worker, policy) is None:
            result.problems.append(
                _occurrence(
                    source,
                    worker.id,
                    "unknown_cost_centre",
                    f"{worker.id}'s cost centre {cost_centre!r} is not one the PSA knows; the PSA keeps "
                    f"{psa.cost_centre!r}",
                    {"cost_centre": cost_centre, "known": list(policy.cost_centres or ()), "psa": psa.cost_centre},
                )
            )
            cost_centre = psa.cost_centre
        skills = list(dict.fromkeys(policy.skill_map.get(s, s) for s in worker.skills))
        if known_skills is not None:
            unknown = [s for s in skills if s not in known_skills]
            if unknown:
                result.problems.append(
                    _occurrence(
                        source,
                        worker.id,
                        "unknown_skill",
                        f"{worker.id} has skills the PSA does not know: {', '.join(unknown)} (left out)",
                        {"skills": unknown, "hr_skills": list(worker.skills)},
                    )
                )
                skills = [s for s in skills if s in known_skills]
        target = worker.model_copy(
            update={"email": psa.email, "name": psa.name, "cost_centre": cost_centre, "skills": tuple(skills)}
        )
        await self._kantata.upsert_user(target, cost_centre_set=worker.id in point.cost_centres)
        hours = worker.standard_hours_per_week
        linked_before = row is not None and row.psa_user_id == user_id
        before = Decimal(row.standard_hours_per_week) if linked_before and row and row.standard_hours_per_week else None
        if hours is not None and before != hours:
            effective = max(worker.hire_date, today) if worker.hire_date else today
            await self._kantata.set_standard_hours(user_id, hours, effective)
            if before is not None:
                result.changes.append(self._change(worker, user_id, effective, "hours", hours))
        removed_on = row.allocations_removed_on if linked_before and row else None
        disabled_at = row.disabled_at if linked_before and row else None
        last_day = worker.termination_date
        if last_day is not None and removed_on != last_day:
            await self._kantata.remove_future_allocations(user_id, last_day)
            removed_on = last_day
            result.extra.append("allocations_removed")
            result.changes.append(self._change(worker, user_id, last_day + timedelta(days=1), "left", None))
        if last_day is not None and today > last_day and disabled_at is None:
            await self._kantata.disable_user(user_id)
            disabled_at = datetime.now(UTC)
            result.extra.append("disabled")
        await self._save(
            source,
            worker,
            None if result.problems else applied_print,
            psa_user_id=user_id,
            active=worker.active and disabled_at is None,
            cost_centre=cost_centre,
            skills=skills,
            disabled_at=disabled_at,
            allocations_removed_on=removed_on,
        )
        return result

    async def _match(
        self, source: HRSource, worker: Consultant, today: date, *, ours: bool = False
    ) -> tuple[str, Consultant] | _Applied:
        """A worker the store does not know yet: its PSA user (and whether invited or linked), or why not.

        ``ours``: this call queued the worker for an invitation, so the user found is the one it invited.
        """
        candidates = await self._kantata.users_by_employee_ref(worker.employee_id)
        how = "employee_id"
        if not candidates:
            candidates, how = await self._kantata.users_by_email(worker.email), "email"
            if len(candidates) > 1:
                ids = [_user_id(c) for c in candidates]
                return _Applied(
                    "conflicts",
                    problems=[
                        _occurrence(
                            source,
                            worker.id,
                            "duplicate_email",
                            f"{len(ids)} PSA users have {worker.email}: {', '.join(ids)}; link one by hand",
                            {"email": worker.email, "psa_user_ids": ids, "employee_id": worker.employee_id},
                        )
                    ],
                )
        if not candidates:
            if worker.termination_date is not None and worker.termination_date < today:
                return _Applied("skipped")
            return "invited", self._new_user(worker, await self._kantata.invite_user(worker))
        user = candidates[0]
        other = await asyncio.to_thread(res.resource_by_user, self._store, _user_id(user))
        if other is not None and other.worker_id != worker.id:
            left = other.termination_date is not None or not other.active
            kind = "rehire_new_id" if left else "identity_conflict"
            why = "has left: a rehire under a new HR id?" if left else "is still employed"
            return _Applied(
                "conflicts",
                problems=[
                    _occurrence(
                        source,
                        worker.id,
                        kind,
                        f"{worker.id} matches PSA user {_user_id(user)} (by {how}), which is linked to "
                        f"{other.worker_id}, who {why} Not merged: link or separate them by hand",
                        {
                            "psa_user_id": _user_id(user),
                            "matched_by": how,
                            "email": worker.email,
                            "employee_id": worker.employee_id,
                            "linked_worker_id": other.worker_id,
                            "linked_termination_date": (
                                other.termination_date.isoformat() if other.termination_date else None
                            ),
                        },
                    )
                ],
            )
        return ("invited" if ours else "linked"), user

    @staticmethod
    def _new_user(worker: Consultant, user_id: str) -> Consultant:
        """The user an invitation made, as Kantata holds it: the invitation's email and name, no profile yet."""
        return worker.model_copy(
            update={"source": SystemRef(system=SystemName.KANTATA, id=user_id), "cost_centre": None, "skills": ()}
        )

    def _map_ids(self, worker_id: str, user_id: str, psa_email: str) -> None:
        self._store.map_id("worker", worker_id, "kantata", user_id)
        employee = self._store.system_id("consultant", psa_email.lower(), "netsuite")
        if employee is not None:
            self._store.map_id("worker", worker_id, "netsuite", employee)

    async def _save(
        self, source: HRSource, worker: Consultant, applied_print: str | None, **values: Any
    ) -> res.ResourceRow:
        return await asyncio.to_thread(
            res.save_resource,
            self._store,
            worker.id,
            **{
                "legal_entity": source.legal_entity,
                "hr_system": source.hr_system,
                "employee_id": worker.employee_id,
                "email": worker.email,
                "name": worker.name,
                "title": worker.title,
                "role": worker.role,
                "cost_centre": worker.cost_centre,
                "skills": list(worker.skills),
                "manager_id": worker.manager_id,
                "standard_hours_per_week": worker.standard_hours_per_week,
                "hire_date": worker.hire_date,
                "termination_date": worker.termination_date,
                "applied_fingerprint": applied_print,
                **values,
            },
        )

    @staticmethod
    def _change(
        worker: Consultant, user_id: str | None, start: date, reason: str, hours: Decimal | None
    ) -> AvailabilityChange:
        return AvailabilityChange.model_validate(
            {
                "worker_id": worker.id,
                "psa_user_id": user_id,
                "email": worker.email.lower(),
                "start": start,
                "reason": reason,
                "hours": str(hours) if hours is not None else None,
            }
        )

    # -- leavers ---------------------------------------------------------------------------------

    @activity.defn(name="resources.disable_due")
    @classified
    async def disable_due(self, request: DueRequest) -> ApplyResult:
        """Disable the PSA users of the source's leavers whose last day is before ``today``.

        Their future allocations go first if the apply that learnt the last day did not remove
        them. Nothing is deleted. Counts: ``disabled``, ``allocations_removed``.
        """
        beat = Checkpoints(DueCheckpoint, DueCheckpoint())
        point = beat.last.model_copy(deep=True)
        while True:
            rows = await asyncio.to_thread(
                res.due_disable, self._store, request.source, request.today, after=point.after, limit=_DUE_PAGE
            )
            for row in rows:
                assert row.psa_user_id is not None and row.termination_date is not None
                if row.allocations_removed_on != row.termination_date:
                    await self._kantata.remove_future_allocations(row.psa_user_id, row.termination_date)
                    point.counts["allocations_removed"] = point.counts.get("allocations_removed", 0) + 1
                await self._kantata.disable_user(row.psa_user_id)
                await asyncio.to_thread(
                    res.save_resource,
                    self._store,
                    row.worker_id,
                    disabled_at=datetime.now(UTC),
                    active=False,
                    allocations_removed_on=row.termination_date,
                )
                point.counts["disabled"] = point.counts.get("disabled", 0) + 1
                point.after = row.worker_id
                beat.save(point)
            if len(rows) < _DUE_PAGE:
                return ApplyResult(counts=point.counts)

    # -- time off --------------------------------------------------------------------------------

    @activity.defn(name="resources.apply_time_off")
    @classified
    async def apply_time_off(self, request: ApplyTimeOffRequest) -> ApplyTimeOffResult:
        """Make the PSA's time off in the window match HR's (staged for the run), for a page of workers.

        Per worker (by id, after ``request.after``): a staged day whose hours differ from what
        psflow applied is set; an applied day HR no longer returns (cancelled, denied, gone) is
        cleared; then ``resource_time_off`` is brought in line. Only what psflow applied is ever
        cleared: time off entered in the PSA by hand stays.
        """
        window = request.window
        beat = Checkpoints(TimeOffCheckpoint, TimeOffCheckpoint())
        point = beat.last.model_copy(deep=True)
        remaining = request.limit - point.done
        workers: list[str] = []
        if remaining > 0:
            # Keyset from the last worker done: a retry does not depend on what the page looked like before.
            workers = await asyncio.to_thread(
                res.time_off_workers,
                self._store,
                request.source,
                request.run_id,
                window.start,
                window.end,
                after=point.last or request.after,
                limit=remaining,
            )
        diffs = await asyncio.to_thread(
            res.time_off_diffs, self._store, request.run_id, workers, window.start, window.end
        )
        for diff in diffs:
            if diff.psa_user_id is not None:
                changed = await self._apply_days(diff)
                point.set += len(changed[0])
                point.cleared += len(changed[1])
                if changed[0] or changed[1]:
                    point.availability.append(self._time_off_change(diff, changed))
            point.done += 1
            point.last = diff.worker_id
            beat.save(point)
        return ApplyTimeOffResult(
            set=point.set,
            cleared=point.cleared,
            next_after=point.last if point.done >= request.limit else None,
            availability=point.availability,
        )

    async def _apply_days(self, diff: res.TimeOffDiff) -> tuple[dict[date, Decimal], list[date]]:
        assert diff.psa_user_id is not None
        to_set = {day: hours for day, hours in sorted(diff.staged.items()) if diff.applied.get(day) != hours}
        to_clear = sorted(day for day in diff.applied if day not in diff.staged)
        for day, hours in to_set.items():
            await self._kantata.set_time_off(diff.psa_user_id, day, hours)
        for day in to_clear:
            await self._kantata.clear_time_off(diff.psa_user_id, day)
        await asyncio.to_thread(res.record_time_off, self._store, diff.worker_id, set_days=to_set, cleared=to_clear)
        return to_set, to_clear

    @staticmethod
    def _time_off_change(
        diff: res.TimeOffDiff, changed: tuple[dict[date, Decimal], Sequence[date]]
    ) -> AvailabilityChange:
        days = sorted([*changed[0], *changed[1]])
        start, end = days[0], days[-1]
        off = sum((h for d, h in diff.staged.items() if start <= d <= end), Decimal(0))
        return AvailabilityChange(
            worker_id=diff.worker_id,
            psa_user_id=diff.psa_user_id,
            start=start,
            end=end,
            reason="time_off",
            hours=str(off),
        )
