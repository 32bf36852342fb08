"""SLA_METRICS_SERIES (issue 16): the objective families per customer (the default, SPEC 10's
labels) or once per agreement and objective, each the aggregate of the agreement's customers.

The aggregate rules are a table here; at scale (a few thousand results, on every engine, over
the real HTTP endpoint) the per-customer series are checked against the stored rows and the
per-agreement series against the PromQL aggregation of the per-customer ones (`min without
(customer)` / `max without (customer)`), so the two settings can never tell different stories."""

from __future__ import annotations

import gzip
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.model import Catalogue, Result, Status
from worker.metrics.collector import FAMILIES
from worker.metrics.exposition import render
from worker.metrics.objectives import Figures, aggregate, fastest, ratio
from worker.metrics.server import MetricsServer, make_registry
from worker.scoring.periods import period_of
from worker.scoring.windows import WINDOWS
from worker.storage.burn_rates import StoredBurnRate, upsert_burn_rates
from worker.storage.results import upsert_results

UTC = timezone.utc
NOW = datetime(2026, 7, 20, 12, tzinfo=UTC)
PERIOD = "2026-07"
OBJECTIVE_FAMILIES = [n for n in FAMILIES if n.startswith(("sla_objective", "sla_error", "sla_data", "sla_burn"))]
CODES = {"green": 0, "amber": 1, "red": 2, "no-data": -1}


def exact_ratio(percent: float) -> float:
    return float(Decimal(repr(float(percent))) / 100)


# --- the aggregate rules, as a table ----------------------------------------------------------------

G, A, R, N = "green", "amber", "red", "no-data"

AGGREGATES = [
    # (what, customers' stored figures, expected: target, status, compliance, budget, coverage, counts g/a/r/n)
    ("one customer: its own figures", [Figures(99.9, G, 99.95, 0.5, 0.98)], (0.999, 0, 0.9995, 0.5, 0.98, (1, 0, 0, 0))),
    ("a shared objective: every customer has the same figure, the aggregate is that figure",
     [Figures(99.5, A, 99.6, 0.2, 1.0)] * 3, (0.995, 1, 0.996, 0.2, 1.0, (0, 3, 0, 0))),
    ("the lowest compliance, budget and coverage, each on its own",
     [Figures(99.5, G, 99.9, 0.8, 0.9), Figures(99.5, R, 99.0, -1.0, 1.0), Figures(99.5, G, 99.7, 0.4, 0.95)],
     (0.995, 2, 0.99, -1.0, 0.9, (2, 0, 1, 0))),
    ("red is worse than amber, amber than green",
     [Figures(99.5, G, 99.9), Figures(99.5, A, 99.6), Figures(99.5, G, 99.8)], (0.995, 1, 0.996, None, None, (2, 1, 0, 0))),
    ("a customer without data yet neither hides the others nor drags their compliance down",
     [Figures(99.5, N), Figures(99.5, G, 99.9, 0.8, 1.0)], (0.995, 0, 0.999, 0.8, 1.0, (1, 0, 0, 1))),
    ("no data is the status only when no customer has data", [Figures(95, N)] * 2, (0.95, -1, None, None, None, (0, 0, 0, 2))),
    ("an overspent budget stays below 0", [Figures(90, R, 80.0, -1.0), Figures(90, G, 95.0, 0.5)],
     (0.9, 2, 0.8, -1.0, None, (1, 0, 1, 0))),
    ("a latency objective has no coverage", [Figures(95, G, 96.0, 0.2), Figures(95, G, 97.0, 0.4)],
     (0.95, 0, 0.96, 0.2, None, (2, 0, 0, 0))),
    ("a stored status the endpoint does not know counts as no data", [Figures(99, "unknown"), Figures(99, G, 99.5)],
     (0.99, 0, 0.995, None, None, (1, 0, 0, 1))),
]


@pytest.mark.parametrize(("what", "figures", "expected"), AGGREGATES, ids=[a[0] for a in AGGREGATES])
def test_the_per_agreement_aggregate_of_an_objective_is_the_worst_of_its_customers(what, figures, expected):
    found = aggregate(figures)
    target, status, compliance, budget, coverage, (green, amber, red, no_data) = expected
    assert (found.target, found.status, found.compliance, found.budget, found.coverage) == (
        target, status, compliance, budget, coverage
    ), what
    assert found.customers == {"green": green, "amber": amber, "red": red, "no-data": no_data}
    assert sum(found.customers.values()) == len(figures)


def test_an_aggregate_of_no_customers_is_refused():
    with pytest.raises(ValueError):
        aggregate([])


BURNS = [
    ("per window, the fastest customer", [(0.5, 2.0), (3.0, 0.1)], [3.0, 2.0]),
    ("a customer without a rate in a window is not counted", [(None, 1.0), (0.2, None)], [0.2, 1.0]),
    ("no rate at all: no sample", [(None, None), (None, None)], [None, None]),
    ("an infinite rate (target 100 %, something bad) is the fastest", [(math.inf, 0.0), (5.0, 0.0)], [math.inf, 0.0]),
]


@pytest.mark.parametrize(("what", "rates", "expected"), BURNS, ids=[b[0] for b in BURNS])
def test_the_per_agreement_burn_rate_is_the_fastest_customers(what, rates, expected):
    assert fastest(rates) == expected, what


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False) | st.sampled_from([99.9, 99.95, 0.0, 1e-7, 100.0, 12345678.9]))
def test_a_percentage_becomes_the_float_nearest_the_decimal_quotient(percent):
    assert ratio(percent) == exact_ratio(percent)


def test_infinite_and_nan_percentages_keep_their_meaning():
    assert ratio(math.inf) == math.inf and math.isnan(ratio(math.nan))


# --- at scale, on every engine, through the endpoint -----------------------------------------------

AGREEMENTS, CUSTOMERS = 2, 150  # × 10 objectives: 3,000 current results, 15,000 burn rates


def write_config(directory: Path) -> Catalogue:
    """Two agreements of 150 practices: a per-customer site link and nine objectives on
    shared services (availability, latency, incidents); and a supplier's contract."""
    directory.mkdir()
    lines = [
        "calendars:", "  - {id: always, hours: 24x7}", "sources:", "  - {id: drop, kind: file_drop, path: var/incoming}",
        "services:",
        *(f"  - {{id: svc-{s}, name: Shared {s}, signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}" for s in range(6)),
        "  - {id: site-link, name: Site link, per_customer: true, signals: {up: {source: drop}}}",
        "suppliers:", "  - {id: netco, name: Network Co}",
        "customers:",
        *(f"  - {{id: gp-{c:03d}, name: Practice {c}, kind: primary-care}}" for c in range(AGREEMENTS * CUSTOMERS)),
        "agreements:",
    ]
    for a in range(AGREEMENTS):
        customers = ", ".join(f"gp-{c:03d}" for c in range(a * CUSTOMERS, (a + 1) * CUSTOMERS))
        lines += [f"  - id: region-{a}", f"    name: Region {a}", f"    customers: [{customers}]", "    objectives:",
                  "      - {id: link, service: site-link, type: availability, target: 99.5, warning: 99.8, calendar: always}"]
        for o in range(9):
            service = f"svc-{(a + o) % 6}"
            if o < 5:
                lines.append(f"      - {{id: o{o}, service: {service}, type: availability, target: 99.9, calendar: always}}")
            elif o < 7:
                lines.append(f"      - {{id: o{o}, service: {service}, type: latency, threshold_ms: 800, target: 95, calendar: always}}")
            else:
                lines.append(f"      - {{id: o{o}, service: {service}, type: incident_resolution, priority: P1, within: 8h, "
                             "target: 90, calendar: always}")
    lines += ["contracts:", "  - id: net-2026", "    supplier: netco", "    objectives:",
              "      - {id: net-up, service: svc-0, type: availability, target: 99.95, calendar: always}"]
    (directory / "region.yaml").write_text("\n".join(lines) + "\n")
    return load_catalogue(directory)


def status_of(value: float | None, target: float, warning: float | None) -> Status:
    if value is None:
        return Status.NO_DATA
    if value < target:
        return Status.RED
    return Status.AMBER if warning is not None and value < warning else Status.GREEN


def store_region(engine: Engine, catalogue: Catalogue) -> list[Result]:
    """Current results (shared sample objectives: one figure for every customer; the site link
    and incidents: each customer's own; a few without data), last month's, a removed
    customer's, and burn rates (a few windows without a rate, a few stale)."""
    rng = np.random.default_rng(16)
    current: list[Result] = []
    rates: list[StoredBurnRate] = []
    for agreement in catalogue.agreements.values():
        for o in agreement.objectives:
            own = o.service == "site-link" or o.type.is_incident
            shared = float(100 - rng.exponential(0.1))
            for customer in agreement.customers:
                value: float | None = float(100 - rng.exponential(0.3)) if own else shared
                if own and rng.random() < 0.05:
                    value = None
                budget = None if value is None else 1 - (100 - value) / (100 - o.target)
                cover = None if value is None or o.type.value != "availability" else float(rng.uniform(0.9, 1))
                service = f"site-link.{customer}" if o.service == "site-link" else o.service
                current.append(Result(
                    PERIOD, agreement.id, customer, service, o.id, o.type, o.target, o.warning, value,
                    status_of(value, o.target, o.warning), 0.0, 0.0, 0.0, "s", cover, budget, False, agreement.kind,
                ))
                for window in WINDOWS:
                    rate = None if rng.random() < 0.1 else float(rng.exponential(1.0))
                    rates.append(StoredBurnRate(agreement.id, customer, o.id, window, 1, 0, 1, rate, NOW))
    removed = [replace(r, customer="gp-gone", value=1.0, status=Status.RED) for r in current[:10]]
    last_month = [replace(r, period="2026-06", value=2.0, status=Status.RED) for r in current]
    stale = [StoredBurnRate("region-0", "gp-000", "o1", "5m", 1, 0, 1, 999.0, NOW - timedelta(hours=1)),
             StoredBurnRate("region-0", "gp-gone", "o1", "5m", 1, 0, 1, 999.0, NOW)]
    with engine.begin() as conn:
        upsert_results(conn, current + removed + last_month, NOW)
        upsert_burn_rates(conn, [r for r in rates if (r.customer, r.objective, r.window) != ("gp-000", "o1", "5m")] + stale)
    return current


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("region") / "config"


@pytest.fixture(scope="module")
def region(region_dir: Path) -> Catalogue:
    return write_config(region_dir)


@pytest.fixture
def stored(engine: Engine, region: Catalogue) -> list[Result]:
    return store_region(engine, region)


def scrape(engine: Engine, catalogue: Catalogue, series: str) -> str:
    """One scrape of the real endpoint on loopback, gzip accepted as Prometheus asks."""
    server = MetricsServer("127.0.0.1:0", make_registry(engine, lambda: catalogue, lambda: NOW, series).collect).start()
    try:
        request = urllib.request.Request(server.url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200 and response.headers["Content-Encoding"] == "gzip"
            return gzip.decompress(response.read()).decode()
    finally:
        server.close()


def series_of(text: str) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    found: dict[str, dict[frozenset[tuple[str, str]], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = frozenset(sample.labels.items())
            assert key not in found[sample.name], f"{sample.name} {dict(key)} served twice"
            found[sample.name][key] = sample.value
    return found


def labels(r: Result, **extra: str) -> frozenset[tuple[str, str]]:
    service = "site-link" if r.service.startswith("site-link.") else r.service
    return frozenset({"agreement": r.agreement, "customer": r.customer, "service": service, "objective": r.objective,
                      "type": r.type.value, "kind": r.kind.value, **extra}.items())


def test_per_customer_series_are_the_stored_current_results_of_configured_customers(engine, region, stored):
    served = series_of(scrape(engine, region, "per_customer"))
    assert len(stored) == 3001, "2 agreements × 150 practices × 10 objectives, and the contract"
    assert served["sla_objective_target_ratio"] == {labels(r): exact_ratio(r.target) for r in stored}
    assert served["sla_objective_status"] == {labels(r): CODES[r.status.value] for r in stored}
    assert served["sla_objective_compliance_ratio"] == {labels(r): exact_ratio(r.value) for r in stored if r.value is not None}
    assert served["sla_error_budget_remaining_ratio"] == {
        labels(r): r.error_budget_remaining for r in stored if r.error_budget_remaining is not None
    }
    assert served["sla_data_coverage_ratio"] == {labels(r): r.coverage for r in stored if r.coverage is not None}
    burn = served["sla_burn_rate"]
    assert 12_000 < len(burn) < 15_000 and set(burn.values()) != {999.0}, "fresh rates of configured customers only"
    assert "sla_objective_customers" not in served, "the default serves SPEC 10's families only"


def without_customer(per_customer: dict[frozenset[tuple[str, str]], float], worst) -> dict[frozenset[tuple[str, str]], float]:  # noqa: ANN001
    """PromQL's `worst without (customer) (…)`."""
    groups: dict[frozenset[tuple[str, str]], list[float]] = defaultdict(list)
    for key, value in per_customer.items():
        groups[frozenset((k, v) for k, v in key if k != "customer")].append(value)
    return {key: worst(values) for key, values in groups.items()}


def test_per_agreement_series_are_what_min_and_max_without_customer_give_of_the_per_customer_ones(engine, region, stored):
    each = series_of(scrape(engine, region, "per_customer"))
    served = series_of(scrape(engine, region, "per_agreement"))
    for name, worst in [
        ("sla_objective_compliance_ratio", min), ("sla_error_budget_remaining_ratio", min), ("sla_data_coverage_ratio", min),
        ("sla_objective_status", max), ("sla_objective_target_ratio", max), ("sla_burn_rate", max),
    ]:
        assert served[name] == without_customer(each[name], worst), name
    assert len(served["sla_objective_status"]) == 2 * 10 + 1, "one series per agreement and objective, the contract's too"
    assert not any(k == "customer" for name in OBJECTIVE_FAMILIES for key in served[name] for k, _ in key)


def test_per_agreement_counts_the_customers_in_each_status(engine, region, stored):
    served = series_of(scrape(engine, region, "per_agreement"))["sla_objective_customers"]
    counted = Counter((r.agreement, r.objective, r.status.value) for r in stored)
    for key, value in served.items():
        found = dict(key)
        assert value == counted[(found["agreement"], found["objective"], found["status"])], found
    assert len(served) == (2 * 10 + 1) * 4, "every status of every objective, 0 included"
    link = {dict(k)["status"]: v for k, v in served.items() if dict(k)["agreement"] == "region-0" and dict(k)["objective"] == "link"}
    assert sum(link.values()) == CUSTOMERS and link["no-data"] > 0 and link["red"] > 0, link
    shared = {dict(k)["status"]: v for k, v in served.items() if dict(k)["agreement"] == "region-1" and dict(k)["objective"] == "o0"}
    assert sorted(shared.values()) == [0, 0, 0, CUSTOMERS], "a shared objective: every customer in the same status"


def test_the_per_agreement_exposition_is_what_prometheus_client_writes(engine, region, stored):
    registry = make_registry(engine, lambda: region, lambda: NOW, "per_agreement")
    assert render(registry.collect()) == generate_latest(registry)


def test_an_unknown_series_setting_is_refused(engine, region):
    with pytest.raises(ValueError, match="per_customer, per_agreement"):
        make_registry(engine, lambda: region, lambda: NOW, "per_practice")


# --- the setting, through `sla-worker metrics serve` -------------------------------------------------


def test_sla_metrics_series_per_agreement_is_taken_from_the_environment(engine, region_dir, stored, database_url, tmp_path):
    # The command reads the real clock: the results are moved to the month running now.
    running = period_of(time.time(), "Europe/London")
    with engine.begin() as conn:
        upsert_results(conn, [replace(r, period=running) for r in stored], NOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{probe.getsockname()[1]}"
    env.update(SLA_CONFIG_DIR=str(region_dir), SLA_DATABASE_URL=database_url, SLA_METRICS_ADDR=addr, SLA_METRICS_SERIES="per_agreement")
    log = tmp_path / "metrics.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "worker.cli", "metrics", "serve"], env=env, cwd=tmp_path,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while f"serving http://{addr}/metrics" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=60) as response:
            text = response.read().decode()
    finally:
        process.terminate()
        process.wait(10)
    status = series_of(text)["sla_objective_status"]
    assert len(status) == 2 * 10 + 1 and not any(k == "customer" for key in status for k, _ in key)
    assert "sla_objective_customers{" in text and 'customer="' not in text, "per agreement: no customer label anywhere"


# --- the fast rows render as prometheus-client would -------------------------------------------------


class _Fixed:
    def __init__(self, families):  # noqa: ANN001
        self.families = families

    def collect(self):  # noqa: ANN201
        return self.families


def test_row_gauges_render_the_bytes_prometheus_client_writes_odd_numbers_and_labels_included():
    from prometheus_client.registry import CollectorRegistry

    from worker.metrics.exposition import LabelSet, RowGauge, label_text

    names = ["agreement", "customer", "objective"]
    odd = ('a"b', "back\\slash", "new\nline")
    plain = LabelSet(("core", "acute", "epr"), label_text(names, ("core", "acute", "epr")))
    quoted = LabelSet(odd, label_text(names, odd))
    gauge = RowGauge("sla_objective_status", "Status.", names)
    burn = RowGauge("sla_burn_rate", "Burn \\ rate\nhelp.", names, last_label="window")
    numbers = [0.0, -0.0, 1.0, 2, 0.1, 1e-7, 999_999.9, 1e6, 1_234_567.0, 1e22, -5e6, math.inf, -math.inf, math.nan]
    for value in numbers:
        gauge.add(plain, float(value))
        burn.add(quoted, float(value), 'w"1')
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed([gauge, burn]))
    assert render([gauge, burn]) == generate_latest(registry)
    assert [s.labels["window"] for s in burn.samples] == ['w"1'] * len(numbers)


def test_a_row_gauge_last_label_must_sort_after_the_others():
    from worker.metrics.exposition import RowGauge

    with pytest.raises(ValueError):
        RowGauge("sla_x", "X.", ["agreement", "zone"], last_label="window")
    with pytest.raises(ValueError):
        RowGauge("sla_x", "X.", [], last_label="window")
