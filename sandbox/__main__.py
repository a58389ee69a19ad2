"""``python -m sandbox``: serve every emulated system on one port, and each on its own if asked.

Usage: python -m sandbox [--host 127.0.0.1] [--port 8700] [--db PATH] [--seed demo] [--today YYYY-MM-DD]
                        [--listen NAME=PORT[,NAME=PORT...]] [--per-system-ports] [--tls] [--proxy PORT]
                        [--log-level warning]

The shared port (``http://127.0.0.1:8700/{system}``, plus ``/_admin``) is always served. Each
``--listen`` adds a port that serves one system at its root, as the real API is served at the
root of its host; with ``--tls`` those ports speak HTTPS with a certificate from the sandbox's
local CA (``<data dir>/tls/ca.pem``), and ``--proxy`` tunnels the vendors' host names to them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from sandbox._proxy import ProxyRoutes, serve_proxy
from sandbox._tls import TlsFiles, ensure_tls
from sandbox.app import DEFAULT_DB_PATH, create_app, create_system_app, discover_systems

__all__ = ["OWN_PORT_OFFSETS", "PROXY_PORT_OFFSET", "PortInUse", "main", "serve"]

PROXY_PORT_OFFSET = 10
OWN_PORT_OFFSETS = {
    "salesforce": 11,
    "hubspot": 12,
    "kantata": 13,
    "netsuite": 14,
    "workday": 15,
    "sink": 16,
    "bamboohr": 17,
}
"""``--per-system-ports``: each system's port is ``--port`` plus its offset (8711 for Salesforce)."""


class PortInUse(Exception):
    """The port is held by another process."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this on Linux; without it every small response waits ~40 ms for
    # the client's delayed ACK (Nagle), which made each request cost 44 ms over a real socket.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} is in use: stop what holds it or pass --port") from None
        raise
    return sock


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host


@dataclass
class _Listener:
    """One port: the shared one (``system`` None) or a system's own."""

    system: str | None
    sock: socket.socket
    url: str = ""


def _data_dir(db_path: str | Path) -> Path:
    return Path(".psflow") if str(db_path) == ":memory:" else Path(db_path).resolve().parent


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the sandbox, which stops its ports in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: FastAPI, log_level: str, tls: TlsFiles | None = None) -> _Server:
    ssl: dict[str, Any] = {} if tls is None else {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)}
    return _Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5, **ssl))


async def _run(
    servers: Sequence[tuple[_Server, socket.socket]], proxy: Callable[[], Awaitable[asyncio.Server]] | None
) -> int:
    """Serve until SIGINT/SIGTERM or until a port stops on its own; then stop the others, shared port last."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    stopping = asyncio.create_task(stop.wait())
    proxy_server = await proxy() if proxy is not None else None
    done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if proxy_server is not None:
        proxy_server.close()
    # The shared port's app owns the database (its lifespan closes it): it stops after the others.
    for server, _sock in servers[1:]:
        server.should_exit = True
    await asyncio.gather(*tasks[1:])
    servers[0][0].should_exit = True
    await tasks[0]
    stopping.cancel()
    return 0 if stopping in done else 1


def own_ports(port: int, systems: Sequence[str]) -> dict[str, int]:
    """``--per-system-ports``: each system at ``port`` + its offset (all 0 when ``port`` is 0)."""
    offsets = dict(OWN_PORT_OFFSETS)
    for name in sorted(set(systems) - set(offsets)):
        offsets[name] = max(offsets.values()) + 1
    return {name: 0 if port == 0 else port + offsets[name] for name in sorted(systems, key=offsets.__getitem__)}


def serve(
    host: str = "127.0.0.1",
    port: int = 8700,
    db_path: str | Path | None = None,
    seed: str | None = None,
    *,
    log_level: str = "warning",
    public_url: str | None = None,
    today: date | None = None,
    listen: Mapping[str, int] | None = None,
    tls: bool = False,
    proxy_port: int | None = None,
) -> int:
    """Run the sandbox until interrupted; the exit status.

    Every port is bound before the app is built, so a busy port fails fast with ``PortInUse``.

    Args:
        listen: ``{system: port}`` served at the root of their own ports (port 0: any free one).
        tls: Serve those ports over HTTPS with a certificate of the sandbox's local CA.
        proxy_port: Also run the vendor-host proxy (``sandbox._proxy``) on this port; needs ``tls``.

    Raises:
        PortInUse: A port is held by another process.
        ValueError: An unknown system in ``listen``, or a proxy without TLS.
    """
    listen = dict(listen or {})
    if proxy_port is not None and not (tls and listen):
        raise ValueError(
            "--proxy leads vendor hosts to the systems' own HTTPS ports: add --listen (or --per-system-ports) and --tls"
        )
    known = [system.name for system in discover_systems()]
    unknown = sorted(set(listen) - set(known))
    if unknown:
        raise ValueError(f"no system {', '.join(unknown)} to listen for: the sandbox has {', '.join(known)}")
    reachable = _reachable(host)
    listeners = [_Listener(None, _bind(host, port))]
    try:
        listeners += [_Listener(name, _bind(host, own)) for name, own in listen.items()]
        proxy_sock = _bind(host, proxy_port) if proxy_port is not None else None
    except BaseException:
        for listener in listeners:
            listener.sock.close()
        raise
    shared = listeners[0]
    shared.url = public_url or f"http://{reachable}:{shared.sock.getsockname()[1]}"
    for listener in listeners[1:]:
        listener.url = f"{'https' if tls else 'http'}://{reachable}:{listener.sock.getsockname()[1]}"

    db_path = db_path or os.environ.get("PSFLOW_SANDBOX_DB") or DEFAULT_DB_PATH
    app = create_app(db_path, seed=seed, public_url=shared.url, today=today)
    systems = app.state.systems
    app.state.listeners = {listener.system: listener.url for listener in listeners[1:]}
    tls_files = ensure_tls(_data_dir(db_path) / "tls", [h for s in systems.values() for h in s.hosts]) if tls else None
    app.state.tls_ca_file = str(tls_files.ca_file) if tls_files else None

    servers = [(_server(app, log_level), shared.sock)]
    servers += [
        (_server(create_system_app(app, str(lis.system)), log_level, tls_files), lis.sock) for lis in listeners[1:]
    ]
    proxy = None
    if proxy_sock is not None:
        routes = ProxyRoutes(
            {name: system.hosts for name, system in systems.items()},
            {str(lis.system): lis.sock.getsockname()[1] for lis in listeners[1:]},
        )
        app.state.proxy_url = f"http://{reachable}:{proxy_sock.getsockname()[1]}"

        async def proxy() -> asyncio.Server:
            return await serve_proxy(proxy_sock, routes, upstream_host=reachable.strip("[]"))

    print(f"psflow sandbox on {shared.url} (db: {db_path})", file=sys.stderr, flush=True)
    for listener in listeners[1:]:
        print(f"  {listener.system} at {listener.url}", file=sys.stderr, flush=True)
    if tls_files is not None:
        print(f"  TLS: trust {tls_files.ca_file} (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)", file=sys.stderr, flush=True)
    if app.state.proxy_url:
        print(f"  proxy for the vendors' hosts: {app.state.proxy_url}", file=sys.stderr, flush=True)
    return asyncio.run(_run(servers, proxy))


def _anchor(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-26") from None


def _listen(value: str) -> dict[str, int]:
    ports: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, port = item.partition("=")
        if not name or not port.isdigit() or int(port) > 65535:
            raise argparse.ArgumentTypeError(f"{item!r} is not NAME=PORT, e.g. salesforce=8711")
        ports[name] = int(port)
    return ports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Serve the psflow SaaS emulators on one port, and each on its own."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700, help="the shared port: every system under /NAME, and /_admin")
    parser.add_argument("--db", help="SQLite file (default: $PSFLOW_SANDBOX_DB or .psflow/sandbox.db)")
    parser.add_argument("--seed", choices=["demo"], help="write the demo firm into an empty DB")
    parser.add_argument(
        "--today",
        type=_anchor,
        help="anchor date of the demo firm, YYYY-MM-DD (default: $PSFLOW_SANDBOX_TODAY or the real date)",
    )
    parser.add_argument("--public-url", help="URL clients use for the shared port (default: http://HOST:PORT)")
    parser.add_argument(
        "--listen",
        type=_listen,
        action="append",
        default=[],
        metavar="NAME=PORT[,NAME=PORT]",
        help="also serve a system at the root of its own port (0: any free port; see /_admin/status)",
    )
    parser.add_argument(
        "--per-system-ports",
        action="store_true",
        help="every system on its own port: --port + "
        + ", ".join(f"{offset} ({name})" for name, offset in OWN_PORT_OFFSETS.items())
        + f"; with --tls, the proxy on --port + {PROXY_PORT_OFFSET}",
    )
    parser.add_argument("--tls", action="store_true", help="serve the systems' own ports over HTTPS (local CA)")
    parser.add_argument("--proxy", type=int, metavar="PORT", help="tunnel the vendors' host names to the own ports")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    listen: dict[str, int] = {}
    if args.per_system_ports:
        listen = own_ports(args.port, [system.name for system in discover_systems()])
        if args.tls and args.proxy is None:
            args.proxy = 0 if args.port == 0 else args.port + PROXY_PORT_OFFSET
    for ports in args.listen:
        listen.update(ports)
    try:
        return serve(
            args.host,
            args.port,
            args.db,
            args.seed,
            log_level=args.log_level,
            public_url=args.public_url,
            today=args.today,
            listen=listen,
            tls=args.tls,
            proxy_port=args.proxy,
        )
    except (PortInUse, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
