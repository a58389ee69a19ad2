"""deploy/observability/ as Prometheus and Grafana read it: promtool checks the config and the alert rules
and runs the rules' unit tests; every psflow series the alerts and dashboards query is one psflow emits."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
PROMTOOL = shutil.which("promtool")
SERIES = re.compile(r"\bpsflow_[a-z_]+")
EMITTERS = ["workflows/_metrics.py", "activities/_metrics.py", "stack/metrics.py", "gateway/_metrics.py"]


def promtool(*args: str) -> str:
    assert PROMTOOL is not None, "install Debian's prometheus package (apt-get install prometheus): it has promtool"
    done = subprocess.run([PROMTOOL, *args], cwd=OBSERVABILITY, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_scrape_config_and_its_rule_files_are_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_the_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    assert "SUCCESS: 5 rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def _queried() -> dict[str, set[str]]:
    """The psflow series each alert file and dashboard queries, without histogram suffixes."""
    found: dict[str, set[str]] = {}
    for path in [OBSERVABILITY / "alerts.yml", *sorted(OBSERVABILITY.glob("grafana-*.json"))]:
        text = path.read_text()
        if path.suffix == ".json":
            dashboard = json.loads(text)
            text = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
        found[path.name] = {re.sub(r"_(bucket|count|sum)$", "", name) for name in SERIES.findall(text)}
    return found


def test_every_queried_psflow_series_is_one_psflow_emits() -> None:
    emitted = {name for module in EMITTERS for name in SERIES.findall((ROOT / module).read_text())}
    queried = _queried()
    assert set(queried) == {"alerts.yml", "grafana-business.json", "grafana-worker.json"}
    for name, series in queried.items():
        assert series, name
        assert series <= emitted, (name, series - emitted)
