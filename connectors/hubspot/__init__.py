"""HubSpot CRM v3: deals, companies and line items as canonical opportunities and customers.

```python
async with HubSpotConnector(HubSpotSettings()) as hubspot:
    async for deal_id in hubspot.closed_won_since(last_poll):
        opportunity = await hubspot.get_deal(deal_id)
```

Inbound webhooks are verified and read with `connectors.hubspot.webhooks`.
"""

from connectors.hubspot.client import HubSpotConnector
from connectors.hubspot.errors import parse_hubspot_error, rate_limit_delay
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.webhooks import (
    WebhookEvent,
    deal_ids_moved_into,
    parse_webhook_events,
    verify_signature_v3,
    won_deal_ids,
)

__all__ = [
    "HubSpotConnector",
    "HubSpotSettings",
    "WebhookEvent",
    "deal_ids_moved_into",
    "parse_hubspot_error",
    "parse_webhook_events",
    "rate_limit_delay",
    "verify_signature_v3",
    "won_deal_ids",
]
