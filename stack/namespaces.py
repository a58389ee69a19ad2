"""Creating psflow's namespace on a self-hosted cluster (idempotent).

A cluster creates only ``temporal-system`` (research: temporal-round2 §6.2); even ``default`` must be
registered. Temporal Cloud namespaces are created in Cloud (its web console, ``tcld`` or its API), never
through the workflow service: there this only checks that the namespace answers.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    ListWorkflowExecutionsRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

__all__ = ["describe_retention", "ensure_namespace"]


async def describe_retention(client: Client, namespace: str) -> timedelta | None:
    """The namespace's retention, or None when it does not exist."""
    try:
        described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def ensure_namespace(client: Client, namespace: str, retention: timedelta, *, timeout_s: float = 30.0) -> bool:
    """Register ``namespace`` with ``retention`` unless it exists; True when it was created.

    A namespace that exists keeps its retention (changing it is an operator's decision, not set-up's).
    A new one reaches the frontends' namespace caches within seconds: this waits until it answers a
    visibility query, so a worker or a search-attribute registration right after does not see NotFound.
    """
    if await describe_retention(client, namespace) is not None:
        return False
    period = Duration()
    period.FromTimedelta(retention)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=period)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:  # another set-up won the race
            raise
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await client.workflow_service.list_workflow_executions(
                ListWorkflowExecutionsRequest(namespace=namespace, page_size=1)
            )
            return True
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)
