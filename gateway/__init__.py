"""psflow's inbound HTTP gateway: CRM webhooks in, engagement provisioning started or signalled.

- ``gateway.app.create_app(settings, client_factory)``: the ASGI app (``POST /webhooks/hubspot``,
  ``POST /webhooks/salesforce``, ``GET /healthz``; the paths are in `stack.webhooks`).
- ``gateway.server.serve(settings, host, port)``: uvicorn on a pre-bound socket (``python -m gateway``,
  ``psflow gateway serve``).

Pointing the sandbox's CRM emulators at the gateway is the local stack's job:
`stack.local.subscriptions.subscribe_sandbox(sandbox_url, gateway_url, secrets)`.
"""
