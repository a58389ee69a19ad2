"""The demo firm's UK practice in HubSpot.

The firm runs HubSpot for its UK practice, so the account holds the clients billed in GBP as
companies (with their contact), and those clients' opportunities as deals with line items —
the other clients live in Salesforce. Ids are fixed so other systems can refer to them:
client ``C-0009`` is company ``5100000009``, opportunity ``OPP-0002`` is deal ``9100000002``
and its n-th line item is ``4100000200 + n``.

The firm records change orders to signed deals the way research note apis-round2 §3 recommends:
a "Change orders" deal pipeline with its own stages (`CHANGE_ORDER_PIPELINE`, `CHANGE_ORDER_STAGES`),
and a paired deal↔deal association label "Change order of" / "Has change order". Neither draws
from the firm's random numbers, so the rest of the seed is the same with or without them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from sandbox._db import SandboxDB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._labels import create_label
from sandbox.systems.hubspot._pipelines import new_stage, store_pipeline
from sandbox.systems.hubspot._schema import INDUSTRIES, OBJECT_TYPES
from sandbox.systems.hubspot._values import now_iso, to_iso

if TYPE_CHECKING:
    from sandbox.seed import Client, DemoFirm, Opportunity

__all__ = [
    "CHANGE_ORDER_INVERSE_LABEL",
    "CHANGE_ORDER_LABEL",
    "CHANGE_ORDER_PIPELINE",
    "CHANGE_ORDER_STAGES",
    "PRACTICE_CURRENCY",
    "company_id",
    "contact_id",
    "deal_id",
    "line_item_id",
    "seed",
]

PRACTICE_CURRENCY = "GBP"
_COMPANY_BASE = 5_100_000_000
_CONTACT_BASE = 6_100_000_000
_DEAL_BASE = 9_100_000_000
_LINE_ITEM_BASE = 4_100_000_000
_PRODUCT_BASE = 1_500_000
_STAGES = {
    "Prospecting": "appointmentscheduled",
    "Qualification": "qualifiedtobuy",
    "Proposal": "presentationscheduled",
    "Negotiation": "contractsent",
    "Closed Won": "closedwon",
    "Closed Lost": "closedlost",
}
CHANGE_ORDER_PIPELINE = "88400001"
"""The id of the firm's "Change orders" deal pipeline."""
CHANGE_ORDER_STAGES = {
    "88400011": ("Drafted", "0.1", "false"),
    "88400012": ("Sent to client", "0.5", "false"),
    "88400013": ("Signed", "1.0", "true"),
    "88400014": ("Withdrawn", "0.0", "true"),
}
"""Its stages: id → (label, probability, isClosed); "Signed" is the won stage."""
CHANGE_ORDER_LABEL = "Change order of"
CHANGE_ORDER_INVERSE_LABEL = "Has change order"
# The firm's industry names whose HubSpot option is not the name in capitals.
_INDUSTRIES = {
    "Education": "EDUCATION_MANAGEMENT",
    "Healthcare": "HOSPITAL_HEALTH_CARE",
    "Manufacturing": "INDUSTRIAL_AUTOMATION",
    "Media": "MEDIA_PRODUCTION",
    "Professional Services": "MANAGEMENT_CONSULTING",
}


def _number(code: str) -> int:
    return int(re.sub(r"\D", "", code))


def company_id(client_id: str) -> str:
    """The HubSpot company id of a demo client (``C-0009`` → ``5100000009``)."""
    return str(_COMPANY_BASE + _number(client_id))


def deal_id(opportunity_id: str) -> str:
    """The HubSpot deal id of a demo opportunity (``OPP-0002`` → ``9100000002``)."""
    return str(_DEAL_BASE + _number(opportunity_id))


def contact_id(client_id: str) -> str:
    """The HubSpot contact id of a demo client's contact (``C-0009`` → ``6100000009``)."""
    return str(_CONTACT_BASE + _number(client_id))


def line_item_id(opportunity_id: str, position: int) -> str:
    """The HubSpot line item id of an opportunity's n-th line item (1-based)."""
    return str(_LINE_ITEM_BASE + _number(opportunity_id) * 100 + position)


def _industry(name: str) -> str | None:
    option = _INDUSTRIES.get(name) or re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
    return option if option in INDUSTRIES else None


def _company(db: SandboxDB, client: Client) -> None:
    address = client.billing_address
    properties = {
        "name": client.name,
        "domain": client.website,
        "website": f"https://{client.website}",
        "industry": _industry(client.industry) or "",
        "address": address.line1,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": address.country,
        "psflow_currency": client.currency,
        "psflow_payment_terms": client.payment_terms,
    }
    records.create(db, OBJECT_TYPES["companies"], properties, id=company_id(client.id))
    person = client.contact
    records.create(
        db,
        OBJECT_TYPES["contacts"],
        {
            "email": person.email,
            "firstname": person.first_name,
            "lastname": person.last_name,
            "jobtitle": person.title,
            "company": client.name,
        },
        id=contact_id(client.id),
    )
    records.associate(db, "contacts", contact_id(client.id), "companies", company_id(client.id), [1])


def _deal(db: SandboxDB, opportunity: Opportunity, products: dict[str, str]) -> None:
    properties = {
        "dealname": opportunity.name,
        "amount": str(opportunity.amount),
        "deal_currency_code": opportunity.currency,
        "closedate": to_iso(datetime.combine(opportunity.close_date, time(), UTC)),
        "dealstage": _STAGES[opportunity.stage],
        "pipeline": "default",
        "psflow_start_date": opportunity.start_date.isoformat(),
        "psflow_end_date": opportunity.end_date.isoformat(),
        "psflow_billing_type": opportunity.billing_type,
        "psflow_rate_card": opportunity.rate_card_id,
    }
    deal = deal_id(opportunity.id)
    records.create(db, OBJECT_TYPES["deals"], properties, id=deal)
    company = company_id(opportunity.client_id)
    records.associate(db, "deals", deal, "companies", company, [5])
    records.associate(db, "deals", deal, "contacts", contact_id(opportunity.client_id), [3])
    for position, item in enumerate(opportunity.line_items, start=1):
        item_id = line_item_id(opportunity.id, position)
        records.create(
            db,
            OBJECT_TYPES["line_items"],
            {
                "name": item.product,
                "quantity": str(item.quantity_hours),
                "price": str(item.unit_price),
                "hs_product_id": products[item.product],
                "hs_line_item_currency_code": opportunity.currency,
                "psflow_role": item.role,
            },
            id=item_id,
        )
        records.associate(db, "deals", deal, "line_items", item_id, [19])


def _change_orders(db: SandboxDB) -> None:
    stamp = now_iso()
    stages = [
        new_stage(
            db,
            {"id": stage_id, "label": label, "displayOrder": order, "metadata": {"probability": p, "isClosed": closed}},
            stamp,
        )
        for order, (stage_id, (label, p, closed)) in enumerate(CHANGE_ORDER_STAGES.items())
    ]
    pipeline = {
        "id": CHANGE_ORDER_PIPELINE,
        "label": "Change orders",
        "displayOrder": 1,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "stages": stages,
    }
    store_pipeline(db, pipeline)
    create_label(db, "deals", "deals", CHANGE_ORDER_LABEL, "change_order_of", CHANGE_ORDER_INVERSE_LABEL)


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write the UK practice: GBP clients as companies and contacts, their opportunities as deals.

    Also the firm's change-order set-up: the "Change orders" pipeline and the deal↔deal label pair.
    """
    _change_orders(db)
    clients = [client for client in firm.clients if client.currency == PRACTICE_CURRENCY]
    opportunities = [o for o in firm.opportunities if o.currency == PRACTICE_CURRENCY]
    names = sorted({item.product for o in firm.opportunities for item in o.line_items})
    products = {name: str(_PRODUCT_BASE + index) for index, name in enumerate(names, start=1)}
    for client in clients:
        _company(db, client)
    for opportunity in opportunities:
        _deal(db, opportunity, products)
