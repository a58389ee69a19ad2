"""``psflow codec-server``: decrypt payloads for the Temporal Web UI and CLI, for operators holding the token."""

from __future__ import annotations

from typing import Annotated

import typer

from commands._common import UserError, friendly, out, settings
from commands._errors import fail

app = typer.Typer(
    help="The codec server: POST /encode and /decode of encrypted payloads for the Web UI and the CLI.",
    invoke_without_command=True,
)


@app.callback()
@friendly
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: PSFLOW_CODEC_SERVER_HOST)")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: PSFLOW_CODEC_SERVER_PORT, 8702)")
    ] = None,
) -> None:
    """Serve /encode and /decode in the foreground (Ctrl-C stops it); every request needs the bearer token."""
    if ctx.invoked_subcommand is not None:
        return
    from stack.codec import KeyRingError
    from stack.codec_server import PortInUse, TlsSettingsError
    from stack.codec_server import serve as serve_codec

    config = settings()
    try:
        serve_codec(
            config,
            host if host is not None else config.codec_server_host,
            port if port is not None else config.codec_server_port,
        )
    except PortInUse as exc:
        fail(str(exc), 2)
    except (KeyRingError, TlsSettingsError) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        pass


@app.command("new-key")
def new_key() -> None:
    """Print a fresh AES-256 key (base64) for PSFLOW_ENCRYPTION_KEYS or a `<key id>.key` secret file."""
    from stack.codec import new_key_text

    out.print(new_key_text(), highlight=False)


@app.command("token")
@friendly
def show_token() -> None:
    """Print the bearer token operators pass (`temporal ... --codec-auth "Bearer <token>"`)."""
    from stack.codec_server import token

    out.print(token(settings()), highlight=False)
