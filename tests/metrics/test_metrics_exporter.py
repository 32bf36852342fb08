"""The exporter on a database filled from the golden case, on every engine: it serves exactly
the stored values of the current period, the stored burn rates (which agree with a
per-second count), and the source and task counters."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.model import Catalogue, ObjectiveType, Status
from worker.metrics.burn_rates import refresh_burn_rates
from worker.metrics.collector import FAMILIES, STATUS_CODES, served_names
from worker.metrics.exposition import render
from worker.metrics.server import make_registry
from worker.scoring.calendars import open_intervals
from worker.scoring.intervals import contains
from worker.scoring.periods import effective_bounds
from worker.scoring.windows import WINDOWS
from worker.storage import reports
from worker.storage.burn_rates import load_burn_rates
from worker.storage.engine import read_only
from worker.storage.results import load_results, upsert_results
from worker.storage.task_durations import record_duration
from worker.storage.watermarks import Progress, record_failure, record_success
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

UTC = timezone.utc
CASE = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10"
SCORED_AT = datetime(2026, 11, 20, tzinfo=UTC)
DURING = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)  # October 2026 is the current period
OBJECTIVE_FAMILIES = [n for n in FAMILIES if n.startswith(("sla_objective", "sla_error", "sla_data", "sla_burn"))]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(CASE / "config")


@pytest.fixture
def golden(engine: Engine, catalogue: Catalogue) -> Engine:
    for kind in ("incidents", "maintenance", "samples"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), SCORED_AT)
    score_period(engine, catalogue, "2026-10", SCORED_AT, 6 * 3600.0)
    return engine


def exposition(engine: Engine, catalogue: Catalogue, now: datetime) -> str:
    return render(make_registry(engine, lambda: catalogue, lambda: now).collect()).decode()


def samples_of(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def objective_labels(
    agreement: str, customer: str, service: str, objective: str, type_: str, kind: str = "agreement", **extra: str
):
    labels = {
        "agreement": agreement, "customer": customer, "service": service, "objective": objective, "type": type_,
        "kind": kind, **extra,
    }
    return tuple(sorted(labels.items()))


def test_the_exporter_serves_exactly_the_stored_results_of_the_current_period(golden, catalogue):
    with read_only(golden) as conn:
        stored = load_results(conn, "2026-10")
    assert len(stored) == 22
    text = exposition(golden, catalogue, DURING)
    compliance = samples_of(text, "sla_objective_compliance_ratio")
    target = samples_of(text, "sla_objective_target_ratio")
    status = samples_of(text, "sla_objective_status")
    budget = samples_of(text, "sla_error_budget_remaining_ratio")
    coverage = samples_of(text, "sla_data_coverage_ratio")
    keys = {objective_labels(r.agreement, r.customer, r.service, r.objective, r.type.value) for r in stored}
    assert set(target) == set(status) == keys, "one series per stored result, labelled with the configured ids"
    for r in stored:
        key = objective_labels(r.agreement, r.customer, r.service, r.objective, r.type.value)
        assert target[key] == pytest.approx(r.target / 100, rel=1e-15)
        assert status[key] == STATUS_CODES[r.status.value]
        if r.value is None:
            assert key not in compliance
        else:
            assert compliance[key] == pytest.approx(r.value / 100, rel=1e-15)
        if r.error_budget_remaining is None:
            assert key not in budget
        else:
            assert budget[key] == r.error_budget_remaining
        if r.coverage is None:
            assert key not in coverage
        else:
            assert coverage[key] == r.coverage
    assert {s.value for s in stored} - {None}, "the case has values"
    assert sorted(status.values()) == sorted(STATUS_CODES[r.status.value] for r in stored)
    assert {r.status.value for r in stored} >= {"green", "red"}


def test_amber_and_no_data_results_are_coded_1_and_minus_1_and_a_missing_value_is_left_out(golden, catalogue):
    with read_only(golden) as conn:
        stored = load_results(conn, "2026-10")
    amber = replace(stored[0], status=Status.AMBER)
    empty = replace(stored[1], value=None, status=Status.NO_DATA, error_budget_remaining=None, coverage=None, good=0.0, bad=0.0, total=0.0)
    with golden.begin() as conn:
        upsert_results(conn, [amber, empty], computed_at=SCORED_AT)
    text = exposition(golden, catalogue, DURING)
    key = {r.objective: objective_labels(r.agreement, r.customer, r.service, r.objective, r.type.value) for r in (amber, empty)}
    assert samples_of(text, "sla_objective_status")[key[amber.objective]] == 1
    assert samples_of(text, "sla_objective_status")[key[empty.objective]] == -1
    assert key[empty.objective] not in samples_of(text, "sla_objective_compliance_ratio")
    assert key[empty.objective] not in samples_of(text, "sla_error_budget_remaining_ratio")
    assert key[empty.objective] in samples_of(text, "sla_objective_target_ratio")


def test_a_target_of_99_9_percent_is_served_as_0_999_exactly(golden, catalogue):
    text = exposition(golden, catalogue, DURING)
    line = next(x for x in text.splitlines() if x.startswith("sla_objective_target_ratio{") and 'objective="email-availability"' in x)
    assert line.endswith(" 0.999")


def test_results_of_a_period_that_is_not_the_current_one_are_not_served(golden, catalogue):
    text = exposition(golden, catalogue, datetime(2026, 11, 5, tzinfo=UTC))
    for name in OBJECTIVE_FAMILIES:
        assert samples_of(text, name) == {}
        assert f"# TYPE {name} gauge" in text, "the family is still served"


def test_the_current_period_is_the_month_in_the_agreement_time_zone(golden, catalogue):
    # 23:30 UTC on 31 October is still October in London (GMT) ...
    assert samples_of(exposition(golden, catalogue, datetime(2026, 10, 31, 23, 30, tzinfo=UTC)), "sla_objective_status")
    # ... but November in an agreement kept in Helsinki time.
    helsinki = replace(catalogue, agreements={k: replace(a, timezone="Europe/Helsinki") for k, a in catalogue.agreements.items()})
    assert samples_of(exposition(golden, helsinki, datetime(2026, 10, 31, 23, 30, tzinfo=UTC)), "sla_objective_status") == {}


def test_objectives_and_customers_no_longer_configured_are_not_served(golden, catalogue):
    core = catalogue.agreements["core-2026"]
    trimmed = replace(
        catalogue,
        agreements={
            "core-2026": replace(core, customers=("acute",), objectives=tuple(o for o in core.objectives if o.id != "epr-latency")),
        },
    )
    status = samples_of(exposition(golden, trimmed, DURING), "sla_objective_status")
    assert {dict(k)["agreement"] for k in status} == {"core-2026"}
    assert {dict(k)["customer"] for k in status} == {"acute"}
    assert len(status) == len(core.objectives) - 1


def test_the_burn_rates_served_are_the_stored_ones(golden, catalogue):
    refresh_burn_rates(golden, catalogue, DURING)
    with read_only(golden) as conn:
        stored = load_burn_rates(conn)
    objectives = {(a.id, o.id): o for a in catalogue.agreements.values() for o in a.objectives}
    assert len(stored) == 22 * len(WINDOWS)
    served = samples_of(exposition(golden, catalogue, DURING), "sla_burn_rate")
    expected = {
        objective_labels(b.agreement, b.customer, objectives[(b.agreement, b.objective)].service, b.objective,
                         objectives[(b.agreement, b.objective)].type.value, window=b.window): b.burn_rate
        for b in stored
        if b.burn_rate is not None
    }
    assert served == expected
    assert any(v > 1 for v in served.values()) and any(v == 0 for v in served.values())


def test_burn_rates_not_refreshed_for_15_minutes_are_no_longer_served(golden, catalogue):
    refresh_burn_rates(golden, catalogue, DURING)
    assert samples_of(exposition(golden, catalogue, DURING + timedelta(minutes=14)), "sla_burn_rate")
    assert samples_of(exposition(golden, catalogue, DURING + timedelta(minutes=16)), "sla_burn_rate") == {}


# --- burn rates against a per-second count of the golden inputs --------------------------------


def golden_series() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    with (CASE / "samples.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in rows:
        at_s = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()
        series.setdefault((row["service"], row["signal"]), []).append((at_s, float(row["value"])))
    out = {}
    for key, pairs in series.items():
        pairs.sort()
        out[key] = (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    return out


def excluded_windows(catalogue: Catalogue, service: str, notice_s: float) -> list[tuple[float, float]]:
    """Maintenance announced in time and not an emergency, from the config and the CSV."""
    windows = [(w.start_at, w.end_at, w.announced_at, w.emergency) for w in catalogue.maintenance if w.service == service]
    with (CASE / "maintenance.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["service"] == service:
                announced = datetime.fromisoformat(row["announced"]) if row["announced"] else None
                windows.append((datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"]), announced,
                                row["emergency"].lower() in ("true", "yes", "1")))
    return [
        (start.timestamp(), end.timestamp())
        for start, end, announced, emergency in windows
        if not emergency and announced is not None and announced.timestamp() <= start.timestamp() - notice_s
    ]


def brute_force_burn(catalogue, series, agreement_id: str, objective_id: str, now: datetime, length_s: float) -> float | None:
    """Second by second: is it counted, is it up, down or unknown; then SPEC 7's formula."""
    agreement = catalogue.agreements[agreement_id]
    objective = next(o for o in agreement.objectives if o.id == objective_id)
    service = catalogue.services[objective.service]
    eff_lo, eff_hi = effective_bounds(agreement)
    lo, hi = max(now.timestamp() - length_s, eff_lo), min(now.timestamp(), eff_hi)
    if hi <= lo:
        return None
    t = np.arange(lo, hi) + 0.5  # the middle of every second (all boundaries are whole seconds)
    counted = contains(open_intervals(catalogue.calendars[objective.calendar], lo, hi), t)
    for start, end in excluded_windows(catalogue, service.id, objective.maintenance_notice_s):
        counted &= ~((t >= start) & (t < end))
    if objective.type is ObjectiveType.AVAILABILITY:
        at_s, value = series[(service.id, "up")]
        index = np.searchsorted(at_s, t, side="right") - 1
        held = (index >= 0) & (t < at_s[np.maximum(index, 0)] + service.staleness_s)
        up = counted & held & (value[np.maximum(index, 0)] == 1)
        down = counted & held & (value[np.maximum(index, 0)] == 0)
        up_s, down_s, no_data_s = float(up.sum()), float(down.sum()), float(counted.sum() - up.sum() - down.sum())
        bad, total = {
            "ignore": (down_s, up_s + down_s),
            "down": (down_s + no_data_s, float(counted.sum())),
            "up": (down_s, float(counted.sum())),
        }[objective.missing_data.value]
    elif objective.type is ObjectiveType.LATENCY:
        at_s, value = series[(service.id, "latency_ms")]
        inside = contains(open_intervals(catalogue.calendars[objective.calendar], lo, hi), at_s) & (at_s >= lo) & (at_s < hi)
        for start, end in excluded_windows(catalogue, service.id, objective.maintenance_notice_s):
            inside &= ~((at_s >= start) & (at_s < end))
        total = float(inside.sum())
        bad = float((inside & (value > objective.threshold_ms)).sum())
    else:
        raise AssertionError("only sample types here")
    if total == 0:
        return None
    return (bad / total) / ((100 - objective.target) / 100)


MOMENTS = [
    datetime(2026, 10, 12, 0, 30, tzinfo=UTC),  # just after EPR's announced maintenance
    datetime(2026, 10, 20, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # the hour after the clocks went back
    datetime(2026, 10, 28, 12, 40, tzinfo=UTC),  # inside the email maintenance window
]
CHECKED = [
    ("core-2026", "epr-availability"),
    ("core-2026", "pacs-availability"),
    ("core-2026", "epr-latency"),
    ("partners-2026", "email-availability"),
    ("partners-2026", "portal-availability"),
    ("partners-2026", "portal-latency"),
]


def test_burn_rates_agree_with_a_per_second_count_of_the_golden_inputs(golden, catalogue):
    series = golden_series()
    checked = 0
    for moment in MOMENTS:
        refresh_burn_rates(golden, catalogue, moment)
        with read_only(golden) as conn:
            stored = {(b.agreement, b.customer, b.objective, b.window): b.burn_rate for b in load_burn_rates(conn)}
        for agreement_id, objective_id in CHECKED:
            customer = catalogue.agreements[agreement_id].customers[0]
            for window, length in WINDOWS.items():
                expected = brute_force_burn(catalogue, series, agreement_id, objective_id, moment, length)
                got = stored[(agreement_id, customer, objective_id, window)]
                where = f"{agreement_id}/{objective_id} {window} at {moment:%d %H:%M}"
                if expected is None:
                    assert got is None, where
                else:
                    assert got is not None and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12), (where, got, expected)
                    checked += 1
    assert checked > 60


def test_a_later_refresh_replaces_the_burn_rates_and_an_earlier_one_does_not(golden, catalogue):
    refresh_burn_rates(golden, catalogue, DURING)
    refresh_burn_rates(golden, catalogue, DURING - timedelta(days=1))  # a slow run finishing late
    with read_only(golden) as conn:
        assert {b.computed_at for b in load_burn_rates(conn)} == {DURING}
    refresh_burn_rates(golden, catalogue, DURING + timedelta(minutes=5))
    with read_only(golden) as conn:
        assert {b.computed_at for b in load_burn_rates(conn)} == {DURING + timedelta(minutes=5)}


# --- sources and tasks -------------------------------------------------------------------------


def test_source_counters_add_up_the_watermarks_of_every_stream(engine, catalogue):
    at = datetime(2026, 10, 20, 12, tzinfo=UTC)
    with engine.begin() as conn:
        record_success(conn, "drop", at, [Progress("epr/up", stored=100, refused=2)])
        record_success(conn, "drop", at + timedelta(minutes=1), [Progress("pacs/up", stored=50)])
        record_success(conn, "drop", at, [Progress("epr/latency_ms", stored=7, refused=1)])
        record_success(conn, "drop", at, [Progress("incidents", stored=3, refused=4)])
        record_success(conn, "prom", at - timedelta(hours=1), [Progress("epr/up", stored=60)])
        record_failure(conn, "prom", "epr/up", at, "connection refused")
        record_failure(conn, "prom", "epr/up", at + timedelta(minutes=1), "connection refused")
        record_failure(conn, "prom", "pacs/up", at, "connection refused")
    text = exposition(engine, catalogue, DURING)
    assert samples_of(text, "sla_samples_ingested_total") == {
        (("signal", "latency_ms"), ("source", "drop")): 7,
        (("signal", "up"), ("source", "drop")): 150,
        (("signal", "up"), ("source", "prom")): 60,
        # Signals the configuration takes from `drop` count from 0 before their first sample.
        (("signal", "good"), ("source", "drop")): 0,
        (("signal", "total"), ("source", "drop")): 0,
    }
    assert samples_of(text, "sla_rows_refused_total") == {(("source", "drop"),): 7, (("source", "prom"),): 0}
    assert samples_of(text, "sla_source_failures_total") == {(("source", "drop"),): 0, (("source", "prom"),): 3}
    assert samples_of(text, "sla_source_last_success_timestamp_seconds") == {
        (("source", "drop"),): (at + timedelta(minutes=1)).timestamp(),
        (("source", "prom"),): (at - timedelta(hours=1)).timestamp(),
    }


def test_a_configured_source_that_never_ran_counts_zero_and_has_no_last_success(engine, catalogue):
    text = exposition(engine, catalogue, DURING)
    assert samples_of(text, "sla_rows_refused_total") == {(("source", "drop"),): 0}
    assert samples_of(text, "sla_source_failures_total") == {(("source", "drop"),): 0}
    assert samples_of(text, "sla_source_last_success_timestamp_seconds") == {}
    ingested = samples_of(text, "sla_samples_ingested_total")
    assert set(ingested.values()) == {0} and {dict(k)["signal"] for k in ingested} == {"up", "latency_ms", "good", "total"}


def test_task_durations_are_served_as_a_histogram_per_task(engine, catalogue):
    with engine.begin() as conn:
        for seconds in (0.003, 0.2, 0.2, 7.0, 4000.0):
            record_duration(conn, "sla.collect", seconds)
        record_duration(conn, "sla.reconcile", 12.5)
    text = exposition(engine, catalogue, DURING)
    buckets = samples_of(text, "sla_task_duration_seconds_bucket")
    collect = {dict(k)["le"]: v for k, v in buckets.items() if dict(k)["task"] == "sla.collect"}
    assert collect["0.01"] == 1 and collect["0.25"] == 3 and collect["10.0"] == 4 and collect["600.0"] == 4
    assert collect["+Inf"] == 5
    assert samples_of(text, "sla_task_duration_seconds_count")[(("task", "sla.collect"),)] == 5
    assert samples_of(text, "sla_task_duration_seconds_sum")[(("task", "sla.collect"),)] == pytest.approx(4007.403)
    assert samples_of(text, "sla_task_duration_seconds_count")[(("task", "sla.reconcile"),)] == 1


def test_alerts_and_notifications_families_are_served_with_no_made_up_samples(engine, catalogue):
    text = exposition(engine, catalogue, DURING)
    for name, kind in (("sla_alerts_firing", "gauge"), ("sla_notifications_total", "counter")):
        assert f"# TYPE {name} {kind}" in text
        assert samples_of(text, name) == {}


def test_reports_sent_count_successful_sends_per_kind(engine, catalogue):
    never_sent = {(("kind", kind),): 0 for kind in reports.KINDS}  # customer, board, supplier (the scorecard)
    assert samples_of(exposition(engine, catalogue, DURING), "sla_reports_sent_total") == never_sent
    with engine.begin() as conn:
        for customer in ("acute", "community"):
            stored, _ = reports.insert_report(
                conn, kind="customer", customer=customer, period="2026-09", final=True, content_sha256="0" * 64,
                directory=f"2026-09/{customer}", files=["report.pdf"], status=reports.PENDING, created_at=DURING,
            )
            claimed = reports.claim_send(conn, stored.id, DURING, 600)
            assert claimed is not None
            reports.mark_sent(conn, stored.id, claimed.generation, DURING)
    assert samples_of(exposition(engine, catalogue, DURING), "sla_reports_sent_total") == never_sent | {
        (("kind", "customer"),): 2,
    }


def test_every_spec_10_family_is_served_with_its_type_and_labels(golden, catalogue):
    refresh_burn_rates(golden, catalogue, DURING)
    with golden.begin() as conn:
        record_success(conn, "drop", DURING, [Progress("epr/up", stored=1)])
        record_duration(conn, "sla.collect", 0.5)
    families = {f.name: f for f in text_string_to_metric_families(exposition(golden, catalogue, DURING))}
    expected = {
        "sla_objective_compliance_ratio": "gauge", "sla_objective_target_ratio": "gauge", "sla_objective_status": "gauge",
        "sla_error_budget_remaining_ratio": "gauge", "sla_burn_rate": "gauge", "sla_data_coverage_ratio": "gauge",
        "sla_alerts_firing": "gauge", "sla_samples_ingested": "counter", "sla_rows_refused": "counter",
        "sla_source_last_success_timestamp_seconds": "gauge", "sla_source_failures": "counter",
        "sla_notifications": "counter", "sla_reports_sent": "counter", "sla_task_duration_seconds": "histogram",
    }
    assert {name: f.type for name, f in families.items()} == expected
    objective = {"agreement", "customer", "service", "objective", "type", "kind"}
    label_sets = {
        "sla_objective_compliance_ratio": objective, "sla_objective_target_ratio": objective, "sla_objective_status": objective,
        "sla_error_budget_remaining_ratio": objective, "sla_burn_rate": objective | {"window"},
        "sla_data_coverage_ratio": objective, "sla_samples_ingested": {"source", "signal"}, "sla_rows_refused": {"source"},
        "sla_source_last_success_timestamp_seconds": {"source"}, "sla_source_failures": {"source"},
        "sla_task_duration_seconds": {"task"}, "sla_reports_sent": {"kind"},
    }
    for name, labels in label_sets.items():
        got = {frozenset(s.labels) - {"le"} for s in families[name].samples}
        assert got == {frozenset(labels)}, name
    assert {s.labels["window"] for s in families["sla_burn_rate"].samples} <= set(WINDOWS)
    assert served_names() >= {s.name for f in families.values() for s in f.samples}


def test_the_fast_rendering_gives_the_same_bytes_as_prometheus_client(golden, catalogue):
    refresh_burn_rates(golden, catalogue, DURING)
    with golden.begin() as conn:
        record_success(conn, "drop", DURING, [Progress("epr/up", stored=1, refused=1)])
        record_failure(conn, "drop", "incidents", DURING, "bad file")
        record_duration(conn, 'odd "task"\\name', 0.5)  # escaping of label values
    registry = make_registry(golden, lambda: catalogue, lambda: DURING)
    assert render(registry.collect()) == generate_latest(registry)


SUPPLIERS = Path(__file__).resolve().parents[1] / "golden" / "suppliers-2026-10"


def test_contracts_are_served_in_the_same_families_labelled_kind_contract_with_the_supplier_as_customer(engine):
    suppliers = load_catalogue(SUPPLIERS / "config")
    for kind in ("incidents", "maintenance", "samples"):
        ingest(engine, suppliers, kind, (SUPPLIERS / f"{kind}.csv").read_bytes(), SCORED_AT)
    score_period(engine, suppliers, "2026-10", SCORED_AT, 6 * 3600.0)
    refresh_burn_rates(engine, suppliers, DURING)
    with read_only(engine) as conn:
        stored = load_results(conn, "2026-10")
    contracts = [r for r in stored if r.kind.value == "contract"]
    assert len(stored) == 25 and len(contracts) == 3
    text = exposition(engine, suppliers, DURING)
    status = samples_of(text, "sla_objective_status")
    compliance = samples_of(text, "sla_objective_compliance_ratio")
    assert set(status) == {
        objective_labels(r.agreement, r.customer, r.service, r.objective, r.type.value, r.kind.value) for r in stored
    }
    for r in contracts:
        key = objective_labels(r.agreement, r.customer, r.service, r.objective, r.type.value, "contract")
        assert dict(key)["customer"] in suppliers.suppliers
        assert status[key] == STATUS_CODES[r.status.value]
        assert compliance[key] == pytest.approx((r.value or 0.0) / 100, rel=1e-15)
    hosting = objective_labels("epr-hosting-2026", "hostco", "epr", "epr-hosting-availability", "availability", "contract")
    assert compliance[hosting] < 0.999 and status[hosting] == STATUS_CODES["red"], "Hosted Records Ltd missed its 99.9 %"
    kinds = {dict(k)["kind"] for name in OBJECTIVE_FAMILIES for k in samples_of(text, name)}
    assert kinds == {"agreement", "contract"}
    burn = samples_of(text, "sla_burn_rate")
    assert any(dict(k)["kind"] == "contract" for k in burn)
    assert all(dict(k)["customer"] in suppliers.suppliers for k in burn if dict(k)["kind"] == "contract")
