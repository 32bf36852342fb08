"""The objective families of SPEC 10, per customer or per agreement (`SLA_METRICS_SERIES`).

- `per_customer` (the default, SPEC 10's labels): one series per configured (agreement,
  customer, objective) with a result in the current period.
- `per_agreement`: one series per configured (agreement, objective), without the `customer`
  label, holding the aggregate of the agreement's customers — exactly what the PromQL
  aggregation of the per-customer series gives (`min without (customer)` or `max without
  (customer)`), so a query written against one setting reads the other the same way:

      sla_objective_compliance_ratio      lowest compliance of any customer with a value
      sla_error_budget_remaining_ratio    least budget left of any customer with one
      sla_data_coverage_ratio             lowest coverage of any customer with one
      sla_objective_status                the worst status: red 2 > amber 1 > green 0 > no data -1
                                          (-1 only when no customer has data)
      sla_objective_target_ratio          the target (the objective's, the same for every customer)
      sla_burn_rate                       per window, the fastest burn of any customer
      sla_objective_customers             (this setting only) how many customers are in each
                                          status: green, amber, red, no-data

  For a sample objective on a shared service every customer has the same figure, so the
  aggregate is that figure; a per-customer service's objective (a practice's site link) or an
  incident objective (each customer's own incidents) differs per customer, and the aggregate is
  the worst of them with the counts by status beside it.

Fast on purpose (issue 16: 30,000 results, 150,000 burn rates, one scrape well under 2 s):
two lean queries (burn rates pivoted in SQL to one row per objective and customer), each label
set's text built once per configuration and shared by the six families, and `RowGauge`
families that the renderer writes without a prometheus-client `Sample` per line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from worker.domain.model import Catalogue, Status
from worker.metrics.exposition import LabelSet, RowGauge, label_text
from worker.scoring.periods import period_of
from worker.scoring.windows import WINDOWS
from worker.storage.tables import burn_rates as burn_rates_table
from worker.storage.tables import results as results_table

PER_CUSTOMER, PER_AGREEMENT = "per_customer", "per_agreement"
SERIES = (PER_CUSTOMER, PER_AGREEMENT)

# `kind`: "agreement" (a customer's SLA) or "contract" (a supplier's underpinning contract,
# whose `customer` is the supplier id: SPEC 9.2), so a dashboard can keep the two apart.
OBJECTIVE_LABELS = ["agreement", "customer", "service", "objective", "type", "kind"]
AGREEMENT_LABELS = [n for n in OBJECTIVE_LABELS if n != "customer"]
STATUS_CODES = {Status.GREEN.value: 0, Status.AMBER.value: 1, Status.RED.value: 2, Status.NO_DATA.value: -1}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
CUSTOMERS_FAMILY = "sla_objective_customers"
CUSTOMERS_HELP = (
    "Customers of the agreement whose result for this objective has each status in the current period "
    "(SLA_METRICS_SERIES=per_agreement)."
)

_Key = tuple[str, str, str]  # (agreement, customer, objective)
_Shape = tuple[str, str, str]  # (service, type, kind) as configured


def labels_of(series: str) -> list[str]:
    """The label names of the objective families under `series`."""
    return OBJECTIVE_LABELS if series == PER_CUSTOMER else AGREEMENT_LABELS


def ratio(percent: float) -> float:
    """A stored percentage as a 0–1 ratio: the float nearest to the decimal quotient, so a
    99.9 % target is 0.999 and not 0.9990000000000001 (as 99.9 / 100 gives). Moving the
    decimal point in the shortest repr is that quotient, exactly, without a Decimal."""
    text = repr(float(percent))
    if "e" in text or "n" in text:  # 1e-05, inf, nan: the rare slow way
        return float(Decimal(text) / 100)
    return float(text + "e-2")


def current_periods(catalogue: Catalogue, now: datetime) -> dict[str, str]:
    """Agreement id → its running period (the month of `now` in the agreement's zone)."""
    now_s = now.timestamp()
    return {a.id: period_of(now_s, a.timezone) for a in catalogue.agreements.values()}


# --- the per-agreement aggregate: pure ----------------------------------------------------------


class Figures(NamedTuple):
    """One customer's stored figures for one objective in the current period (the columns of
    `current_results` after the key): percentages, the status name, None where the result has
    no such figure."""

    target: float
    status: str
    value: float | None = None
    budget: float | None = None
    coverage: float | None = None


@dataclass(frozen=True)
class Aggregate:
    """The served figures of an agreement's customers for one objective (ratios 0–1, the status
    code): see the module docstring for each family's rule. None is left out, as it is per
    customer."""

    target: float
    status: int
    compliance: float | None
    budget: float | None
    coverage: float | None
    customers: dict[str, int]  # status name (green, amber, red, no-data) → customers


def _lowest(found: Iterable[float | None]) -> float | None:
    return min((x for x in found if x is not None), default=None)


def aggregate(figures: Sequence[Figures]) -> Aggregate:
    """The per-agreement aggregate of one objective's customers (at least one). Percentages
    are compared before they become ratios: the conversion keeps their order."""
    if not figures:
        raise ValueError("an aggregate needs at least one customer's figures")
    codes = [STATUS_CODES.get(f.status, -1) for f in figures]
    compliance = _lowest(f.value for f in figures)
    budget = _lowest(f.budget for f in figures)
    coverage = _lowest(f.coverage for f in figures)
    customers = dict.fromkeys(STATUS_CODES, 0)
    for code in codes:
        customers[STATUS_NAMES[code]] += 1
    return Aggregate(
        target=ratio(max(f.target for f in figures)),
        status=max(codes),
        compliance=None if compliance is None else ratio(compliance),
        budget=budget,
        coverage=coverage,
        customers=customers,
    )


def fastest(rates: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per window, the fastest burn rate of the customers that have one (each customer's rates
    in window order)."""
    return [max((r for r in window if r is not None), default=None) for window in zip(*rates)]


# --- label sets, built once per configuration ---------------------------------------------------


class ConfiguredObjectives:
    """The configured objectives of one catalogue with their label sets for one setting.

    Built when the configuration is (re)loaded, not per scrape: at 30,000 objectives the label
    texts are most of the formatting work."""

    def __init__(self, catalogue: Catalogue, series: str):
        if series not in SERIES:
            raise ValueError(f"unknown metrics series {series!r}: expected one of {', '.join(SERIES)}")
        self.catalogue = catalogue
        self.series = series
        shapes: dict[_Key, _Shape] = {
            # `service` is the service the objective names as configured: for a per-customer
            # template (issue 16) the template id, not the instance the result was measured on.
            (a.id, customer, o.id): (o.service, o.type.value, a.kind.value)
            for a in catalogue.agreements.values()
            for customer in a.customers
            for o in a.objectives
        }
        self._sets: dict[tuple[str, ...], LabelSet] = {}
        # per customer: (agreement, customer, objective) → its label set and configured type,
        # so a stored row costs one lookup
        self.by_key: dict[_Key, tuple[LabelSet, str]] = {}
        for (agreement, customer, objective), (service, type_, kind) in shapes.items():
            if series == PER_CUSTOMER:
                labels = self.label_set((agreement, customer, service, objective, type_, kind))
            else:
                labels = self.label_set((agreement, service, objective, type_, kind))
            self.by_key[(agreement, customer, objective)] = (labels, type_)

    def label_set(self, values: tuple[str, ...]) -> LabelSet:
        """The label set with these values (in `labels_of(series)` order), made once."""
        found = self._sets.get(values)
        if found is None:
            found = self._sets[values] = LabelSet(values, label_text(labels_of(self.series), values))
        return found


# --- reading and serving --------------------------------------------------------------------------

_RESULT_COLUMNS = ("agreement", "customer", "objective", "period", "type", "target", "status", "value",
                   "error_budget_remaining", "coverage")


def current_results(conn: Connection, periods: Sequence[str]) -> list[Any]:
    """(agreement, customer, objective, period, type, then the `Figures`: target, status,
    value, budget, coverage) of every stored result of these periods: one lean query."""
    t = results_table
    query = select(*(t.c[name] for name in _RESULT_COLUMNS)).where(t.c.period.in_(sorted(set(periods))))
    return list(conn.execute(query).all())


def fresh_burn_rates(conn: Connection, computed_since: datetime) -> list[Any]:
    """(agreement, customer, objective, rate of each window in `WINDOWS` order or None) of the
    burn rates computed at or after `computed_since`: pivoted in SQL, one row per objective and
    customer rather than five."""
    b = burn_rates_table
    rates = [func.max(case((b.c.window == name, b.c.burn_rate))).label(f"w{i}") for i, name in enumerate(WINDOWS)]
    query = (
        select(b.c.agreement, b.c.customer, b.c.objective, *rates)
        .where(b.c.burn_rate.is_not(None), b.c.computed_at >= computed_since)
        .group_by(b.c.agreement, b.c.customer, b.c.objective)
    )
    return list(conn.execute(query).all())


OBJECTIVE_FAMILY_NAMES = (
    "sla_objective_compliance_ratio", "sla_objective_target_ratio", "sla_objective_status",
    "sla_error_budget_remaining_ratio", "sla_burn_rate", "sla_data_coverage_ratio",
)


def serve_objectives(
    configured: ConfiguredObjectives,
    periods: dict[str, str],
    results: Iterable[Sequence[Any]],
    burn_rates: Iterable[Sequence[Any]],
    families: dict[str, RowGauge],
) -> None:
    """Fill the objective families (`OBJECTIVE_FAMILY_NAMES`, and `CUSTOMERS_FAMILY` per
    agreement) from the current results and fresh burn rates. Only configured agreements,
    customers and objectives are served, each agreement's own current period."""
    if configured.series == PER_CUSTOMER:
        _per_customer(configured, periods, results, burn_rates, families)
    else:
        _per_agreement(configured, periods, results, burn_rates, families)


def _per_customer(
    configured: ConfiguredObjectives,
    periods: dict[str, str],
    results: Iterable[Sequence[Any]],
    burn_rates: Iterable[Sequence[Any]],
    families: dict[str, RowGauge],
) -> None:
    compliance, target, status, budget, burn, coverage = (families[n] for n in OBJECTIVE_FAMILY_NAMES)
    by_key, codes = configured.by_key, STATUS_CODES
    # 280,000 samples: the lists' appends bound once (`RowGauge.add` per sample costs a third more)
    burn_sets, burn_windows, burn_values = burn.label_sets.append, burn.last.append, burn.values.append
    for agreement, customer, objective, period, type_, target_pct, state, value, remaining, cover in results:
        found = by_key.get((agreement, customer, objective))
        if found is None or periods.get(agreement) != period:
            continue
        labels, configured_type = found
        if type_ != configured_type:
            # The stored type is served, as before issue 16 (it differs from the configured one
            # only while an objective that changed type has not been scored since).
            values = labels.values
            labels = configured.label_set((*values[:4], type_, values[5]))
        target.add(labels, ratio(target_pct))
        status.add(labels, float(codes.get(state, -1)))
        if value is not None:
            compliance.add(labels, ratio(value))
        if remaining is not None:
            budget.add(labels, float(remaining))
        if cover is not None:
            coverage.add(labels, float(cover))
    windows = list(WINDOWS)
    for agreement, customer, objective, *rates in burn_rates:
        found = by_key.get((agreement, customer, objective))
        if found is None:
            continue
        for window, rate in zip(windows, rates):
            if rate is not None:
                burn_sets(found[0])
                burn_windows(window)
                burn_values(float(rate))


def _per_agreement(
    configured: ConfiguredObjectives,
    periods: dict[str, str],
    results: Iterable[Sequence[Any]],
    burn_rates: Iterable[Sequence[Any]],
    families: dict[str, RowGauge],
) -> None:
    by_key = configured.by_key
    stored: dict[LabelSet, list[Figures]] = defaultdict(list)
    for row in results:
        agreement, customer, objective, period = row[:4]
        group = by_key.get((agreement, customer, objective))
        if group is not None and periods.get(agreement) == period:
            stored[group[0]].append(Figures(*row[5:]))
    rates: dict[LabelSet, list[Sequence[float | None]]] = defaultdict(list)
    for row in burn_rates:
        group = by_key.get((row[0], row[1], row[2]))
        if group is not None:
            rates[group[0]].append(row[3:])

    compliance, target, status, budget, burn, coverage = (families[n] for n in OBJECTIVE_FAMILY_NAMES)
    customers, names = families[CUSTOMERS_FAMILY], [*labels_of(PER_AGREEMENT), "status"]
    for labels, figures in stored.items():
        found = aggregate(figures)
        target.add(labels, found.target)
        status.add(labels, float(found.status))
        for family, value in ((compliance, found.compliance), (budget, found.budget), (coverage, found.coverage)):
            if value is not None:
                family.add(labels, float(value))
        for state, count in found.customers.items():
            values = (*labels.values, state)
            customers.add(LabelSet(values, label_text(names, values)), float(count))
    windows = list(WINDOWS)
    for labels, each in rates.items():
        for window, rate in zip(windows, fastest(each)):
            if rate is not None:
                burn.add(labels, float(rate), window)
