"""``python -m gateway``: serve psflow's inbound webhooks.

Usage: python -m gateway [--host 127.0.0.1] [--port 8701] [--log-level info]

Secrets, limits and where Temporal and the store are come from the ``PSFLOW_*`` settings.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gateway.server import GatewayNotStarted, PortInUse, serve
from stack.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2: busy port or bad settings, 1: did not start)."""
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Serve psflow's inbound webhooks.")
    parser.add_argument("--host", help="address to listen on (default: PSFLOW_GATEWAY_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: PSFLOW_GATEWAY_PORT or 8701)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations at start-up are not news
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = args.host if args.host is not None else settings.gateway_host
    port = args.port if args.port is not None else settings.gateway_port
    try:
        serve(settings, host, port, log_level=args.log_level)
    except PortInUse as exc:
        print(exc, file=sys.stderr)
        return 2
    except GatewayNotStarted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
