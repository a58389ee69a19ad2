"""Kantata OX (formerly Mavenlink) PSA connector: projects, tasks, users, time and expenses.

```python
async with KantataConnector(KantataSettings()) as psa:
    workspace_id = await psa.create_project(project, customer_name="Northwind")
    page = await psa.time_entries_page(approved=True, performed_on=date(2026, 6, 1))
    entries, unreadable, cursor = page.items, page.unreadable, page.next_cursor
```
"""

from connectors.kantata._listings import ProjectRow
from connectors.kantata._people import INVITATIONS_PER_REQUEST
from connectors.kantata._profile import CUSTOM_VALUES_PER_REQUEST
from connectors.kantata.connector import KantataConnector
from connectors.kantata.errors import parse_error
from connectors.kantata.models import RawTimeOffEntry
from connectors.kantata.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, KantataSettings

__all__ = [
    "CUSTOM_VALUES_PER_REQUEST",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "INVITATIONS_PER_REQUEST",
    "KantataConnector",
    "KantataSettings",
    "ProjectRow",
    "RawTimeOffEntry",
    "parse_error",
]
