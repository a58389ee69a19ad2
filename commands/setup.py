"""``psflow setup``: psflow's namespace and search attributes on any Temporal cluster, idempotently.

Self-hosted (``psflow dev up --cluster``, a Helm install): the namespace is registered through the workflow
service with ``namespace_retention_hours`` and the search attributes through the operator API. Temporal
Cloud (an API key or a client certificate in settings): a namespace is created in Cloud itself, never through
these APIs, so setup only checks it answers; where Cloud refuses the operator API, it prints the ``tcld``
command that registers the attributes instead. A second run changes nothing and says so.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from temporalio.service import RPCError, RPCStatusCode

from commands._common import UserError, friendly, out, settings, temporal
from stack.namespaces import describe_retention, ensure_namespace
from stack.search_attributes import SearchAttributeConflict, ensure_search_attributes
from stack.settings import Settings
from workflows.search_attributes import ALL

SQL_VISIBILITY_SLOTS = {"Keyword": 10}
"""Custom search attributes per namespace on SQL visibility: 10 Keyword, 3 of every other type (research:
temporal-round2 §6.3)."""


def slots_used() -> dict[str, tuple[int, int]]:
    """psflow's search attributes by type: (used, allowed on SQL visibility)."""
    used = Counter(key._metadata_type for key in ALL)
    return {kind: (count, SQL_VISIBILITY_SLOTS.get(kind, 3)) for kind, count in sorted(used.items())}


def on_cloud(config: Settings) -> bool:
    """Whether the settings name Temporal Cloud: an API key, a client certificate, or a tmprl.cloud address."""
    temporal_ = config.temporal
    return bool(
        temporal_.api_key or temporal_.tls_cert_path or temporal_.address.split(":")[0].endswith(".tmprl.cloud")
    )


def _hours(period: timedelta | None) -> str:
    return "unknown" if period is None else f"{period.total_seconds() / 3600:g}h"


def tcld_command(namespace: str) -> str:
    """The ``tcld`` line registering psflow's search attributes on a Cloud namespace."""
    pairs = " ".join(f'--search-attribute "{key.name}={key._metadata_type}"' for key in ALL)
    return f"tcld namespace search-attributes add --namespace {namespace} {pairs}"


async def run_setup(config: Settings, say: Callable[[str], None]) -> None:
    """Create what is missing and say what was done or found.

    Raises:
        UserError: the namespace is missing on Cloud, or an attribute exists with another type.
    """
    namespace = config.temporal.namespace
    retention = timedelta(hours=config.namespace_retention_hours)
    client = await temporal(config)
    cloud = on_cloud(config)
    if cloud:
        say(f"Temporal Cloud at {config.temporal.address}: namespaces are created in Cloud (web console or "
            f"`tcld namespace create`), not through the operator API")  # fmt: skip
        found = await describe_retention(client, namespace)
        if found is None:
            raise UserError(f"namespace {namespace} does not exist in Temporal Cloud: create it there, then re-run")
        say(f"namespace {namespace}: exists (retention {_hours(found)}), left as is")
    elif await ensure_namespace(client, namespace, retention):
        say(f"namespace {namespace}: created (retention {_hours(retention)})")
    else:
        found = await describe_retention(client, namespace)
        say(f"namespace {namespace}: exists (retention {_hours(found)}), left as is")
    budget = ", ".join(f"{used}/{allowed} {kind}" for kind, (used, allowed) in slots_used().items())
    try:
        added = await ensure_search_attributes(client)
    except SearchAttributeConflict as exc:
        raise UserError(str(exc)) from None
    except RPCError as exc:
        if not cloud or exc.status not in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
            raise
        say(f"search attributes: Temporal Cloud refused the operator API ({exc.message}); register them with:")
        say(f"  {tcld_command(namespace)}")
        return
    if added:
        say(f"search attributes: registered {', '.join(added)} (SQL visibility slots used: {budget})")
    else:
        say(f"search attributes: all {len(ALL)} already registered, nothing to do (slots used: {budget})")


@friendly
def setup() -> None:
    """Create psflow's namespace (retention from settings) and register its search attributes, idempotently:
    on the local cluster, a self-hosted one, or Temporal Cloud."""
    asyncio.run(run_setup(settings(), lambda line: out.print(line, highlight=False)))
