"""``psflow setup`` against the real cluster: a namespace of its own, twice; the second run changes nothing."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from typer.testing import CliRunner

import cli
from commands.setup import slots_used, tcld_command
from stack.client import connect
from stack.local import cluster, temporal_server
from stack.namespaces import describe_retention
from stack.settings import Settings, TemporalSettings
from tests.cluster.conftest import TemporalCluster
from workflows.search_attributes import ALL


def _setup(cluster: TemporalCluster, namespace: str) -> str:
    env = {
        "PSFLOW_TEMPORAL__ADDRESS": cluster.address,
        "PSFLOW_TEMPORAL__NAMESPACE": namespace,
        "PSFLOW_NAMESPACE_RETENTION_HOURS": "48",
    }
    result = CliRunner().invoke(cli.app, ["setup"], env=env)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # as one line, however the console wrapped it


async def test_setup_creates_the_namespace_and_search_attributes_once(temporal_cluster: TemporalCluster) -> None:
    namespace = f"psflow-setup-{uuid.uuid4().hex[:8]}"
    client: Client = await connect(Settings(temporal=TemporalSettings(address=temporal_cluster.address)))
    assert await describe_retention(client, namespace) is None

    first = await asyncio.to_thread(_setup, temporal_cluster, namespace)
    assert f"namespace {namespace}: created (retention 48h)" in first
    assert "search attributes: registered " + ", ".join(sorted(key.name for key in ALL)) in first

    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    registered = {name: IndexedValueType.Name(kind) for name, kind in listed.custom_attributes.items()}
    assert registered == {
        key.name: f"INDEXED_VALUE_TYPE_{'KEYWORD' if key._metadata_type == 'Keyword' else key._metadata_type.upper()}"
        for key in ALL
    }

    second = await asyncio.to_thread(_setup, temporal_cluster, namespace)
    assert f"namespace {namespace}: exists (retention 48h), left as is" in second
    assert f"search attributes: all {len(ALL)} already registered, nothing to do" in second
    again = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    assert dict(again.custom_attributes) == dict(listed.custom_attributes)


def test_psflows_search_attributes_fit_sql_visibility_slots() -> None:
    """10 Keyword and 3 of every other type per namespace: the real cluster rejects the 11th (research §6.3)."""
    assert all(used <= allowed for used, allowed in slots_used().values()), slots_used()


def test_on_cloud_setup_names_the_tcld_line_for_every_attribute() -> None:
    line = tcld_command("psflow.a1b2c")
    assert line.startswith("tcld namespace search-attributes add --namespace psflow.a1b2c ")
    assert all(f'"{key.name}={key._metadata_type}"' in line for key in ALL)


def test_the_schema_set_up_runs_again_on_the_clusters_databases_and_changes_nothing(
    temporal_cluster: TemporalCluster,
) -> None:
    """`dev up --cluster` applies the schemas at every start: databases that exist and are current stay so."""
    sql_tool = temporal_server.ensure(temporal_server.SQL_TOOL)
    lines: list[str] = []
    cluster.setup_schemas(
        sql_tool, cluster.Postgres.from_url(temporal_cluster.postgres_url), temporal_cluster.databases, lines.append
    )
    assert lines == [
        f"database {temporal_cluster.databases.temporal}: schema postgresql/v12/temporal up to date",
        f"database {temporal_cluster.databases.visibility}: schema postgresql/v12/visibility up to date",
    ]


def _setup_exit(cluster: TemporalCluster, namespace: str, **env: str) -> tuple[int, str]:
    environment = {"PSFLOW_TEMPORAL__ADDRESS": cluster.address, "PSFLOW_TEMPORAL__NAMESPACE": namespace, **env}
    result = CliRunner().invoke(cli.app, ["setup"], env=environment)
    return result.exit_code, " ".join(result.output.split())


async def test_with_an_api_key_setup_creates_no_namespace_and_says_cloud_creates_it(
    temporal_cluster: TemporalCluster,
) -> None:
    """Settings naming an API key are Temporal Cloud's shape: no RegisterNamespace (Cloud refuses it); a missing
    namespace is one line saying where to create it, an existing one gets the search attributes checked."""
    missing = f"psflow-cloud-{uuid.uuid4().hex[:8]}"
    code, output = await asyncio.to_thread(_setup_exit, temporal_cluster, missing, PSFLOW_TEMPORAL__API_KEY="k")
    assert code == 1, output
    assert "namespaces are created in Cloud" in output
    assert f"namespace {missing} does not exist in Temporal Cloud: create it there, then re-run" in output
    client = await connect(Settings(temporal=TemporalSettings(address=temporal_cluster.address)))
    assert await describe_retention(client, missing) is None

    code, output = await asyncio.to_thread(
        _setup_exit, temporal_cluster, temporal_cluster.namespace, PSFLOW_TEMPORAL__API_KEY="k"
    )
    assert code == 0, output
    assert f"namespace {temporal_cluster.namespace}: exists (retention 72h), left as is" in output
    assert f"search attributes: all {len(ALL)} already registered, nothing to do" in output


def test_the_sql_tool_gets_the_password_in_its_environment_not_on_its_command_line() -> None:
    postgres = cluster.Postgres.from_url("postgresql+psycopg://temporal:s%40cret@db.internal:6432/postgres")
    assert (postgres.host, postgres.port, postgres.user) == ("db.internal", 6432, "temporal")
    assert "s@cret" not in postgres.sql_tool_args("psflow_temporal")
    assert postgres.sql_tool_env()["SQL_PASSWORD"] == "s@cret"
