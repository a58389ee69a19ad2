"""NetSuite (ERP) over SuiteTalk REST: customers, jobs, project tasks, time bills, expenses, invoices.

```python
async with NetSuiteConnector(NetSuiteSettings()) as erp:
    customer_id = await erp.upsert_customer(customer)
    job_id = await erp.upsert_job(project, customer_internal_id=customer_id, ...)
    bill_id = await erp.write_time_bill(entry, job_internal_id=job_id, employee_internal_id=..., rate=rate)
```
"""

from connectors.netsuite._values import MappingError, format_duration, parse_duration
from connectors.netsuite.client import SYSTEM, NetSuiteConnector
from connectors.netsuite.errors import CONCURRENCY_LIMIT_EXCEEDED, is_closed_period, parse_error
from connectors.netsuite.models import (
    AccountingPeriod,
    BillingCustomer,
    ExpenseReportRow,
    InvoiceRow,
    JobRecord,
    JobRow,
    PostingResult,
    TimeBillRow,
)
from connectors.netsuite.settings import NetSuiteSettings

__all__ = [
    "CONCURRENCY_LIMIT_EXCEEDED",
    "SYSTEM",
    "AccountingPeriod",
    "BillingCustomer",
    "ExpenseReportRow",
    "InvoiceRow",
    "JobRecord",
    "JobRow",
    "MappingError",
    "NetSuiteConnector",
    "NetSuiteSettings",
    "PostingResult",
    "TimeBillRow",
    "format_duration",
    "is_closed_period",
    "parse_duration",
    "parse_error",
]
