"""psflow's inbound HTTP gateway: CRM webhooks in, engagement provisioning started or signalled.

- ``gateway.app.create_app(settings, client_factory)``: the ASGI app (``POST /webhooks/hubspot``,
  ``POST /webhooks/salesforce``, ``GET /healthz``).
- ``gateway.server.serve(settings, host, port)``: uvicorn on a pre-bound socket (``python -m gateway``,
  ``psflow gateway serve``).
- ``gateway.subscriptions.subscribe_sandbox(sandbox_url, gateway_url, secrets)``: point the sandbox's
  CRM emulators at the gateway.

This package only names the routes, so importing it (or ``gateway.subscriptions``) stays cheap.
"""

__all__ = ["HUBSPOT_PATH", "SALESFORCE_PATH"]

HUBSPOT_PATH = "/webhooks/hubspot"
"""HubSpot webhooks, signature v3."""
SALESFORCE_PATH = "/webhooks/salesforce"
"""Opportunity change events from the Salesforce CDC relay."""
