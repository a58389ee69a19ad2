"""``python -m sandbox``: serve every emulated system on one port.

Usage: python -m sandbox [--host 127.0.0.1] [--port 8700] [--db PATH] [--seed demo] [--today YYYY-MM-DD]
                        [--log-level warning]
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from datetime import date
from pathlib import Path

__all__ = ["PortInUse", "main", "serve"]


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


def serve(
    host: str = "127.0.0.1",
    port: int = 8700,
    db_path: str | Path | None = None,
    seed: str | None = None,
    *,
    log_level: str = "warning",
    public_url: str | None = None,
    today: date | None = None,
) -> None:
    """Run the sandbox until interrupted.

    The port is bound before the app is built, so a busy port fails fast with ``PortInUse``.
    """
    import uvicorn

    from sandbox.app import DEFAULT_DB_PATH, create_app

    sock = _bind(host, port)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    public_url = public_url or f"http://{reachable}:{sock.getsockname()[1]}"
    db_path = db_path or os.environ.get("PSFLOW_SANDBOX_DB") or DEFAULT_DB_PATH
    app = create_app(db_path, seed=seed, public_url=public_url, today=today)
    print(f"psflow sandbox on {public_url} (db: {db_path})", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
    server.run(sockets=[sock])


def _anchor(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-26") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Serve the psflow SaaS emulators on one port."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--db", help="SQLite file (default: $PSFLOW_SANDBOX_DB or .psflow/sandbox.db)")
    parser.add_argument("--seed", choices=["demo"], help="write the demo firm into an empty DB")
    parser.add_argument(
        "--today",
        type=_anchor,
        help="anchor date of the demo firm, YYYY-MM-DD (default: $PSFLOW_SANDBOX_TODAY or the real date)",
    )
    parser.add_argument("--public-url", help="URL clients use (default: http://HOST:PORT)")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            args.db,
            args.seed,
            log_level=args.log_level,
            public_url=args.public_url,
            today=args.today,
        )
    except PortInUse as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
