"""Serving the sandbox to its clients' tests over a real loopback socket, as the service itself is served.

HTTP clients and vendor SDKs (simple-salesforce, hubspot-api-client) then talk to it exactly as they
would to the vendor: the socket is bound the way ``python -m sandbox`` binds it (TCP_NODELAY included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from sandbox.__main__ import _bind

__all__ = ["serving"]


@contextmanager
def serving(app: FastAPI, *, start_timeout_s: float = 10) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield its base URL.

    Raises:
        RuntimeError: uvicorn did not start within ``start_timeout_s``.
    """
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
