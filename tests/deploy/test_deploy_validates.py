"""deploy/ validates offline, and each check fails on the mistake it is there to catch.

The same checks as ``make validate-deploy`` (tools/deploy/validate.py): compose-go on the Compose file,
``kustomize build`` of every overlay through ``kubeconform -strict``, the Helm values' pins, hadolint on
the Dockerfile. Beyond validity, the manifests must match the code: one worker per task queue of
``workflows/_queues.py`` and grace periods longer than the worker's drain (``graceful_shutdown_s``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.settings import Settings
from tests.deploy.conftest import ROOT, validate
from workflows._queues import DOMAINS, FLOWS

# The first run builds the Go tools inside the session fixture (about 2 minutes from an empty Go build cache).
pytestmark = pytest.mark.timeout(900)

QUEUES = {FLOWS, *DOMAINS}
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
EXAMPLE_ENV = DEPLOY / "compose" / "example.env"


def _rendered(overlay: str, tools: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        doc for doc in yaml.safe_load_all(validate.kustomize_build(DEPLOY / "k8s" / "overlays" / overlay, tools)) if doc
    ]


def _queues_of(args: list[str]) -> set[str]:
    assert "--queues" in args, args
    return set(args[args.index("--queues") + 1].split(","))


# --- Compose -------------------------------------------------------------------------------------------


def test_compose_file_validates(deploy_tools: dict[str, Path]) -> None:
    validate.check_compose(COMPOSE, EXAMPLE_ENV, deploy_tools)


def test_compose_runs_a_worker_per_queue_that_drains_before_it_is_killed() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    workers = {name: service for name, service in compose["services"].items() if name.startswith("worker-")}
    served = [queue for service in workers.values() for queue in _queues_of(service["command"])]
    assert sorted(served) == sorted(QUEUES)
    anchor = compose["x-psflow"]
    drain = float(anchor["environment"]["PSFLOW_GRACEFUL_SHUTDOWN_S"])
    assert float(anchor["stop_grace_period"].removesuffix("s")) > drain
    for name in ("gateway", "codec-server", "temporal", "temporal-ui", "postgres"):
        assert name in compose["services"]


def test_compose_check_fails_on_an_unknown_key_a_missing_service_and_an_unset_secret(
    deploy_tools: dict[str, Path], tmp_path: Path
) -> None:
    shutil.copytree(COMPOSE.parent, tmp_path / "compose")
    broken = tmp_path / "compose" / "compose.yaml"
    text = COMPOSE.read_text()

    broken.write_text(
        text.replace("    restart: unless-stopped\n", "    restart: unless-stopped\n    restrat: always\n", 1)
    )
    with pytest.raises(validate.ValidationError, match="restrat"):
        validate.check_compose(broken, EXAMPLE_ENV, deploy_tools)

    broken.write_text(
        text.replace("      temporal-schema:\n        condition", "      temporal-schemas:\n        condition")
    )
    with pytest.raises(validate.ValidationError, match="temporal-schemas"):
        validate.check_compose(broken, EXAMPLE_ENV, deploy_tools)

    env = tmp_path / "partial.env"
    env.write_text(
        "".join(line for line in EXAMPLE_ENV.read_text().splitlines(True) if "PSFLOW_DB_PASSWORD" not in line)
    )
    with pytest.raises(validate.ValidationError, match="PSFLOW_DB_PASSWORD"):
        validate.check_compose(COMPOSE, env, deploy_tools)


# --- Kubernetes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_renders_and_passes_kubeconform_strict(
    overlay: str, deploy_tools: dict[str, Path], k8s_schemas: Path
) -> None:
    manifests = validate.kustomize_build(DEPLOY / "k8s" / "overlays" / overlay, deploy_tools)
    summary = validate.check_manifests(manifests, overlay, deploy_tools, k8s_schemas)
    print(f"{overlay}: {summary}")
    assert "Invalid: 0, Errors: 0, Skipped: 0" in summary


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_runs_one_worker_deployment_per_queue_with_a_grace_period_longer_than_the_drain(
    overlay: str, deploy_tools: dict[str, Path]
) -> None:
    docs = _rendered(overlay, deploy_tools)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (config,) = [c for c in by_kind["ConfigMap"] if c["metadata"]["name"].startswith("psflow-config")]
    drain = float(config["data"]["PSFLOW_GRACEFUL_SHUTDOWN_S"])
    assert drain > Settings().graceful_shutdown_s  # more than the default: Kubernetes gives time to drain

    workers = [d for d in by_kind["Deployment"] if d["metadata"]["name"].startswith("psflow-worker-")]
    served: list[str] = []
    for deployment in workers:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        served.extend(_queues_of(container["args"]))
        assert pod["terminationGracePeriodSeconds"] > drain, deployment["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        refs = {ref.get("configMapRef", ref.get("secretRef", {})).get("name") for ref in container["envFrom"]}
        assert config["metadata"]["name"] in refs and "psflow-env" in refs
    assert sorted(served) == sorted(QUEUES)

    disrupted = {p["metadata"]["name"] for p in by_kind["PodDisruptionBudget"]}
    assert {d["metadata"]["name"] for d in by_kind["Deployment"] if d["metadata"]["name"] != "psflow-codec-server"} <= (
        disrupted
    )
    services = {s["metadata"]["name"] for s in by_kind["Service"]}
    assert {"psflow-gateway", "psflow-codec-server"} <= services
    if overlay != "dev":
        scaled = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind["HorizontalPodAutoscaler"]}
        assert {w["metadata"]["name"] for w in workers} | {"psflow-gateway"} <= scaled
        # the HPA owns the count: a `replicas` in the Deployment would reset it on every `kubectl apply`
        assert not [
            d["metadata"]["name"]
            for d in by_kind["Deployment"]
            if d["metadata"]["name"] in scaled and "replicas" in d["spec"]
        ]
        images = {c["image"] for d in by_kind["Deployment"] for c in d["spec"]["template"]["spec"]["containers"]}
        assert all("/" in image and ":" in image for image in images), images  # a registry and a tag


def test_temporal_cloud_overlays_connect_over_tls_with_the_key_or_certificate_from_a_secret(
    deploy_tools: dict[str, Path],
) -> None:
    for overlay, secret in (
        ("temporal-cloud", "psflow-temporal-cloud"),
        ("temporal-cloud-mtls", "psflow-temporal-tls"),
    ):
        docs = _rendered(overlay, deploy_tools)
        (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
        assert config["data"]["PSFLOW_TEMPORAL__TLS"] == "true"
        for deployment in (d for d in docs if d["kind"] == "Deployment"):
            assert secret in yaml.safe_dump(deployment["spec"]["template"]["spec"]), (overlay, deployment["metadata"])


def test_kubeconform_fails_on_an_unknown_field_and_on_a_kind_it_has_no_schema_for(
    deploy_tools: dict[str, Path], k8s_schemas: Path
) -> None:
    manifests = validate.kustomize_build(DEPLOY / "k8s" / "overlays" / "production", deploy_tools)
    misspelt = manifests.replace("terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", 1)
    with pytest.raises(validate.ValidationError, match="terminationGracePeriodSecond"):
        validate.check_manifests(misspelt, "misspelt", deploy_tools, k8s_schemas)
    unknown = manifests + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    with pytest.raises(validate.ValidationError, match="Widget"):
        validate.check_manifests(unknown, "unknown kind", deploy_tools, k8s_schemas)


# --- Helm values and Dockerfile ------------------------------------------------------------------------


def test_helm_values_pin_the_chart_the_1_29_1_images_and_postgres_from_a_secret() -> None:
    validate.check_helm_values(DEPLOY / "helm" / "temporal-values.yaml")


def test_helm_values_check_fails_on_a_password_in_the_values_or_the_chart_default_image(tmp_path: Path) -> None:
    values = (DEPLOY / "helm" / "temporal-values.yaml").read_text()
    broken = tmp_path / "values.yaml"
    broken.write_text(values.replace("            existingSecret: temporal-db\n", "            password: hunter2\n", 1))
    with pytest.raises(validate.ValidationError, match="existingSecret"):
        validate.check_helm_values(broken)
    broken.write_text(values.replace("    tag: 1.29.1\n", "    tag: 1.31.2\n", 1))
    with pytest.raises(validate.ValidationError, match=r"server\.image\.tag"):
        validate.check_helm_values(broken)


def test_dockerfile_passes_hadolint_runs_psflow_as_pid_1_and_not_as_root() -> None:
    validate.check_dockerfile(ROOT / "Dockerfile")
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert 'ENTRYPOINT ["psflow"]' in lines  # exec form: psflow is PID 1 and receives SIGTERM
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("root", "0")


def test_hadolint_fails_on_a_shell_form_entrypoint(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text((ROOT / "Dockerfile").read_text().replace('ENTRYPOINT ["psflow"]', "ENTRYPOINT psflow"))
    with pytest.raises(validate.ValidationError, match="DL3025"):
        validate.check_dockerfile(dockerfile)


def test_the_image_copies_and_the_build_context_admits_every_module_the_package_ships() -> None:
    """A package added to pyproject.toml but not to the Dockerfile would build an image without it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    packages = {pattern.removesuffix("*") for pattern in setuptools["packages"]["find"]["include"]}
    modules = {f"{module}.py" for module in setuptools["py-modules"]}
    needed = packages | modules | {"pyproject.toml", project["project"]["readme"]}

    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(part.rstrip("/") for part in line.split()[1:-1])
    admitted = {
        line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    assert needed <= copied, needed - copied
    assert needed <= admitted, needed - admitted


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_every_selector_and_scale_target_finds_its_pods(overlay: str, deploy_tools: dict[str, Path]) -> None:
    """kubeconform checks each object alone; a Service or PDB selecting no pod, or an HPA scaling a
    Deployment that does not exist, is valid to it and silently does nothing in a cluster."""
    docs = _rendered(overlay, deploy_tools)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]

    def selects(selector: dict[str, str]) -> int:
        return sum(1 for labels in pod_labels if selector.items() <= labels.items())

    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Service":
            assert selects(doc["spec"]["selector"]) == 1, name
        elif doc["kind"] in ("PodDisruptionBudget", "Deployment"):  # a Deployment: its own pods, no other's
            assert selects(doc["spec"]["selector"]["matchLabels"]) == 1, name
        elif doc["kind"] == "HorizontalPodAutoscaler":
            assert doc["spec"]["scaleTargetRef"]["name"] in deployments, name


def _unknown_settings(names: set[str]) -> set[str]:
    """The PSFLOW_* names that are no setting of stack/settings.py (pydantic-settings ignores them silently)."""
    unknown = set()
    for name in names:
        field, _, nested = name.removeprefix("PSFLOW_").lower().partition("__")
        info = Settings.model_fields.get(field)
        if info is None:
            unknown.add(name)
        elif nested:
            model = info.annotation
            if not (isinstance(model, type) and nested in getattr(model, "model_fields", {})):
                unknown.add(name)
    return unknown


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_every_psflow_variable_the_manifests_set_is_a_setting(overlay: str, deploy_tools: dict[str, Path]) -> None:
    names: set[str] = set()
    for doc in _rendered(overlay, deploy_tools):
        if doc["kind"] == "ConfigMap":
            names.update(doc["data"])
        for key in ("initContainers", "containers"):
            for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get(key, []):
                names.update(item["name"] for item in container.get("env", []))
    names = {name for name in names if name.startswith("PSFLOW_")}
    assert "PSFLOW_TEMPORAL__ADDRESS" in names
    assert not _unknown_settings(names)


def test_every_psflow_variable_the_compose_file_sets_is_a_setting() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    psflow = [service for service in compose["services"].values() if "build" in service]  # psflow's image
    names = {name for service in psflow for name in service.get("environment", {}) if name.startswith("PSFLOW_")}
    assert "PSFLOW_DATABASE_URL" in names
    assert not _unknown_settings(names)
    assert _unknown_settings({"PSFLOW_GRACEFUL_SHUTDOWN", "PSFLOW_TEMPORAL__ADRESS"}) == {
        "PSFLOW_GRACEFUL_SHUTDOWN",
        "PSFLOW_TEMPORAL__ADRESS",
    }


def test_production_workers_report_the_image_tag_as_their_build_id(deploy_tools: dict[str, Path]) -> None:
    rendered = _rendered("production", deploy_tools)
    [config] = [
        doc for doc in rendered if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("psflow-config")
    ]
    images = {
        container["image"]
        for doc in rendered
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"registry.example.com/psflow:{config['data']['PSFLOW_WORKER_BUILD_ID']}"}
