"""Signing in to Salesforce: the three server-to-server grants, and the instance URL they name.

Salesforce returns no ``expires_in``: the session lasts as long as the org's session policy
says. The token is therefore kept until a call answers 401 ``INVALID_SESSION_ID``, when the
shared OAuth 2.0 lifecycle fetches a new one and replays the call once.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from connectors._core import AuthError, OAuth2TokenAuth, Token
from connectors.salesforce.errors import SYSTEM
from connectors.salesforce.settings import SalesforceSettings

__all__ = ["JWT_BEARER_GRANT", "SalesforceOAuth"]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME_S = 180


class SalesforceOAuth(OAuth2TokenAuth):
    """OAuth 2.0 for one org with the grant its settings name.

    Args:
        settings: The org's settings (grant type and credentials).
        **kwargs: `OAuth2TokenAuth` options (``transport``, ``timeout``, ``clock``).
    """

    def __init__(self, settings: SalesforceSettings, **kwargs: Any) -> None:
        kwargs.setdefault("system", SYSTEM)
        super().__init__(**kwargs)
        self._settings = settings

    async def fetch_token(self, client: httpx.AsyncClient) -> Token:
        """Request a session with the configured grant.

        Raises:
            AuthError: The org refused the grant, or answered without an ``instance_url``.
        """
        settings = self._settings
        credentials = {"client_id": settings.client_id, "client_secret": settings.client_secret.get_secret_value()}
        form: dict[str, str]
        if settings.grant_type == "client_credentials":
            form = {"grant_type": "client_credentials", **credentials}
        elif settings.grant_type == "refresh_token":
            assert settings.refresh_token is not None  # settings validation guarantees it
            form = {
                "grant_type": "refresh_token",
                "refresh_token": settings.refresh_token.get_secret_value(),
                **credentials,
            }
        else:
            form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.build_assertion()}
        token = await self.request_token(client, settings.resolved_token_url, form)
        if not isinstance(token.extra.get("instance_url"), str):
            raise AuthError(SYSTEM, "the token response names no instance_url", url=settings.resolved_token_url)
        return token

    def build_assertion(self, now: float | None = None) -> str:
        """The RS256 JWT of the ``jwt_bearer`` grant: ``iss`` client id, ``sub`` user, ``aud`` login host.

        Args:
            now: Issue time in Unix seconds (defaults to the wall clock).
        """
        settings = self._settings
        if settings.private_key is None or settings.username is None:
            raise AuthError(SYSTEM, "the jwt_bearer grant needs a username and a private key")
        issued_at = int(now if now is not None else time.time())
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": settings.jwt_audience,
            "exp": issued_at + _ASSERTION_LIFETIME_S,
        }
        return jwt.encode(claims, settings.private_key.get_secret_value(), algorithm="RS256")

    async def instance_url(self) -> str:
        """The org's API host from the current session (signing in first if needed)."""
        token = await self.current_token()
        return str(token.extra["instance_url"]).rstrip("/")
