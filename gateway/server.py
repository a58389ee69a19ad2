"""Serving the gateway with uvicorn on a socket bound up front, so a busy port fails fast and clearly."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys

from temporalio.client import Client

from stack.settings import Settings

__all__ = ["GatewayNotStarted", "PortInUse", "bind", "local_url", "serve"]


class PortInUse(Exception):
    """The port is held by another process."""


class GatewayNotStarted(Exception):
    """The app did not start (Temporal unreachable, store not writable); the message says why."""


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        PortInUse: Another process holds the port.
        GatewayNotStarted: The address cannot be listened on (unknown host, port out of range, no permission).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY on Linux; without it each small response can wait
    # ~40 ms for the sender's delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} is in use: stop what holds it or pass --port") from None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GatewayNotStarted(f"cannot listen on {host}:{port} ({reason}): pass another --host or --port") from None
    return sock


def local_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """The URL senders use for the gateway: ``gateway_public_url``, else ``http://host:port``."""
    if settings.gateway_public_url:
        return settings.gateway_public_url.rstrip("/")
    host = host or settings.gateway_host
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{reachable}:{port or settings.gateway_port}"


def serve(settings: Settings, host: str, port: int, *, log_level: str = "info") -> None:
    """Run the gateway until interrupted.

    The port is bound and Temporal reached before the app starts, so either failure is one clear error.

    Raises:
        PortInUse: The port is busy.
        GatewayNotStarted: Temporal is unreachable, or the app's start-up failed (its log says why).
    """
    sock = bind(host, port)
    try:
        asyncio.run(_serve(settings, sock, log_level))
    finally:
        sock.close()


async def _serve(settings: Settings, sock: socket.socket, log_level: str) -> None:
    import uvicorn

    from gateway.app import create_app
    from stack.client import connect
    from stack.metrics import MetricsEndpointError, metrics_runtime

    try:
        runtime = metrics_runtime(settings.gateway_metrics_address) if settings.gateway_metrics_address else None
    except MetricsEndpointError as exc:
        raise GatewayNotStarted(f"{exc}: set PSFLOW_GATEWAY_METRICS_ADDRESS to a free host:port, or unset it") from None
    try:
        client = await connect(settings, runtime=runtime, service="psflow-gateway")
    except RuntimeError as exc:
        raise GatewayNotStarted(
            f"cannot reach Temporal at {settings.temporal.address} ({exc}): start the stack with `psflow dev up`"
        ) from None

    async def connected(_settings: Settings) -> Client:
        return client

    url = local_url(settings.model_copy(update={"gateway_public_url": None}), *sock.getsockname()[:2])
    app = create_app(settings, connected, meter=runtime.metric_meter if runtime else None)
    print(f"psflow gateway on {url} (Temporal {settings.temporal.address})", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5, lifespan="on")
    server = uvicorn.Server(config)
    await server.serve(sockets=[sock])
    if not server.started:
        raise GatewayNotStarted("the gateway did not start: see the error above")
