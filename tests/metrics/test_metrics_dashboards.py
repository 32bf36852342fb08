"""The Grafana dashboards cannot drift from the exporter: every metric name in their PromQL is
one the exporter serves, every SPEC 10 family is shown somewhere, and they use the datasource
that docker-compose provisions. (The PromQL itself is parsed by a real Prometheus in
test_metrics_prometheus.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from worker.metrics.collector import FAMILIES, served_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
PROVISIONING = ROOT / "config" / "grafana" / "provisioning"

# PromQL words that look like names but are not metrics.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
             "inf", "nan", "atan2", "start", "end"}


def expressions(dashboard: dict) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query: panel targets and query variables."""
    def walk(panels: list[dict]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield panel.get("title", "?"), target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
            yield f"variable {variable['name']}", inner.group(1) if inner else query


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: strip Grafana variables, strings, label
    matchers, ranges and grouping lists; what is left that is not a function, an aggregation
    or a keyword is a metric name."""
    text = re.sub(r"\$\{?\w+\}?", "x", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in _KEYWORDS:
            names.add(word)
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sla_objective_status{customer="$customer"}', {"sla_objective_status"}),
        ("histogram_quantile(0.95, sum by (task, le) (rate(sla_task_duration_seconds_bucket[$__rate_interval])))",
         {"sla_task_duration_seconds_bucket"}),
        ("max by (customer, service) (sla_objective_status) or on (agreement) vector(0)", {"sla_objective_status"}),
        ("time() - max by (source) (sla_source_last_success_timestamp_seconds offset 5m)",
         {"sla_source_last_success_timestamp_seconds"}),
        ('sum(increase(sla_notifications_total{outcome="failed"}[1d])) / up', {"sla_notifications_total", "up"}),
        ("count(sla_objective_status == 1) and bool sla_burn_rate > 6", {"sla_objective_status", "sla_burn_rate"}),
    ],
)
def test_metric_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names


def test_there_are_overview_customer_and_operations_dashboards():
    assert {p.stem for p in DASHBOARDS} == {"overview", "customer", "operations"}
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_metric_name_in_a_dashboard_is_served_by_the_exporter(path: Path):
    dashboard = json.loads(path.read_text())
    served = served_names()
    found = list(expressions(dashboard))
    assert found, "the dashboard has queries"
    for title, expr in found:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= served, f"{title}: {sorted(names - served)} not served by the exporter"


def test_every_spec_10_family_is_shown_on_some_dashboard():
    used = {name for path in DASHBOARDS for _, expr in expressions(json.loads(path.read_text())) for name in metric_names(expr)}
    for family, (kind, _, _) in FAMILIES.items():
        series = {"counter": {family + "_total"}, "histogram": {family + s for s in ("_bucket", "_count", "_sum")}}.get(kind, {family})
        assert used & series, f"{family} is on no dashboard"


def test_the_customer_dashboard_has_a_customer_variable_used_by_its_panels():
    dashboard = json.loads((ROOT / "dashboards" / "customer.json").read_text())
    assert "customer" in {v["name"] for v in dashboard["templating"]["list"]}
    assert all('customer="$customer"' in expr for title, expr in expressions(dashboard) if not title.startswith("variable"))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboards_use_the_provisioned_datasource(path: Path):
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    uid = next(d["uid"] for d in datasources if d["type"] == "prometheus")
    text = path.read_text()
    used = {m for m in re.findall(r'"uid":\s*"([^"]+)"', text)} - {json.loads(text)["uid"]}
    assert used == {uid}


def test_the_dashboards_provider_reads_the_folder_docker_compose_mounts():
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "sla-worker.yml").read_text())["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./dashboards:{provider['options']['path']}:ro" in mounts
    assert "./config/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_the_customer_variable_lists_customers_only_not_the_suppliers_of_contracts():
    dashboard = json.loads((ROOT / "dashboards" / "customer.json").read_text())
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "customer")
    assert variable["query"]["query"] == 'label_values(sla_objective_status{kind="agreement"}, customer)'


def test_the_overview_keeps_customers_and_contracts_apart_and_shows_contract_compliance():
    dashboard = json.loads((ROOT / "dashboards" / "overview.json").read_text())
    found = list(expressions(dashboard))
    contract = [(title, expr) for title, expr in found if 'kind="contract"' in expr]
    assert {title for title, _ in contract} == {"Contract objectives this period", "Contract compliance against target"}
    assert any("sla_objective_compliance_ratio" in expr for _, expr in contract)
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert "Suppliers and underpinning contracts" in rows
    # Every other objective panel counts the customers' objectives only: a supplier is not a customer.
    objective_families = {n for n in FAMILIES if n.startswith(("sla_objective", "sla_error", "sla_data", "sla_burn"))}
    for title, expr in found:
        if (title, expr) not in contract and metric_names(expr) & objective_families:
            assert 'kind="agreement"' in expr, title
