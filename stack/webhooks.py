"""Where CRM webhooks reach psflow: the gateway's routes, which senders are configured with.

The gateway serves them (`gateway.app`); the local stack points the sandbox's emulators at them
(`stack.local.subscriptions`). In production they are what an admin enters in Salesforce's relay
and the HubSpot app, after ``PSFLOW_GATEWAY_PUBLIC_URL``.
"""

__all__ = ["HUBSPOT_PATH", "SALESFORCE_PATH"]

HUBSPOT_PATH = "/webhooks/hubspot"
"""HubSpot webhooks, signature v3."""
SALESFORCE_PATH = "/webhooks/salesforce"
"""Opportunity change events from the Salesforce CDC relay."""
