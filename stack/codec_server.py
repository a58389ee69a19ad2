"""The codec server: ``POST /encode`` and ``POST /decode`` so the Temporal Web UI and CLI show decrypted payloads.

Protocol (the Go SDK's remote codec, research note temporal-round2 §5.2): the body is the proto3 JSON
of ``Payloads`` (``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}``), the answer the same
shape with as many payloads; anything but 200 is an error. The UI sends ``Content-Type`` and
``X-Namespace`` and preflights both routes, so CORS allows the UI's origin(s), POST and those headers.

Only operators decode: every request needs ``Authorization: Bearer <token>`` (the CLI's
``--codec-auth``); without it the answer is 401 and no payload is touched. The Web UI sends a bearer
token only over https, so a local dev server's UI is pointed at ``/t/<token>`` instead (the token in
the path; ``psflow dev up`` does this on loopback — docs/operations.md says why that is acceptable
there and not in production).

In production it serves https (``codec_server_tls_cert`` / ``codec_server_tls_key``) and can require
mutual TLS (``codec_server_client_ca``): the TLS handshake then refuses any client without a
certificate that CA signed, before a byte of HTTP is read, and the bearer token is checked on top —
a stolen token alone decodes nothing, and neither does a certificate alone.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import socket
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from stack.codec import EncryptionCodec, KeyRingError, key_ring, write_secret_once
from stack.settings import Settings

__all__ = ["PortInUse", "TlsSettingsError", "create_app", "serve", "tls_options", "token", "ui_origins"]

TOKEN_FILE = "codec-server.token"


class PortInUse(Exception):
    """The codec server's port is held by another process."""


class TlsSettingsError(Exception):
    """The codec server's TLS settings are incomplete or name files that cannot be read."""


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``ssl_*`` arguments for the settings: none (plain http), https, or https with client certificates.

    Raises:
        TlsSettingsError: A key or client CA without a certificate (or the reverse), or an unreadable file.
    """
    cert, key, client_ca = (
        settings.codec_server_tls_cert,
        settings.codec_server_tls_key,
        settings.codec_server_client_ca,
    )
    if cert is None and key is None and client_ca is None:
        return {}
    if cert is None or key is None:
        raise TlsSettingsError(
            "the codec server's TLS needs both codec_server_tls_cert and codec_server_tls_key"
            + (" (codec_server_client_ca requires them)" if client_ca is not None else "")
        )
    for name, path in (
        ("codec_server_tls_cert", cert),
        ("codec_server_tls_key", key),
        ("codec_server_client_ca", client_ca),
    ):
        if path is not None and not Path(path).is_file():
            raise TlsSettingsError(f"{name}: {path} is not a readable file")
    options: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if client_ca is not None:
        options |= {"ssl_ca_certs": str(client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def token(settings: Settings) -> str:
    """The bearer token: ``codec_server_token``, else its secret file, else ``data_dir``'s (generated, 0600)."""
    if settings.codec_server_token is not None:
        return settings.codec_server_token.get_secret_value()
    path = settings.codec_server_token_file
    if path is None:
        path = settings.data_dir / TOKEN_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_secret_once(path, secrets.token_urlsafe(32))
    text = Path(path).read_text().strip()
    if not text:
        raise KeyRingError(f"the codec server's token file {path} is empty")
    return text


def ui_origins(settings: Settings) -> list[str]:
    """The Web UI origins CORS allows: ``codec_server_origins``, else the origin of ``temporal.ui_url``."""
    if settings.codec_server_origins is not None:
        return settings.codec_server_origins
    parts = urlsplit(settings.temporal.ui_url)
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if parts.hostname == "localhost":  # the dev server's UI answers on both names
        origins.append(f"{parts.scheme}://127.0.0.1{':' + str(parts.port) if parts.port else ''}")
    return origins


def create_app(settings: Settings, codec: EncryptionCodec | None = None, bearer: str | None = None) -> FastAPI:
    """The codec server's ASGI app (keys and token from the settings unless given)."""
    codec = codec or EncryptionCodec(key_ring(settings))
    expected = (bearer or token(settings)).encode()
    app = FastAPI(title="psflow codec server", openapi_url=None, docs_url=None, redoc_url=None)

    def allowed(request: Request, path_token: str | None) -> bool:
        given = path_token
        if given is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else ""
        return bool(given) and secrets.compare_digest(given.encode(), expected)

    async def convert(request: Request, path_token: str | None, decode: bool) -> Response:
        if not allowed(request, path_token):
            return JSONResponse(
                {"detail": "a bearer token is required to encode or decode payloads"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        payloads = Payloads()
        try:
            json_format.Parse(await request.body(), payloads)
        except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"the body is not proto3 JSON of Payloads: {exc}"}, status_code=400)
        try:
            done = await (codec.decode if decode else codec.encode)(list(payloads.payloads))
        except KeyRingError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        body = json_format.MessageToJson(Payloads(payloads=done))
        return Response(body, media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await convert(request, None, decode=False)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await convert(request, None, decode=True)

    @app.post("/t/{path_token}/encode")
    async def encode_token_path(path_token: str, request: Request) -> Response:
        return await convert(request, path_token, decode=False)

    @app.post("/t/{path_token}/decode")
    async def decode_token_path(path_token: str, request: Request) -> Response:
        return await convert(request, path_token, decode=True)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=ui_origins(settings),
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
        max_age=600,
    )
    return app


def serve(settings: Settings, host: str, port: int, *, log_level: str = "info") -> None:
    """Run the codec server until interrupted (the port bound up front: a busy one fails at once).

    Raises:
        PortInUse: The port is busy.
        KeyRingError: The keys or the token cannot be read.
        TlsSettingsError: The TLS settings are incomplete or name unreadable files.
    """
    import uvicorn

    tls = tls_options(settings)
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} is in use: stop what holds it or pass --port") from None
        raise
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        scheme = "https" if tls else "http"
        mutual = " (client certificates required)" if "ssl_ca_certs" in tls else ""
        print(f"psflow codec server on {scheme}://{bound_host}:{bound_port}{mutual}", file=sys.stderr, flush=True)
        # No access log: a UI pointed at /t/<token> would write the token into it.
        config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5, **tls)
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    finally:
        sock.close()
