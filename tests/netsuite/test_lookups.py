"""Look-ups by key (a job by external id, an employee by email, a customer's billing terms) over SuiteQL.

SuiteQL over REST takes no bind parameters, so each key is written into the statement as a quoted
literal: a key holding a quote is found, and one made to look like SQL finds nothing.
"""

from __future__ import annotations

import pytest

from connectors.netsuite import NetSuiteConnector
from tests.netsuite.conftest import FIRM, PRJ_0001_CLIENT

PROJECT = FIRM.project("PRJ-0001")


async def test_a_job_is_found_by_external_id_with_the_currency_it_bills_in(netsuite: NetSuiteConnector) -> None:
    job = await netsuite.find_job("PRJ-0001")
    assert job is not None and job.code == "PRJ-0001" and not job.inactive
    assert job.currency == PROJECT.currency
    assert job.currency_id == netsuite.settings.currency_ids[PROJECT.currency]
    assert await netsuite.find_job("PRJ-9999") is None
    assert await netsuite.find_job("PRJ-0001' OR 'a' = 'a") is None


async def test_an_employee_is_found_by_email_also_when_it_holds_a_quote(netsuite: NetSuiteConnector) -> None:
    consultant = FIRM.consultants[0]
    assert await netsuite.find_employee_by_email(consultant.email) == await netsuite.find_employee(
        consultant.employee_id
    )
    email = "sean.o'brien@psflow-demo.example"
    body = {"firstName": "Seán", "lastName": "O'Brien", "email": email, "subsidiary": {"id": "1"}}
    await netsuite.client.request("PUT", "/record/v1/employee/eid:E-9001", json=body)
    assert await netsuite.find_employee_by_email(email) == await netsuite.find_employee("E-9001")
    assert await netsuite.find_employee_by_email("x' OR '1' = '1") is None
    with pytest.raises(ValueError, match="control character"):
        await netsuite.find_employee_by_email("someone@example.com'\n--")


async def test_a_customer_gives_an_invoice_its_external_id_and_payment_terms(netsuite: NetSuiteConnector) -> None:
    job = await netsuite.find_job("PRJ-0001")
    assert job is not None and job.customer_internal_id is not None
    customer = await netsuite.billing_customer(job.customer_internal_id)
    assert customer is not None and customer.external_id == PRJ_0001_CLIENT
    assert customer.terms == FIRM.client(PRJ_0001_CLIENT).payment_terms
    assert await netsuite.billing_customer("999999") is None
    with pytest.raises(ValueError, match="not a NetSuite internal id"):
        await netsuite.billing_customer("1 OR 1=1")
