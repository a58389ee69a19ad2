"""`NetSuiteConnector`: customers, jobs, tasks and transactions in NetSuite over SuiteTalk REST.

Every write is an upsert by external id (``PUT /record/v1/<type>/eid:<canonical id>``), so a retry,
a redelivered signal or a replayed activity never creates a second record. No idempotency key is
sent: NetSuite reads ``X-NetSuite-Idempotency-Key`` only on asynchronous requests, and an upsert
must be applied each time it is sent — a redo after a compensation repeats the first body and must
undo the compensation, not be answered from a store of earlier requests. `upsert_invoice` reads back
first: an identical invoice is reported as already there without writing, a different one is
updated, a missing one created — so ``created`` stays true to what happened even when an earlier
attempt committed and then lost its answer. The ``write_*`` methods (time bills, expense reports)
are one PUT each, for the daily posting, which keeps its own ledger of what it posted: half the
requests against the account's concurrency limit, the same exactly-once guarantee.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast
from urllib.parse import quote

import httpx

from canonical import BillingType, Customer, Expense, Invoice, Money, Project, Task, TimeEntry
from connectors._core import OAuth1HmacSha256, OAuth2JwtBearerAssertion, PermanentError
from connectors.netsuite import mapping
from connectors.netsuite._charges import ChargeMethods
from connectors.netsuite._jobs import JobAmendments
from connectors.netsuite._listings import Listings
from connectors.netsuite._signing import SigningTransport
from connectors.netsuite._values import MappingError, differences, lookup_id
from connectors.netsuite.errors import RULES, parse_error
from connectors.netsuite.models import JobRecord, JsonObject, PostingResult
from connectors.netsuite.settings import NetSuiteSettings

__all__ = ["SYSTEM", "NetSuiteConnector"]

SYSTEM = "netsuite"


def _eid(external_id: str) -> str:
    return "eid:" + quote(external_id, safe=":")


@contextmanager
def _mapped() -> Iterator[None]:
    """A value missing from the account's id tables is a configuration gap: fail, don't retry."""
    try:
        yield
    except MappingError as exc:
        raise PermanentError(SYSTEM, str(exc), code="unmapped_value") from exc


def _auth(
    settings: NetSuiteSettings, transport: httpx.AsyncBaseTransport
) -> tuple[httpx.Auth | None, httpx.AsyncBaseTransport]:
    if settings.auth_mode == "tba":
        signer = OAuth1HmacSha256(
            settings.realm,
            settings.tba_consumer_key,
            settings.tba_consumer_secret,
            settings.tba_token_id,
            settings.tba_token_secret,
        )
        return None, SigningTransport(transport, signer)
    if settings.m2m_private_key_pem is None or settings.m2m_certificate_id is None:
        raise ValueError("auth_mode 'm2m' needs m2m_certificate_id and m2m_private_key_pem")
    auth = OAuth2JwtBearerAssertion(
        settings.token_url,
        settings.m2m_client_id,
        settings.m2m_private_key_pem,
        settings.m2m_certificate_id,
        audience=None,
        scope=["rest_webservices"],
        algorithm=settings.m2m_algorithm,
    )
    return auth, transport


class NetSuiteConnector(JobAmendments, ChargeMethods, Listings):
    """Typed access to one NetSuite account.

    Args:
        settings: Where and how to connect; defaults to the environment (``PSFLOW_NETSUITE_*``).
        transport: The innermost transport (an ASGI emulator in tests); a real one by default.
    """

    def __init__(
        self, settings: NetSuiteSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        settings = settings or NetSuiteSettings()
        auth, innermost = _auth(settings, transport if transport is not None else httpx.AsyncHTTPTransport())
        self.auth = auth
        """The OAuth 2.0 M2M token lifecycle, or None under TBA (each request is signed instead)."""
        super().__init__(
            SYSTEM,
            settings,
            transport=innermost,
            auth=auth,
            base_url=settings.rest_root,
            parse_error=parse_error,
            rules=RULES,
        )

    # -- reads and upserts by external id --------------------------------------------------------

    async def _get(self, record_type: str, external_id: str, *, expand: bool = False) -> JsonObject | None:
        response = await self.client.request(
            "GET",
            f"/record/v1/{record_type}/{_eid(external_id)}",
            params={"expandSubResources": "true"} if expand else None,
            allow={404},
        )
        return None if response.status_code == 404 else cast(JsonObject, self.client.decode_json(response))

    async def _put(self, record_type: str, external_id: str, body: JsonObject, *, replace: str | None = None) -> str:
        """Upsert by external id and return the internal id from ``Location``."""
        response = await self.client.request(
            "PUT",
            f"/record/v1/{record_type}/{_eid(external_id)}",
            json=body,
            params={"replace": replace} if replace else None,
        )
        location = str(response.headers.get("Location", ""))
        internal_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not internal_id.isdigit():
            raise PermanentError(
                SYSTEM, f"the upsert of {record_type} {external_id!r} answered without a record Location: {location!r}"
            )
        return internal_id

    async def _post_transaction(
        self, record_type: str, external_id: str, body: JsonObject, *, sublist: str | None = None
    ) -> PostingResult:
        existing = await self._get(record_type, external_id, expand=sublist is not None)
        if existing is not None and not differences(existing, body):
            return PostingResult(internal_id=str(existing["id"]), created=False)
        internal_id = await self._put(record_type, external_id, body, replace=sublist)
        return PostingResult(internal_id=internal_id, created=existing is None, updated=existing is not None)

    def _currency_id(self, currency: str) -> str:
        with _mapped():
            return lookup_id(self.settings.currency_ids, currency, "currency", "CURRENCY_IDS")

    # -- master data -----------------------------------------------------------------------------

    async def upsert_customer(self, customer: Customer) -> str:
        """Create or update the customer whose external id is ``customer.id``; return its internal id."""
        with _mapped():
            body = mapping.customer_body(
                customer,
                subsidiary_id=self.settings.subsidiary_id,
                currency_ids=self.settings.currency_ids,
                terms_ids=self.settings.terms_ids,
            )
        return await self._put("customer", customer.id, body, replace="addressBook" if "addressBook" in body else None)

    async def get_customer(self, external_id: str) -> Customer | None:
        """The customer with this external id as a canonical `Customer`, or None."""
        record = await self._get("customer", external_id, expand=True)
        if record is None:
            return None
        with _mapped():
            return mapping.customer_from_record(
                record,
                currency_codes={v: k for k, v in self.settings.currency_ids.items()},
                terms_names={v: k for k, v in self.settings.terms_ids.items()},
            )

    async def upsert_job(
        self,
        project: Project,
        *,
        customer_internal_id: str,
        billing_type: BillingType,
        currency: str,
        terms: str | None,
        rate_card_id: str | None,
    ) -> str:
        """Create or update (and reactivate) the job whose external id is ``project.id``.

        Args:
            project: The project.
            customer_internal_id: The customer it belongs to (from `upsert_customer`).
            billing_type: Time and materials or fixed fee.
            currency: ISO code of the currency the job bills in.
            terms: Payment terms name (``"Net 30"``), if any.
            rate_card_id: The rate card, kept in ``custentity_psflow_rate_card``.

        Returns:
            The job's internal id.
        """
        with _mapped():
            terms_id = (
                None if terms is None else lookup_id(self.settings.terms_ids, terms, "payment terms", "TERMS_IDS")
            )
        body = mapping.job_body(
            project,
            customer_internal_id=customer_internal_id,
            billing_type=billing_type,
            currency_id=self._currency_id(currency),
            terms_id=terms_id,
            rate_card_id=rate_card_id,
            subsidiary_id=self.settings.subsidiary_id,
        )
        return await self._put("job", project.id, body)

    async def get_job(self, external_id: str) -> JobRecord | None:
        """The job with this external id, or None."""
        record = await self._get("job", external_id)
        return None if record is None else JobRecord.from_record(record)

    async def inactivate_job(self, external_id: str) -> None:
        """Mark the job inactive: the compensation of `upsert_job`. A missing job is already undone."""
        await self.client.request(
            "PATCH", f"/record/v1/job/{_eid(external_id)}", json={"isInactive": True}, idempotent=True, allow={404}
        )

    async def upsert_project_task(self, task: Task, *, job_internal_id: str) -> str:
        """Create or update the project task whose external id is ``task.id``; return its internal id."""
        return await self._put("projectTask", task.id, mapping.project_task_body(task, job_internal_id=job_internal_id))

    async def find_employee(self, employee_id: str) -> str | None:
        """The internal id of the employee whose external id is the HR employee id, or None."""
        response = await self.client.request(
            "GET", f"/record/v1/employee/{_eid(employee_id)}", params={"fields": "id"}, allow={404}
        )
        return None if response.status_code == 404 else str(self.client.decode_json(response)["id"])

    # -- transactions ----------------------------------------------------------------------------

    async def write_time_bill(
        self,
        entry: TimeEntry,
        *,
        job_internal_id: str,
        employee_internal_id: str,
        rate: Money,
        task_internal_id: str | None = None,
    ) -> str:
        """Upsert the time bill whose external id is ``entry.id`` with one PUT; return its internal id.

        It does not read first, so it cannot tell a new record from one an earlier attempt wrote: the
        caller's ledger says what it posted. A repeated PUT of the same entry changes nothing.

        Raises:
            BusinessError: NetSuite refused it — a closed period (see `errors.is_closed_period`),
                a job, task or employee that does not exist (``INVALID_KEY_OR_REF``).
        """
        body = mapping.time_bill_body(
            entry,
            job_internal_id=job_internal_id,
            employee_internal_id=employee_internal_id,
            rate=rate.amount,
            task_internal_id=task_internal_id,
        )
        return await self._put("timeBill", entry.id, body)

    async def write_expense_report(self, expense: Expense, *, employee_internal_id: str, job_internal_id: str) -> str:
        """Upsert the one-line expense report whose external id is ``expense.id`` with one PUT (see `write_time_bill`).

        Raises:
            PermanentError: The account's expense category or currency table does not name the expense's.
            BusinessError: NetSuite refused it, as for `write_time_bill`.
        """
        with _mapped():
            category_id = lookup_id(
                self.settings.expense_category_ids, expense.category, "expense category", "EXPENSE_CATEGORY_IDS"
            )
        body = mapping.expense_report_body(
            expense,
            employee_internal_id=employee_internal_id,
            job_internal_id=job_internal_id,
            category_id=category_id,
            currency_id=self._currency_id(expense.amount.currency),
        )
        return await self._put("expenseReport", expense.id, body, replace="expense")

    async def upsert_invoice(
        self, invoice: Invoice, *, customer_internal_id: str, job_internal_id: str
    ) -> PostingResult:
        """Post an invoice whose external id is ``invoice.id``; its lines replace any earlier ones."""
        body = mapping.invoice_body(
            invoice,
            customer_internal_id=customer_internal_id,
            job_internal_id=job_internal_id,
            currency_id=self._currency_id(invoice.currency),
            item_id=self.settings.invoice_item_id,
            subsidiary_id=self.settings.subsidiary_id,
        )
        return await self._post_transaction("invoice", invoice.id, body, sublist="item")
