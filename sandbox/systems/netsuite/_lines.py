"""SuiteQL's ``transactionline`` table: one row per sublist line of the transactions the emulator keeps.

SuiteQL keeps a transaction's header in ``transaction`` and its lines in ``transactionline``,
joined by ``transactionline.transaction``; the line's project is its ``entity`` and its amount in
the transaction's currency ``foreignamount`` (research note saas-apis.md §3 "Records & field names":
expense lines carry ``customer`` (the project), ``amount``, ``currency``; invoice lines ``item``,
``quantity``, ``rate``, ``amount``). The emulator takes no joins, so a client reads a page of
headers and then their lines with ``WHERE transaction IN (...)``, two queries a page — as a client
of NetSuite may. The lines are derived from the stored expense reports' ``expense`` and invoices'
``item`` sublists, never stored twice; the column set is psflow's subset [inferred names beyond
``transaction``, ``entity``, ``foreignamount``, ``linesequencenumber``].
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.netsuite._types import BOOL, DATE, NAME, NUMBER, TEXT, RecordType, Ref

TRANSACTION_LINE = RecordType(
    name="transactionLine",
    fields=MappingProxyType(
        {
            "id": TEXT,
            "transaction": Ref(("expenseReport", "invoice")),
            "linesequencenumber": NUMBER,
            "entity": Ref(("job", "customer")),
            "foreignamount": NUMBER,
            "currency": Ref(),
            "category": Ref(),
            "item": Ref(),
            "quantity": NUMBER,
            "rate": NUMBER,
            "expensedate": DATE,
            "isbillable": BOOL,
            "memo": TEXT,
        }
    ),
    read_only=True,
)
"""The ``transactionline`` table (SuiteQL only: it is no REST record type)."""

_SOURCES = (("expenseReport", "expense"), ("invoice", "item"))


def _expense_line(report: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "entity": line.get("customer"),
        "foreignamount": line.get("amount"),
        "currency": line.get("currency"),
        "category": line.get("category"),
        "expensedate": line.get("expenseDate"),
        "isbillable": line.get("isBillable"),
        "memo": line.get("memo"),
    }


def _invoice_line(invoice: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "entity": invoice.get("job") or invoice.get("entity"),
        "foreignamount": line.get("amount"),
        "currency": invoice.get("currency"),
        "item": line.get("item"),
        "quantity": line.get("quantity"),
        "rate": line.get("rate"),
        "memo": line.get("description"),
    }


def _matches(line: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for name, wanted in where.items():
        value = line.get(name)
        if isinstance(wanted, list | tuple | set | frozenset):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def transaction_lines(db: SandboxDB, where: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stored lines matching SQL-style equalities, in (transaction, line) order.

    A condition on ``transaction`` selects the transactions by primary key first, so reading the
    lines of one page of headers touches only those transactions.
    """
    parents = {"id": where["transaction"]} if "transaction" in where else None
    rest = {name: value for name, value in where.items() if name != "transaction"}
    lines: list[dict[str, Any]] = []
    for kind, sublist in _SOURCES:
        build = _expense_line if kind == "expenseReport" else _invoice_line
        for record in db.query(NAME, kind, where=parents):
            for number, line in enumerate(record.get(sublist) or (), start=1):
                row = {"id": str(number), "transaction": record["id"], "linesequencenumber": number}
                row |= {name: value for name, value in build(record, line).items() if value is not None}
                if _matches(row, rest):
                    lines.append(row)
    lines.sort(key=lambda row: (int(row["transaction"]), row["linesequencenumber"]))
    return lines
