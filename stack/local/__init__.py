"""The local stack on one machine: ``psflow dev up | down | status`` and the Temporal CLI it runs.

- `stack.local.devstack`: start, stop and report the stack's background processes.
- `stack.local.services`: those processes, in start order (Temporal dev server, sandbox, gateway, worker).
- `stack.local.temporal_cli`: find, or build once, the ``temporal`` CLI (also used by tests and benchmarks).
"""
