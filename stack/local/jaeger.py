"""Find, or build once, the Jaeger v2 binary that receives psflow's traces locally and in tests.

Jaeger v2's module path has no ``/v2`` suffix, so its v2 tags are not Go versions and ``go install``
refuses them; the v1.75.0 tag is a v2 build and ``go install`` of it fails on a ``replace`` in its go.mod.
The tools module in ``tools/jaeger`` (``go get -tool``) depends on it instead, where the ``replace`` does
not apply, and ``go build`` builds it from there (research: temporal-round2 §8.1). A source build has no
UI assets (Jaeger serves a placeholder page); the query API works, and that is what psflow reads.

Order: ``$JAEGER_BIN`` → a cached build → build it with Go into the cache. The version is pinned in
``tools/jaeger/go.mod`` and named here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from stack.local._gobuild import GoBuildFailed, Progress, cli_main, executable, run_go

JAEGER_VERSION = "v1.75.0"
"""The Jaeger module version ``tools/jaeger/go.mod`` requires (a Jaeger v2 build; see the module docstring)."""

JAEGER_PACKAGE = "github.com/jaegertracing/jaeger/cmd/jaeger"
TOOLS_MODULE = Path(__file__).resolve().parents[2] / "tools" / "jaeger"
ENV_VAR = "JAEGER_BIN"


class JaegerError(Exception):
    """No Jaeger binary could be found or built; the message says what to do."""


def cached_binary() -> Path:
    """Where a cached build lives: ``~/.cache/psflow/jaeger-<version>/jaeger`` on Linux."""
    return Path(user_cache_dir("psflow")) / f"jaeger-{JAEGER_VERSION}" / "jaeger"


def find_existing() -> Path | None:
    """A usable Jaeger without building anything, or None."""
    named = os.environ.get(ENV_VAR)
    if named:
        if not executable(Path(named)):
            raise JaegerError(f"{ENV_VAR}={named} is not an executable file: fix the path or unset {ENV_VAR}")
        return Path(named)
    cached = cached_binary()
    return cached if executable(cached) else None


def build_with_go(progress: Progress) -> Path:
    """``go build`` Jaeger from the tools module into the cache, reporting progress as it goes."""
    target = cached_binary()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    progress(f"building Jaeger {JAEGER_VERSION} with Go into {target.parent} (takes a few minutes, once)")
    try:
        run_go(["build", "-v", "-o", str(partial), JAEGER_PACKAGE], progress, cwd=TOOLS_MODULE, every=200)
    except GoBuildFailed as exc:
        raise JaegerError(f"Jaeger is not built and could not be: {exc}; or set {ENV_VAR}") from exc
    if not executable(partial):
        raise JaegerError(f"`go build` of Jaeger left no binary at {partial}")
    partial.replace(target)  # a killed build never leaves a half-written binary where find_existing looks
    return target


def ensure_jaeger(progress: Progress = lambda _line: None) -> Path:
    """A path to a Jaeger binary, building it the first time.

    Raises:
        JaegerError: none is available and Go could not build one.
    """
    return find_existing() or build_with_go(progress)


@dataclass(frozen=True)
class JaegerPorts:
    """Every port a psflow Jaeger listens on; all of them on 127.0.0.1."""

    otlp_grpc: int = 4317
    otlp_http: int = 4318
    query_http: int = 16686
    query_grpc: int = 16685
    health: int = 13133

    @property
    def otlp_endpoint(self) -> str:
        """What an OTLP gRPC exporter is pointed at."""
        return f"http://127.0.0.1:{self.otlp_grpc}"

    @property
    def query_url(self) -> str:
        """The query API (and Jaeger's placeholder UI page)."""
        return f"http://127.0.0.1:{self.query_http}"


def config_yaml(ports: JaegerPorts, max_traces: int = 100_000) -> str:
    """A Jaeger v2 configuration: OTLP in, traces kept in memory, every listener on loopback.

    Jaeger's embedded default binds its query service on all interfaces (temporal-round2 §8.2); this
    one names 127.0.0.1 for each endpoint and turns Jaeger's own metrics off, so no port is shared
    between two Jaegers started side by side with different ``ports``. Jaeger's tracing of itself is off too
    (it would export to localhost:4317, which may be this Jaeger or another).
    """
    host = "127.0.0.1"
    return f"""\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: {max_traces}
  jaeger_query:
    storage:
      traces: memory_store
    http:
      endpoint: "{host}:{ports.query_http}"
    grpc:
      endpoint: "{host}:{ports.query_grpc}"
  healthcheckv2:
    use_v2: true
    http:
      endpoint: "{host}:{ports.health}"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "{host}:{ports.otlp_grpc}"
      http:
        endpoint: "{host}:{ports.otlp_http}"
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
"""


def jaeger_command(binary: Path, config_path: Path) -> list[str]:
    """The command line that runs ``binary`` with the configuration written at ``config_path``."""
    return [str(binary), "--config", f"file:{config_path}"]


def main() -> int:
    """``python -m stack.local.jaeger``: print Jaeger's path, building it first if needed."""
    return cli_main(ensure_jaeger, JaegerError)


if __name__ == "__main__":
    raise SystemExit(main())
