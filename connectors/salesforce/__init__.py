"""Salesforce REST API connector (CRM): opportunities and accounts in, stages and accounts out.

```python
async with SalesforceConnector(SalesforceSettings()) as salesforce:
    opportunity = await salesforce.get_opportunity("0068d00000AbCdEAAV")
    customer = await salesforce.get_account(opportunity.account_id)
```
"""

from connectors.salesforce.auth import SalesforceOAuth
from connectors.salesforce.client import COLLECTION_LIMIT, EXTERNAL_ID_FIELD, SalesforceConnector
from connectors.salesforce.errors import RULES, SYSTEM, parse_salesforce_error
from connectors.salesforce.models import SaveError, SaveResult
from connectors.salesforce.notifications import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ChangeEvent,
    opportunity_ids_won,
    relay_signature,
    verify_relay_signature,
)
from connectors.salesforce.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, SalesforceSettings
from connectors.salesforce.usage import parse_limit_info

__all__ = [
    "COLLECTION_LIMIT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REFRESH_TOKEN",
    "EXTERNAL_ID_FIELD",
    "RULES",
    "SIGNATURE_HEADER",
    "SYSTEM",
    "TIMESTAMP_HEADER",
    "ChangeEvent",
    "SalesforceConnector",
    "SalesforceOAuth",
    "SalesforceSettings",
    "SaveError",
    "SaveResult",
    "opportunity_ids_won",
    "parse_limit_info",
    "parse_salesforce_error",
    "relay_signature",
    "verify_relay_signature",
]
