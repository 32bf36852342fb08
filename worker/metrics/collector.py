"""The SPEC 10 metric families, read from stored state at every scrape.

No figure is kept in this process's memory (only the label sets made from the configuration):
results, burn rates, source counters and task durations all come from the database, so the figures are the same whichever worker process
computed them and however many processes there are (or were).

- Objective families (`sla_objective_*`, `sla_error_budget_remaining_ratio`,
  `sla_data_coverage_ratio`): the stored result of the **current period** of each configured
  objective and customer — the running month in the agreement's time zone. Ratios are the
  stored percentages / 100; a value the result does not have (no data yet, coverage of a
  latency objective) is left out rather than shown as 0.
- `sla_burn_rate`: the stored burn rates (`worker.metrics.burn_rates`), per window; a window
  with no counted data has no sample, nor has a burn rate computed more than
  `BURN_RATE_MAX_AGE_S` ago (the worker refreshes them every 5 minutes: an older figure means
  it has stopped, and a rate that no longer moves must not look current).
- Source families: running totals in the `watermarks` table, summed per source (and per
  signal for samples: streams are "<service>/<signal>").
- `sla_task_duration_seconds`: the `task_durations` table, filled by every worker process.
- `sla_reports_sent_total`: successful sends per report kind (`reports.sends`), 0 for a kind
  never sent.
- `sla_alerts_firing`: alerts whose state is firing, counted by rule and severity
  (`alerts` table); `sla_notifications_total`: the notification outbox per channel — rows
  sent, retries made, rows failed.

Every objective family carries `kind`: `agreement` for a customer's agreement, `contract` for a
supplier's underpinning contract (SPEC 9.2: `agreement` is then the contract id and `customer`
the supplier id). Label values are the configured ids: `service` is the service the objective
names, the template for a per-customer service (issue 16). Only objectives, customers and
agreements present in the current configuration are served, so removing one from the YAML
removes its series. SLA_METRICS_SERIES=per_agreement serves the objective families once per
(agreement, objective), the aggregate of its customers (`worker.metrics.objectives`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from worker.domain.model import Catalogue
from worker.metrics.exposition import RowGauge
from worker.metrics.objectives import (
    CUSTOMERS_FAMILY,
    CUSTOMERS_HELP,
    OBJECTIVE_FAMILY_NAMES,
    OBJECTIVE_LABELS,
    PER_AGREEMENT,
    PER_CUSTOMER,
    SERIES,
    STATUS_CODES,
    ConfiguredObjectives,
    current_periods,
    current_results,
    fresh_burn_rates,
    labels_of,
    ratio,
    serve_objectives,
)
from worker.storage.alerts import firing_counts, notification_counts
from worker.storage.engine import read_only
from worker.storage.reports import sent_totals
from worker.storage.tables import watermarks
from worker.storage.task_durations import load_histograms

__all__ = ["FAMILIES", "STATUS_CODES", "StoredStateCollector", "collect_families", "current_periods", "ratio", "served_names"]

BURN_RATE_MAX_AGE_S = 15 * 60.0

# name → (type, help, labels). Counters are named without `_total` here, as prometheus-client
# wants; it adds the suffix in the exposition.
FAMILIES: dict[str, tuple[str, str, list[str]]] = {
    "sla_objective_compliance_ratio": (
        "gauge",
        "Share of the objective met so far in the current period, from 0 to 1 (0.995 means 99.5 %).",
        OBJECTIVE_LABELS,
    ),
    "sla_objective_target_ratio": (
        "gauge",
        "The objective's target, from 0 to 1 (0.995 means a target of 99.5 %).",
        OBJECTIVE_LABELS,
    ),
    "sla_objective_status": (
        "gauge",
        "Status of the objective in the current period: 0 green, 1 amber, 2 red, -1 no data.",
        OBJECTIVE_LABELS,
    ),
    "sla_error_budget_remaining_ratio": (
        "gauge",
        "Share of the whole current period's error budget still unspent: 1 untouched, 0 used up, below 0 overspent.",
        OBJECTIVE_LABELS,
    ),
    "sla_burn_rate": (
        "gauge",
        "How fast the error budget is being spent over the window (1 = exactly as fast as the target allows).",
        OBJECTIVE_LABELS + ["window"],
    ),
    "sla_data_coverage_ratio": (
        "gauge",
        "Share of the current period's counted time with availability data, from 0 to 1.",
        OBJECTIVE_LABELS,
    ),
    "sla_alerts_firing": ("gauge", "Alerts firing now, by rule and severity.", ["rule", "severity"]),
    "sla_samples_ingested": ("counter", "Samples stored from each source, by signal.", ["source", "signal"]),
    "sla_rows_refused": ("counter", "Input rows refused from each source because they were not valid.", ["source"]),
    "sla_source_last_success_timestamp_seconds": (
        "gauge",
        "When each source last collected without error, in seconds since 1970-01-01 UTC.",
        ["source"],
    ),
    "sla_source_failures": ("counter", "Failed collection runs of each source, counted per stream.", ["source"]),
    "sla_notifications": (
        "counter",
        "Alert notifications by channel and outcome: sent, retry (will be tried again) or failed (given up).",
        ["channel", "outcome"],
    ),
    "sla_reports_sent": ("counter", "Governance reports emailed, by kind.", ["kind"]),
    "sla_task_duration_seconds": ("histogram", "How long each worker task took to run, in seconds.", ["task"]),
}


def served_names() -> set[str]:
    """Every sample name the endpoint can serve (`_total` counters, histogram series)."""
    names: set[str] = set()
    for name, (kind, _, _) in FAMILIES.items():
        if kind == "counter":
            names.add(name + "_total")
        elif kind == "histogram":
            names.update(name + suffix for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(name)
    return names | {CUSTOMERS_FAMILY}


def _family(name: str, series: str = PER_CUSTOMER) -> Metric:
    kind, documentation, labels = FAMILIES[name]
    if name in OBJECTIVE_FAMILY_NAMES:
        return RowGauge(name, documentation, labels_of(series), "window" if name == "sla_burn_rate" else None)
    if kind == "counter":
        return CounterMetricFamily(name, documentation, labels=labels)
    if kind == "histogram":
        return HistogramMetricFamily(name, documentation, labels=labels)
    return GaugeMetricFamily(name, documentation, labels=labels)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class StoredStateCollector(Collector):
    """A prometheus-client collector that reads every family from the database per scrape.

    `catalogue` returns the current configuration (reloaded by the caller when the YAML
    changes); `clock` gives "now", which decides each agreement's current period; `series`
    is SLA_METRICS_SERIES (per_customer or per_agreement, `worker.metrics.objectives`). The
    objectives' label sets are kept between scrapes while the configuration is the same
    object: they are the configuration's, not the database's."""

    def __init__(
        self,
        engine: Engine,
        catalogue: Callable[[], Catalogue],
        clock: Callable[[], datetime] = utc_now,
        series: str = PER_CUSTOMER,
    ):
        self._engine = engine
        self._catalogue = catalogue
        self._clock = clock
        if series not in SERIES:
            raise ValueError(f"unknown metrics series {series!r}: expected one of {', '.join(SERIES)}")
        self._series = series
        self._configured: ConfiguredObjectives | None = None

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering the collector reads nothing."""
        for name in FAMILIES:
            yield _family(name, self._series)
        if self._series == PER_AGREEMENT:
            yield RowGauge(CUSTOMERS_FAMILY, CUSTOMERS_HELP, labels_of(PER_AGREEMENT) + ["status"])

    def collect(self) -> Iterator[Metric]:
        catalogue, now = self._catalogue(), self._clock()
        configured = self._configured
        if configured is None or configured.catalogue is not catalogue:
            configured = self._configured = ConfiguredObjectives(catalogue, self._series)
        with read_only(self._engine) as conn:
            families = collect_families(conn, catalogue, now, self._series, configured)
        yield from families


def collect_families(
    conn: Connection,
    catalogue: Catalogue,
    now: datetime,
    series: str = PER_CUSTOMER,
    configured: ConfiguredObjectives | None = None,
) -> list[Metric]:
    """Every SPEC 10 family at `now`, in the order of `FAMILIES` (per agreement, the count of
    customers by status follows the objective families)."""
    families: dict[str, Any] = {name: _family(name, series) for name in FAMILIES}
    if series == PER_AGREEMENT:
        labels = labels_of(PER_AGREEMENT) + ["status"]
        customers = RowGauge(CUSTOMERS_FAMILY, CUSTOMERS_HELP, labels)
        families = _insert_after(families, "sla_data_coverage_ratio", CUSTOMERS_FAMILY, customers)
    _objective_families(conn, configured or ConfiguredObjectives(catalogue, series), now, families)
    _source_families(conn, catalogue, families)
    histograms = families["sla_task_duration_seconds"]
    for histogram in load_histograms(conn):
        histograms.add_metric([histogram.task], histogram.buckets, histogram.sum_s)
    for kind, sent in sorted(sent_totals(conn).items()):
        families["sla_reports_sent"].add_metric([kind], sent)
    for (rule, severity), firing in sorted(firing_counts(conn).items()):
        families["sla_alerts_firing"].add_metric([rule, severity], firing)
    for (channel, outcome), count in sorted(notification_counts(conn).items()):
        families["sla_notifications"].add_metric([channel, outcome], count)
    return list(families.values())


def _insert_after(families: dict[str, Any], after: str, name: str, family: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in families.items():
        out[key] = value
        if key == after:
            out[name] = family
    return out


def _objective_families(
    conn: Connection, configured: ConfiguredObjectives, now: datetime, families: dict[str, Any]
) -> None:
    periods = current_periods(configured.catalogue, now)
    if not periods:
        return
    results = current_results(conn, list(periods.values()))
    burn_rates = fresh_burn_rates(conn, now - timedelta(seconds=BURN_RATE_MAX_AGE_S))
    serve_objectives(configured, periods, results, burn_rates, families)


def _source_families(conn: Connection, catalogue: Catalogue, families: dict[str, Any]) -> None:
    """Running totals per source. Configured sources appear with 0 before their first run (a
    true count), as do the (source, signal) pairs the services' signals name."""
    ingested: dict[tuple[str, str], int] = defaultdict(int)
    refused: dict[str, int] = defaultdict(int)
    failures: dict[str, int] = defaultdict(int)
    last_success: dict[str, float] = {}
    for source in catalogue.sources:
        refused[source] += 0
        failures[source] += 0
    for service in catalogue.services.values():
        for signal, where in service.signals.items():
            ingested[(where.source, signal)] += 0
    w = watermarks
    query = select(w.c.source, w.c.stream, w.c.last_success_at, w.c.samples_stored, w.c.rows_refused, w.c.failures_total)
    for source, stream, success_at, stored, refused_rows, failed in conn.execute(query):
        if "/" in stream:  # "<service>/<signal>": samples; other streams (incidents …) are not
            ingested[(source, stream.rsplit("/", 1)[1])] += int(stored)
        refused[source] += int(refused_rows)
        failures[source] += int(failed)
        if success_at is not None:
            last_success[source] = max(last_success.get(source, 0.0), success_at.timestamp())
    for (source, signal), count in sorted(ingested.items()):
        families["sla_samples_ingested"].add_metric([source, signal], count)
    for source, count in sorted(refused.items()):
        families["sla_rows_refused"].add_metric([source], count)
    for source, count in sorted(failures.items()):
        families["sla_source_failures"].add_metric([source], count)
    for source, at_s in sorted(last_success.items()):
        families["sla_source_last_success_timestamp_seconds"].add_metric([source], at_s)
