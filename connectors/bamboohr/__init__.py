"""BambooHR (HR) connector: employees, their changes and time off, behind the HR port.

```python
async with BambooHRConnector(BambooHRSettings()) as bamboohr:
    page = await bamboohr.changed_since(mark)
```
"""

from connectors.bamboohr.client import SYSTEM, BambooHRConnector, parse_bamboohr_error
from connectors.bamboohr.mapping import canonical_id, consultant_from_employee, employee_id_of, time_off_from_request
from connectors.bamboohr.settings import DEMO_API_KEY, DEMO_COMPANY, BambooHRSettings

__all__ = [
    "DEMO_API_KEY",
    "DEMO_COMPANY",
    "SYSTEM",
    "BambooHRConnector",
    "BambooHRSettings",
    "canonical_id",
    "consultant_from_employee",
    "employee_id_of",
    "parse_bamboohr_error",
    "time_off_from_request",
]
