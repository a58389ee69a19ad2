"""Runtime fault injection, applied by one ASGI middleware in front of every system.

A ``FaultConfig`` per system says how often requests under ``/{system}/...`` are slowed down,
rejected (429/503/500), left hanging until a 504, or handled and committed before the answer is
lost (``commit_then_fail``) — the case that proves a client's writes are idempotent. Decisions
come from ``random.Random(seed)``, so a sequential run replays exactly; the effective seed is
reported by ``GET /_admin/faults`` even when none was given.

``/_admin/...`` is never faulted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox._auth import expire_all_tokens
from sandbox._db import SandboxDB
from sandbox._framework import SandboxSystem, system_for_path

__all__ = ["ENV_VAR", "ConnectionDropped", "FaultConfig", "FaultInjector", "FaultMiddleware", "faults_from_env"]

ENV_VAR = "PSFLOW_SANDBOX_FAULTS"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Checked in this order against one uniform draw, so each probability is exact.
_ERRORS = ("rate_limit", "unavailable", "server_error", "timeout", "commit_then_fail")
COUNTER_NAMES = ("requests", "latency", *_ERRORS, "token_expiry")

log = logging.getLogger("sandbox.faults")


class FaultConfig(BaseModel):
    """How one system misbehaves. Probabilities are per matching request and must sum to ≤ 1."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, description="Added delay before handling")
    latency_jitter_ms: float = Field(0, ge=0, description="Extra delay drawn uniformly from [0, jitter]")
    rate_limit: float = Field(0, ge=0, le=1, description="Probability of 429 with Retry-After")
    unavailable: float = Field(0, ge=0, le=1, description="Probability of 503 with Retry-After")
    server_error: float = Field(0, ge=0, le=1, description="Probability of 500")
    timeout: float = Field(0, ge=0, le=1, description="Probability of hanging timeout_s, then 504")
    timeout_s: float = Field(60, gt=0)
    retry_after_s: float = Field(1, ge=0, description="Retry-After on 429/503 (rounded up to whole seconds)")
    token_expiry: bool = Field(False, description="Expire all access tokens of the system when applied")
    commit_then_fail: float = Field(0, ge=0, le=1, description="Probability of handling, committing, then failing")
    commit_then_fail_mode: Literal["500", "drop"] = Field(
        "500", description='"500": answer 500 after committing; "drop": close the connection without an answer'
    )
    methods: list[str] | None = Field(
        None, description="Methods affected; default all (commit_then_fail: POST/PUT/PATCH/DELETE)"
    )
    path_regex: str | None = Field(None, description="Only paths (including /{system}) matching re.search")
    times: int | None = Field(None, ge=0, description="Stop after this many requests received a fault")
    seed: int | None = Field(None, description="Seed of the fault decisions; random (and reported) if unset")

    @field_validator("methods")
    @classmethod
    def _upper(cls, methods: list[str] | None) -> list[str] | None:
        return None if methods is None else [m.upper() for m in methods]

    @field_validator("path_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"path_regex {pattern!r} is not a valid regular expression: {exc}") from exc
        return pattern

    @model_validator(mode="after")
    def _probabilities(self) -> FaultConfig:
        total = sum(getattr(self, name) for name in _ERRORS)
        if total > 1 + 1e-9:
            raise ValueError(f"the error probabilities ({', '.join(_ERRORS)}) add up to {total}; they must be ≤ 1")
        return self


class ConnectionDropped(Exception):
    """Raised out of the app to make the server close the connection without an answer."""


@dataclass
class _Active:
    config: FaultConfig
    rng: random.Random
    regex: re.Pattern[str] | None
    remaining: int | None


@dataclass(frozen=True)
class _Plan:
    """What happens to one request, with the config it was decided under."""

    latency_s: float
    error: str | None
    config: FaultConfig


@dataclass
class FaultInjector:
    """Per-system fault configs, their random streams and counters of what was injected."""

    db: SandboxDB
    systems: dict[str, SandboxSystem]
    _active: dict[str, _Active] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.systems:
            self.counters[name] = dict.fromkeys(COUNTER_NAMES, 0)

    def set(self, system: str, config: FaultConfig) -> FaultConfig:
        """Install a config (replacing any), reset the system's counters, return it with its seed."""
        if system not in self.systems:
            raise KeyError(system)
        if config.seed is None:
            config = config.model_copy(update={"seed": random.SystemRandom().randrange(2**31)})
        self._active[system] = _Active(
            config=config,
            rng=random.Random(config.seed),
            regex=re.compile(config.path_regex) if config.path_regex else None,
            remaining=config.times,
        )
        self.counters[system] = dict.fromkeys(COUNTER_NAMES, 0)
        if config.token_expiry:
            expire_all_tokens(self.db, system)
            self.counters[system]["token_expiry"] += 1
        return config

    def clear(self, system: str | None = None) -> None:
        """Remove one system's config (or all); counters are kept for inspection."""
        if system is None:
            self._active.clear()
        else:
            self._active.pop(system, None)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_admin/faults`` returns."""
        return {
            "faults": {name: a.config.model_dump() for name, a in sorted(self._active.items())},
            "remaining": {name: a.remaining for name, a in sorted(self._active.items())},
            "counters": {name: dict(c) for name, c in sorted(self.counters.items())},
        }

    def decide(self, system: str, method: str, path: str) -> _Plan | None:
        """Draw the fate of one request; None when it passes untouched."""
        active = self._active.get(system)
        if active is None or active.remaining == 0:
            return None
        config = active.config
        if active.regex is not None and not active.regex.search(path):
            return None
        if config.methods is not None and method not in config.methods:
            return None
        commit_then_fail_applies = config.methods is not None or method in WRITE_METHODS
        latency_ms = config.latency_ms
        if config.latency_jitter_ms:
            latency_ms += active.rng.uniform(0, config.latency_jitter_ms)
        draw = active.rng.random()
        error = None
        cumulative = 0.0
        for name in _ERRORS:
            if name == "commit_then_fail" and not commit_then_fail_applies:
                break
            cumulative += getattr(config, name)
            if draw < cumulative:
                error = name
                break
        if latency_ms <= 0 and error is None:
            return None
        if active.remaining is not None:
            active.remaining -= 1
        return _Plan(latency_s=latency_ms / 1000, error=error, config=config)

    def refund(self, system: str) -> None:
        """Give back a ``times`` slot taken by a fault that turned out not to apply."""
        active = self._active.get(system)
        if active is not None and active.remaining is not None:
            active.remaining += 1


def faults_from_env() -> dict[str, Any] | None:
    """Parse ``PSFLOW_SANDBOX_FAULTS='{"netsuite": {...}}'``; None when unset."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ENV_VAR} is not valid JSON ({exc}): {raw!r}") from exc
    if not isinstance(value, dict):
        raise ValueError(f'{ENV_VAR} must be a JSON object like {{"netsuite": {{"rate_limit": 0.1}}}}, got {raw!r}')
    return value


class _DropLogFilter(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberate connection drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def _install_drop_log_filter() -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropLogFilter) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_DropLogFilter())


class FaultMiddleware:
    """Outermost ASGI middleware: applies the owning system's faults to each request.

    Args:
        app: The app to wrap.
        injector: The sandbox's fault configs and counters.
        root_system: The system this listener serves at its root (its own port); None on the
            shared port, where ``/{system}`` prefixes say who owns a path. Faults match the path as
            the shared port spells it either way, so one ``path_regex`` works on both.
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector, root_system: str | None = None) -> None:
        self.app = app
        self.injector = injector
        self.root_system = root_system
        _install_drop_log_filter()

    def _locate(self, path: str) -> tuple[SandboxSystem | None, str]:
        if self.root_system is not None:
            return self.injector.systems[self.root_system], f"/{self.root_system}{path}"
        return system_for_path(path, self.injector.systems), path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        system, path = self._locate(scope["path"]) if scope["type"] == "http" else (None, "")
        if system is None:
            await self.app(scope, receive, send)
            return
        counters = self.injector.counters[system.name]
        counters["requests"] += 1
        plan = self.injector.decide(system.name, scope["method"], path)
        if plan is None:
            await self.app(scope, receive, send)
            return
        if plan.latency_s > 0:
            counters["latency"] += 1
            await asyncio.sleep(plan.latency_s)
        if plan.error is None:
            await self.app(scope, receive, send)
        elif plan.error == "commit_then_fail":
            await self._commit_then_fail(system, plan, scope, receive, send)
        elif plan.error == "timeout":
            counters["timeout"] += 1
            if not await self._hang_until_timeout(receive, plan.config.timeout_s):
                await self._error(system, 504, "timeout", "The request timed out (sandbox fault)", scope, send)
        else:
            counters[plan.error] += 1
            status, code, message = {
                "rate_limit": (429, "rate_limited", "Too many requests: retry later (sandbox fault)"),
                "unavailable": (503, "unavailable", "The service is temporarily unavailable (sandbox fault)"),
                "server_error": (500, "server_error", "An unexpected error occurred (sandbox fault)"),
            }[plan.error]
            retry_after = str(math.ceil(plan.config.retry_after_s))
            headers = {"Retry-After": retry_after} if status in (429, 503) else None
            await self._error(system, status, code, message, scope, send, headers)

    @staticmethod
    async def _error(
        system: SandboxSystem,
        status: int,
        code: str,
        message: str,
        scope: Scope,
        send: Send,
        headers: dict[str, str] | None = None,
    ) -> None:
        async def no_receive() -> Message:
            return {"type": "http.disconnect"}

        await system.error_response(status, code, message, headers)(scope, no_receive, send)

    @staticmethod
    async def _hang_until_timeout(receive: Receive, timeout_s: float) -> bool:
        """Wait ``timeout_s``; True if the client went away first (then nothing is sent)."""
        try:
            async with asyncio.timeout(timeout_s):
                while (await receive())["type"] != "http.disconnect":
                    pass
                return True
        except TimeoutError:
            return False

    async def _commit_then_fail(
        self, system: SandboxSystem, plan: _Plan, scope: Scope, receive: Receive, send: Send
    ) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        if status >= 400:
            # Nothing was committed, so there is nothing to lose: answer truthfully.
            if plan.latency_s <= 0:
                self.injector.refund(system.name)
            for message in held:
                await send(message)
            return
        self.injector.counters[system.name]["commit_then_fail"] += 1
        if plan.config.commit_then_fail_mode == "500":
            await self._error(system, 500, "server_error", "An unexpected error occurred (sandbox fault)", scope, send)
            return
        log.info("dropping the connection after committing %s %s", scope["method"], scope["path"])
        # A NUL byte is an illegal header value: h11 and httptools refuse it before writing
        # anything but after marking the response started, so uvicorn then closes the socket
        # with zero bytes sent. A server that accepts it still gets the exception below.
        with contextlib.suppress(Exception):
            await send({"type": "http.response.start", "status": 500, "headers": [(b"x-sandbox-drop", b"\x00")]})
        raise ConnectionDropped(f"sandbox fault: dropped {scope['method']} {scope['path']} after committing")
