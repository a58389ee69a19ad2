"""Workday (HR) connector: consultants with skills, cost centres and time off, for resource sync.

```python
async with WorkdayConnector(WorkdaySettings()) as workday:
    async for consultant in workday.list_workers(time_off_between=next_four_weeks):
        ...
```
"""

from connectors.workday.client import WorkdayConnector
from connectors.workday.errors import SYSTEM, explain_auth_error, parse_workday_error
from connectors.workday.hr import WorkdayHR
from connectors.workday.mapping import canonical_id, consultant_from_worker, time_off_ranges, wid_of
from connectors.workday.settings import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    DEMO_STAFFING_REPORT,
    DEMO_TENANT,
    WorkdaySettings,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REFRESH_TOKEN",
    "DEMO_STAFFING_REPORT",
    "DEMO_TENANT",
    "SYSTEM",
    "WorkdayConnector",
    "WorkdayHR",
    "WorkdaySettings",
    "canonical_id",
    "consultant_from_worker",
    "explain_auth_error",
    "parse_workday_error",
    "time_off_ranges",
    "wid_of",
]
