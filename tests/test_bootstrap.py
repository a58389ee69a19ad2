"""The Temporal CLI bootstrap: reuse before build, clear words when nothing works, failing (not skipping) tests."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stack.local import temporal_cli
from stack.local.temporal_cli import TemporalCliError, ensure_temporal_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No TEMPORAL_CLI, nothing useful on PATH, an empty user cache."""
    monkeypatch.delenv("TEMPORAL_CLI", raising=False)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return empty_bin


def test_a_cached_build_is_reused_without_building(bare_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = temporal_cli.cached_binary()
    assert cached.is_relative_to(bare_machine.parent / "cache")
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(cached.stat().st_mode | stat.S_IXUSR)

    def no_build(_progress: object) -> Path:
        raise AssertionError("must not build when a cached binary exists")

    monkeypatch.setattr(temporal_cli, "build_with_go", no_build)
    assert ensure_temporal_cli() == cached


def test_no_go_and_no_network_says_exactly_what_to_install(bare_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(_progress: object) -> Path:
        raise TemporalCliError("the SDK download failed: network unreachable")

    monkeypatch.setattr(temporal_cli, "download_with_sdk", offline)
    with pytest.raises(TemporalCliError) as caught:
        ensure_temporal_cli()
    message = str(caught.value)
    assert "Go is not installed" in message
    assert "network unreachable" in message
    assert "install Go 1.25+" in message and "TEMPORAL_CLI" in message
    assert "github.com/temporalio/cli/cmd/temporal@v1.5.1" in message


def test_a_bad_temporal_cli_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_CLI", str(tmp_path / "nope"))
    with pytest.raises(TemporalCliError, match=r"TEMPORAL_CLI=.*nope is not an executable"):
        ensure_temporal_cli()


def test_the_module_entry_point_prints_the_path_or_one_clear_error(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "stack.local.temporal_cli"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and Path(ok.stdout.strip()).is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "stack.local.temporal_cli"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TEMPORAL_CLI": str(tmp_path / "missing")},
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: TEMPORAL_CLI=")
    assert "Traceback" not in bad.stderr


def test_workflow_tests_fail_rather_than_skip_when_no_server_can_start(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_worker.py::"
         "test_stack_check_answers_on_every_domain_queue"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TEMPORAL_CLI": str(tmp_path / "missing-temporal")},
        timeout=120,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "1 error" in completed.stdout and "skipped" not in completed.stdout
    assert "TEMPORAL_CLI=" in completed.stdout


def test_the_cluster_tools_module_pins_the_versions_psflow_names() -> None:
    from stack.local import temporal_cli, temporal_server

    go_mod = (temporal_server.TOOLS_MODULE / "go.mod").read_text()
    assert f"go.temporal.io/server {temporal_server.TEMPORAL_SERVER_VERSION}" in go_mod
    assert f"github.com/temporalio/ui-server/v2 {temporal_server.UI_SERVER_VERSION}" in go_mod
    assert f"github.com/temporalio/cli {temporal_cli.TEMPORAL_CLI_VERSION}" in go_mod
    for binary in temporal_server.ALL:
        assert f"tool {binary.package}" in go_mod or f"\t{binary.package}\n" in go_mod, binary.package
