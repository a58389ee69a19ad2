"""``psflow gateway``: serve the inbound webhooks, and point the sandbox's CRM emulators at them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from commands._common import UserError, friendly, out, settings, table
from commands._errors import fail

if TYPE_CHECKING:
    from stack.local.subscriptions import Subscription

app = typer.Typer(help="The inbound HTTP gateway: CRM webhooks → engagement provisioning.", no_args_is_help=True)

HostOption = Annotated[str | None, typer.Option(help="Address to listen on (default: PSFLOW_GATEWAY_HOST)")]
PortOption = Annotated[
    int | None, typer.Option(min=1, max=65535, help="Port to listen on (default: PSFLOW_GATEWAY_PORT, 8701)")
]
GatewayUrlOption = Annotated[
    str | None,
    typer.Option(
        help="The gateway's URL as the sandbox reaches it (default: PSFLOW_GATEWAY_PUBLIC_URL, else host:port)"
    ),
]


@app.command("serve")
@friendly
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run the gateway in the foreground (Ctrl-C stops it)."""
    import logging

    from gateway.server import GatewayNotStarted, PortInUse
    from gateway.server import serve as serve_gateway

    config = settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        serve_gateway(
            config,
            host if host is not None else config.gateway_host,
            port if port is not None else config.gateway_port,
        )
    except PortInUse as exc:
        fail(str(exc), 2)
    except GatewayNotStarted as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        pass


@app.command("subscribe")
@friendly
def subscribe(
    gateway_url: GatewayUrlOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="Re-register even current subscriptions.")] = False,
) -> None:
    """Register the gateway with the sandbox's Salesforce relay and HubSpot webhooks (safe to repeat)."""
    from gateway.server import local_url
    from stack.local.subscriptions import GatewaySecrets, SubscriptionError, subscribe_sandbox

    config = settings()
    target = gateway_url or local_url(config)
    try:
        done = subscribe_sandbox(config.sandbox_url, target, GatewaySecrets.from_settings(config), replace=replace)
    except SubscriptionError as exc:
        raise UserError(str(exc)) from None
    _print(done, f"sandbox {config.sandbox_url} → gateway {target}")


@app.command("unsubscribe")
@friendly
def unsubscribe(gateway_url: GatewayUrlOption = None) -> None:
    """Stop the sandbox delivering to the gateway (removes its subscriptions there)."""
    from gateway.server import local_url
    from stack.local.subscriptions import SubscriptionError, unsubscribe_sandbox

    config = settings()
    target = gateway_url or local_url(config)
    try:
        removed = unsubscribe_sandbox(config.sandbox_url, target)
    except SubscriptionError as exc:
        raise UserError(str(exc)) from None
    if not removed:
        out.print(f"no sandbox subscription targets {target}")
        return
    _print(removed, f"sandbox {config.sandbox_url} ↛ gateway {target}")


def _print(subscriptions: list[Subscription], title: str) -> None:
    rows = table("system", "subscription", "delivers to", "state", title=title)
    for subscription in subscriptions:
        rows.add_row(subscription.system, subscription.id, subscription.url, subscription.state)
    out.print(rows)
