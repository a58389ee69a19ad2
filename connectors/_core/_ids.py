"""A system's own id from a canonical one (``<system>:<id>``) or from the bare id."""

from __future__ import annotations

__all__ = ["own_id"]


def own_id(value: str, *, prefix: str, kind: str, expected: str) -> str:
    """The system's id in `value`, which is either that id or ``prefix`` + the id.

    Args:
        value: What the caller was given.
        prefix: The system's canonical prefix, e.g. ``"bamboohr:"``.
        kind: What the id is, for messages, e.g. ``"BambooHR employee id"``.
        expected: The accepted forms, for messages, e.g. ``"'<id>' or 'bamboohr:<id>'"``.

    Raises:
        ValueError: Empty, or a canonical id of another system.
    """
    text = str(value).strip()
    if text.startswith(prefix):
        text = text[len(prefix) :]
    elif ":" in text:
        raise ValueError(f"{value!r} is not a {kind}: expected {expected}")
    if not text:
        raise ValueError(f"a {kind} must not be empty")
    return text
