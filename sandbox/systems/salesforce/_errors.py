"""The refusal a save or a request ends in, rendered as Salesforce's error array."""

from __future__ import annotations

__all__ = ["SaveError"]


class SaveError(Exception):
    """A refused save, answered as ``[{"message", "errorCode", "fields"}]``."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
