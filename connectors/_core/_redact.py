"""Masking of credentials in any text that may reach a log, an error or a workflow history.

Two layers: exact values we know are secret (client secrets, issued tokens — registered by the
auth classes and settings as soon as they see them) and patterns that catch credentials we were
never told about (bearer tokens, ``access_token=…`` in query strings, form bodies and JSON).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["MASK", "RedactingFilter", "redact", "register_secret"]

MASK = "***"

# Shorter values would mask ordinary words and ids all over a message.
_MIN_SECRET_LENGTH = 6
# Access tokens rotate hourly; keep the newest ones and forget old ones instead of growing forever.
_MAX_REGISTERED = 512

_SECRET_KEYS = (
    "access_token|refresh_token|id_token|client_secret|client_assertion|assertion|password|passwd"
    "|token_secret|consumer_secret|oauth_token_secret|oauth_signature|api_key|apikey|private_key|secret"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers as they appear in dict reprs, raw HTTP dumps and logged header maps.
    # The scheme word stays readable; OAuth 1.0a headers are left to the oauth_signature rule.
    (
        re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!OAuth\b)([A-Za-z]+\s+)?[^\"'\s,;]+"),
        rf"\g<1>\g<2>{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\g<1>{MASK}"),
    # "key": "value" in JSON and 'key': 'value' in Python reprs.
    (
        re.compile(rf"(?i)(([\"'])(?:{_SECRET_KEYS})\2\s*:\s*([\"']))(?:\\.|(?!\3).)*"),
        rf"\g<1>{MASK}",
    ),
    # key=value in query strings, form bodies and OAuth 1.0a headers (quoted values).
    (re.compile(rf"(?i)(\b(?:{_SECRET_KEYS})=[\"']?)[^&\s\"'#,;)\]>]+"), rf"\g<1>{MASK}"),
    # Bare JWTs (client assertions, id tokens) wherever they end up.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
)

_registered: OrderedDict[str, None] = OrderedDict()
_registered_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember secret values so that every later `redact` call masks them.

    Auth classes register client secrets and each token they obtain; settings register their
    `SecretStr` fields. Values shorter than six characters are ignored.

    Args:
        *values: The secret values; `None` and short values are skipped.
    """
    with _registered_lock:
        for value in values:
            if value is None or len(value) < _MIN_SECRET_LENGTH:
                continue
            _registered[value] = None
            _registered.move_to_end(value)
            while len(_registered) > _MAX_REGISTERED:
                _registered.popitem(last=False)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask credentials in `text`.

    Args:
        text: Any human-readable text: an error message, a URL, a log line, a response body.
        secrets: Extra values to mask besides the registered ones and the built-in patterns.

    Returns:
        The text with every known secret and every credential-looking value replaced by `***`.
    """
    with _registered_lock:
        known = list(_registered)
    known.extend(s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH)
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted(set(known), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message and any traceback text of each record.

    Attach it to handlers (``handler.addFilter(RedactingFilter())``) to cover every logger that
    propagates to them; the connector core attaches it to its own loggers.

    Args:
        secrets: Extra values to mask for records passing this filter.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place with its message redacted; never drops a record."""
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        return True
