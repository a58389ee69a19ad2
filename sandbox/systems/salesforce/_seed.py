"""The demo firm in Salesforce: accounts, contacts, products, price book and opportunities.

Every client becomes an Account (``PSFlow_Id__c`` = the firm's client number, e.g. ``C-0001``)
with its billing contact; every opportunity keeps the firm's stage names, probability, close
date and custom fields, with one OpportunityLineItem per line (``PSFlow_Id__c`` = the firm's
line id). Products come from the service catalogue with a price book entry per currency at the
rate card's hourly rate for the product's role. Every won deal has an activated Contract
(``SBQQ__Opportunity__c`` = the deal, ``Opportunity.ContractId`` = the contract) starting on the
deal's start date, for the firm's standard term of `CONTRACT_TERM_MONTHS` (which covers every
deal's end date; a term drawn from the deal's own dates would change with the anchor date). Timestamps follow the firm's
calendar, so the same seed writes the same records; nothing here draws a random number.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import DemoFirm
from sandbox.systems.salesforce._schema import API_VERSION, NAME, SOBJECTS
from sandbox.systems.salesforce._store import SaveContext, create, format_datetime

__all__ = ["CONTRACT_TERM_MONTHS", "seed"]

CONTRACT_TERM_MONTHS = 12
"""The demo firm's contracts run twelve months from the deal's start; its longest engagement runs about nine."""
BILLING_TYPES = {"time_and_materials": "Time and Materials", "fixed_fee": "Fixed Fee"}


class _Clock:
    """Audit stamps (CreatedDate, LastModifiedDate) of the seeded records.

    Drawn from the firm's days, but never later than the moment of seeding, as in a real org: with
    an anchor in the future, every stamp moves back by the same amount, so a poll for changes since
    "now" sees none of the seed and the order of changes is kept.
    """

    def __init__(self, today: date) -> None:
        latest = datetime.combine(today, time(23, 59), UTC)
        self.shift = max(timedelta(0), latest - datetime.now(UTC))

    def at(self, day: date, hour: int = 10) -> str:
        return format_datetime(datetime.combine(day, time(hour), UTC) - self.shift)


def _save(ctx: SaveContext, sobject: str, when: str, body: dict[str, Any]) -> str:
    ctx.now = when
    return str(create(ctx, SOBJECTS[sobject.lower()], body)["Id"])


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write the firm's CRM data."""
    clock = _Clock(firm.today)
    _at = clock.at
    ctx = SaveContext(db=db, version=API_VERSION, now=_at(firm.today))
    setup = _at(firm.today - timedelta(days=400))
    book = _save(ctx, "Pricebook2", setup, {"Name": "Standard Price Book", "IsActive": True})
    db.update(NAME, "Pricebook2", book, {"IsStandard": True})
    roles = {item.product: item.role for opp in firm.opportunities for item in opp.line_items}
    entries: dict[tuple[str, str], str] = {}
    for number, (product, role) in enumerate(sorted(roles.items()), start=1):
        product_id = _save(
            ctx,
            "Product2",
            setup,
            {"Name": product, "ProductCode": f"PS-{number:03d}", "Family": "Professional Services", "IsActive": True},
        )
        for card in firm.rate_cards:
            entries[(product, card.currency)] = _save(
                ctx,
                "PricebookEntry",
                setup,
                {
                    "Pricebook2Id": book,
                    "Product2Id": product_id,
                    "UnitPrice": card.rate_for(role),
                    "CurrencyIsoCode": card.currency,
                    "IsActive": True,
                },
            )
    won = {opp.client_id for opp in firm.opportunities if opp.stage == "Closed Won"}
    accounts: dict[str, str] = {}
    for client in firm.clients:
        address = client.billing_address
        accounts[client.id] = _save(
            ctx,
            "Account",
            setup,
            {
                "Name": client.name,
                "Type": "Customer" if client.id in won else "Prospect",
                "Industry": client.industry,
                "Website": client.website,
                "BillingStreet": address.line1,
                "BillingCity": address.city,
                "BillingState": address.region,
                "BillingPostalCode": address.postal_code,
                "BillingCountry": address.country,
                "CurrencyIsoCode": client.currency,
                "Payment_Terms__c": client.payment_terms,
                "PSFlow_Id__c": client.id,
            },
        )
        contact = client.contact
        _save(
            ctx,
            "Contact",
            setup,
            {
                "AccountId": accounts[client.id],
                "FirstName": contact.first_name,
                "LastName": contact.last_name,
                "Email": contact.email,
                "Title": contact.title,
            },
        )
    for opp in firm.opportunities:
        closed = opp.stage in ("Closed Won", "Closed Lost")
        created = _at(min(opp.close_date, firm.today) - timedelta(days=60))
        opp_id = _save(
            ctx,
            "Opportunity",
            created,
            {
                "Name": opp.name,
                "AccountId": accounts[opp.client_id],
                "StageName": opp.stage,
                "Probability": opp.probability,
                "CloseDate": opp.close_date.isoformat(),
                "CurrencyIsoCode": opp.currency,
                "Pricebook2Id": book,
                "Start_Date__c": opp.start_date.isoformat(),
                "End_Date__c": opp.end_date.isoformat(),
                "Billing_Type__c": BILLING_TYPES[opp.billing_type],
                "Rate_Card__c": opp.rate_card_id,
                "PSFlow_Id__c": opp.id,
            },
        )
        for item in opp.line_items:
            _save(
                ctx,
                "OpportunityLineItem",
                created,
                {
                    "OpportunityId": opp_id,
                    "PricebookEntryId": entries[(item.product, opp.currency)],
                    "Quantity": item.quantity_hours,
                    "UnitPrice": item.unit_price,
                    "ServiceDate": opp.start_date.isoformat(),
                    "Role__c": item.role,
                    "PSFlow_Id__c": item.id,
                },
            )
        modified = _at(opp.close_date, 16) if closed else _at(firm.today - timedelta(days=3), 16)
        contract: dict[str, Any] = {}
        if opp.stage == "Closed Won":
            contract["ContractId"] = _save(
                ctx,
                "Contract",
                _at(opp.close_date, 15),
                {
                    "AccountId": accounts[opp.client_id],
                    "Name": opp.name,
                    "Status": "Activated",
                    "StartDate": opp.start_date.isoformat(),
                    "ContractTerm": CONTRACT_TERM_MONTHS,
                    "CurrencyIsoCode": opp.currency,
                    "SBQQ__Opportunity__c": opp_id,
                },
            )
        db.update(NAME, "Opportunity", opp_id, {**contract, "LastModifiedDate": modified, "SystemModstamp": modified})
