"""What the worker, the CLI, the gateway, the benchmarks and the tests share, one module per reason to change.

- `stack.settings`: psflow's settings (``PSFLOW_*`` variables, ``psflow.toml``, defaults).
- `stack.client`: the one way to connect to Temporal (TLS, API key, data converter, interceptors).
- `stack.connectors`: every SaaS connector built from its settings, once per process.
- `stack.flows`: the one way to start each flow (provisioning, posting, invoicing, the stack check).
- `stack.schedules`: the Temporal Schedules (daily posting, polling fallback, monthly invoicing).
- `stack.webhooks`: the gateway's webhook routes, which senders are configured with.
- `stack.telemetry`: OpenTelemetry tracing, and leaving the process with everything flushed.
- `stack.local`: the local stack (``psflow dev``) and the Temporal CLI it runs.

Nothing here imports `gateway`, `commands`, `bench` or `worker`: they import it.
"""
