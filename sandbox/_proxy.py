"""An HTTPS proxy (HTTP ``CONNECT``) that leads the vendors' host names to the systems' own ports.

Some clients cannot be pointed at another host: simple-salesforce logs in at
``https://login.salesforce.com`` (or ``https://{my domain}.salesforce.com``) whatever else it is
told. Given this proxy — ``proxies={"https": "http://127.0.0.1:8710"}``, or ``HTTPS_PROXY`` — the
client's tunnel to ``login.salesforce.com:443`` ends at the Salesforce emulator's own TLS port,
whose certificate (from the sandbox's CA) names that host. Tunnels go only to the systems'
host names and to the sandbox's own ports; anything else is refused, so this never reaches the
internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

__all__ = ["HEAD_LIMIT", "ProxyRoutes", "serve_proxy"]

HEAD_LIMIT = 16 * 1024
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

log = logging.getLogger("sandbox.proxy")


class ProxyRoutes:
    """Which local port a tunnel to ``host:port`` ends at.

    Args:
        hosts: Per system, the vendor host patterns it emulates (``SandboxSystem.hosts``).
        listeners: Per system, the port of its own TLS listener.
    """

    def __init__(self, hosts: Mapping[str, tuple[str, ...]], listeners: Mapping[str, int]) -> None:
        self.hosts = hosts
        self.listeners = listeners

    def target(self, host: str, port: int) -> int | str:
        """The local port to tunnel to, or why the tunnel is refused (a sentence)."""
        host = host.lower().rstrip(".")
        if host in _LOOPBACK:
            if port in self.listeners.values():
                return port
            return f"{host}:{port} is not one of the sandbox's system ports"
        for system, patterns in self.hosts.items():
            if any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns):
                if port != 443:
                    return f"{host} is served on port 443 only"
                if system not in self.listeners:
                    return (
                        f"{host} is the {system} sandbox, which has no port of its own: "
                        f"start it with --listen {system}=PORT --tls"
                    )
                return self.listeners[system]
        return f"{host} is not a host the sandbox emulates"


def _answer(status: str, reason: str = "") -> bytes:
    body = f"{reason}\n".encode() if reason else b""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        # A side that hangs up ends the tunnel; that is how every CONNECT tunnel closes, not an error.
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while chunk := await reader.read(64 * 1024):
                writer.write(chunk)
                await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


def _handler(
    routes: ProxyRoutes, upstream_host: str
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            method, _, rest = head.decode("latin-1").partition(" ")
            target = rest.partition(" ")[0]
            if method != "CONNECT":
                writer.write(
                    _answer("405 Method Not Allowed", "the sandbox proxy only opens tunnels (CONNECT host:443)")
                )
                return
            host, _, port_text = target.rpartition(":")
            routed = routes.target(host.strip("[]"), int(port_text)) if port_text.isdigit() else "no port"
            if isinstance(routed, str):
                log.info("refused CONNECT %s: %s", target, routed)
                writer.write(_answer("403 Forbidden", routed))
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(upstream_host, routed)
            except OSError as exc:
                writer.write(_answer("502 Bad Gateway", f"the sandbox port {routed} did not answer: {exc}"))
                return
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()

    return handle


async def serve_proxy(sock: socket.socket, routes: ProxyRoutes, upstream_host: str = "127.0.0.1") -> asyncio.Server:
    """Start the proxy on a bound socket; close the returned server to stop it."""
    return await asyncio.start_server(_handler(routes, upstream_host), sock=sock, limit=HEAD_LIMIT)
