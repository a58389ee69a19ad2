"""Contract amendments in the ERP: a job's end date, contract value, billing schedule and rates.

The job is read once and only the fields that differ are sent, in one ``PATCH``; applying the same
amendment again (a retried activity, a replayed workflow) sends nothing. The billing schedule and
the billing type go together in that one update, as NetSuite requires.

NetSuite REST does not expose a project's resources (``ProjectResource``, where role bill rates
live) nor its billing and cost budgets (research note apis-round2.md §6 "Not available through
REST"). The rates in force are therefore recorded on the job itself, in the custom entity field
``custentity_psflow_rates`` (a long text field holding JSON, see `merge_rates`): readable in the UI,
by SuiteQL and by saved searches, and written in the same update as the other fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, cast
from urllib.parse import quote

from canonical import Money, RoleRate
from connectors._core import BaseConnector, BusinessError
from connectors.netsuite._values import differences, ref
from connectors.netsuite.models import JsonObject
from connectors.netsuite.settings import NetSuiteSettings

__all__ = ["RATES_FIELD", "JobAmendments", "job_amendment", "merge_rates"]

RATES_FIELD = "custentity_psflow_rates"
"""The custom entity field (long text) holding the job's role rates by effective date, as JSON."""


def _invalid(field: str, message: str, code: str) -> BusinessError:
    return BusinessError("netsuite", f"{field}: {message}", code=code)


def merge_rates(current: str | None, rates: Sequence[RoleRate], effective_date: date) -> str | None:
    """The rates field with these rates in force from ``effective_date``; None when it holds them already.

    The field reads ``{"currency": "USD", "versions": [{"effective_date": "2026-12-01", "rates":
    {"Manager": "265.00"}}, ...]}``, versions in date order, each naming the roles whose rate
    changed (or was added) on its date. A role's rate on a day is the one of the latest version
    on or before that day that names it, else the job's rate card. An amendment on a date that
    already has a version changes that version's rates.

    Raises:
        BusinessError: The rates are in another currency than the ones recorded, or the field
            does not hold psflow's JSON.
    """
    try:
        recorded: dict[str, Any] = json.loads(current) if current else {"versions": []}
        versions: list[dict[str, Any]] = list(recorded["versions"])
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"the job's field does not hold psflow's rates JSON: {exc}"
        raise _invalid(RATES_FIELD, problem, "invalid_rates") from exc
    currencies = {rate.hourly_rate.currency for rate in rates}
    if recorded.get("currency") is not None and currencies - {recorded["currency"]}:
        problem = f"the job's rates are in {recorded['currency']}, not {', '.join(sorted(currencies))}"
        raise _invalid(RATES_FIELD, problem, "currency_mismatch")
    day = effective_date.isoformat()
    version = next((v for v in versions if v.get("effective_date") == day), None)
    if version is None:
        version = {"effective_date": day, "rates": {}}
        versions.append(version)
    changed = {
        rate.role: str(rate.hourly_rate.amount)
        for rate in rates
        if rate.role not in version["rates"] or Decimal(version["rates"][rate.role]) != rate.hourly_rate.amount
    }
    if not changed:
        return None
    version["rates"] = {**version["rates"], **changed}
    versions.sort(key=lambda v: str(v["effective_date"]))
    body = {"currency": recorded.get("currency") or next(iter(currencies)), "versions": versions}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def job_amendment(
    record: Mapping[str, Any],
    *,
    end_date: date | None,
    contract_value: Money | None,
    rates_json: str | None,
    schedule_ids: Mapping[str, str],
) -> JsonObject:
    """The ``job`` fields an amendment changes, compared with the job as read; empty when none.

    The end date goes to ``projectedEndDate`` (the plan) and ``endDate``; the contract value to
    ``jobPrice``. A job without a billing schedule gets the one configured for its billing type,
    sent together with ``jobBillingType``; a schedule the firm chose is left alone.
    """
    desired: JsonObject = {}
    if end_date is not None:
        desired |= {"projectedEndDate": end_date.isoformat(), "endDate": end_date.isoformat()}
    if contract_value is not None:
        # JSON has no decimal type; a contract value with a few decimal places survives a float exactly.
        desired["jobPrice"] = float(contract_value.amount)
    if rates_json is not None:
        desired[RATES_FIELD] = rates_json
    billing_type = (record.get("jobBillingType") or {}).get("id")
    schedule = schedule_ids.get(str(billing_type)) if billing_type else None
    if schedule is not None and not record.get("billingSchedule"):
        desired["billingSchedule"] = ref(schedule)
    changes = {name: desired[name] for name in differences(record, desired)}
    if "billingSchedule" in changes:
        changes["jobBillingType"] = ref(str(billing_type))
    return changes


class JobAmendments(BaseConnector[NetSuiteSettings]):
    """`amend_job`, mixed into `NetSuiteConnector`."""

    async def amend_job(
        self,
        job_id: str,
        *,
        end_date: date | None,
        contract_value: Money | None,
        rates: Sequence[RoleRate] = (),
        effective_date: date | None = None,
    ) -> None:
        """Apply an amendment to a job; nothing is sent when the job holds these values already.

        Args:
            job_id: The job's internal id (digits), or its external id (the canonical project id).
            end_date: The new end date (``projectedEndDate`` and ``endDate``); None keeps it.
            contract_value: The new contract value (``jobPrice``), in the job's currency; None keeps it.
            rates: Role rates in force from ``effective_date``, recorded in ``custentity_psflow_rates``.
            effective_date: When ``rates`` take effect; required with rates.

        Raises:
            NotFoundError: No such job.
            BusinessError: A value the job cannot take — another currency, rates without an
                effective date — or one NetSuite refused (an end date before the start, a billing
                schedule of the wrong type); the message names the field.
        """
        if rates and effective_date is None:
            raise _invalid(RATES_FIELD, "rates need the date they take effect from", "missing_effective_date")
        key = job_id if job_id.isdigit() else "eid:" + quote(job_id, safe=":")
        record = cast(JsonObject, await self.client.get_json(f"/record/v1/job/{key}"))
        currency_id = str((record.get("currency") or {}).get("id", ""))
        currencies = {code for code, internal in self.settings.currency_ids.items() if internal == currency_id}
        for field, money in [("jobPrice", contract_value), *((RATES_FIELD, r.hourly_rate) for r in rates)]:
            if money is not None and currencies and money.currency not in currencies:
                problem = f"job {job_id} bills in {', '.join(sorted(currencies))}, not {money.currency}"
                raise _invalid(field, problem, "currency_mismatch")
        rates_json = None
        if rates and effective_date is not None:
            rates_json = merge_rates(record.get(RATES_FIELD), rates, effective_date)
        changes = job_amendment(
            record,
            end_date=end_date,
            contract_value=contract_value,
            rates_json=rates_json,
            schedule_ids=self.settings.billing_schedule_ids,
        )
        if changes:
            await self.client.request("PATCH", f"/record/v1/job/{record['id']}", json=changes, idempotent=True)
