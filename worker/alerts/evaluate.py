"""Use case: evaluate the alert rules (SPEC 7) after a scoring run.

In ONE transaction: load the running period's results, the stored burn rates, the sources'
failure counts, the alert state, silences and maintenance; call the pure rules; write the new
alert state, the transitions and the outbox rows. A notification therefore exists exactly when
its alert change does; `worker.alerts.delivery` sends it later.

Fan-out (issue 16): the task `sla.evaluate_alerts` sends one `sla.evaluate_alerts_shard`
message per shard; each evaluates the alerts of its services only (worker/alerts/shards.py),
under its own lock, so shards run side by side on any number of workers. Nothing here is
judged across services: an alert's facts are its own objective's, and a message groups the
alerts of one service, so the shards' evaluations add up to one whole evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from worker.alerts import rules
from worker.alerts.rules import AlertKey, AlertState, Due, Facts, Guard, Route, Window
from worker.alerts.shards import owns, services_by_alert
from worker.domain.model import Catalogue, Channel, ObjectiveType, Result
from worker.scoring import incidents as incident_rules
from worker.scoring.burn import reach
from worker.scoring.counted import CountedKey, counted_time
from worker.scoring.intervals import clip
from worker.scoring.periods import period_bounds, period_of, scored_window
from worker.scoring.score import ObjectiveContext, OpenTimes
from worker.scoring.shards import Shard
from worker.scoring.windows import WINDOWS
from worker.storage import alerts as store
from worker.storage.burn_rates import load_burn_rates
from worker.storage.incidents import load_incidents
from worker.storage.locks import (
    ALERT_EVALUATION_LOCK_ID,
    ALERT_SLOT_LOCK,
    hold_shared_transaction_lock,
    hold_slot_locks,
    hold_transaction_lock,
)
from worker.storage.results import load_results
from worker.storage.tables import watermarks
from worker.usecases.maintenance import all_maintenance, objective_contexts

OPERATIONS_SERVICE = ""  # the service of a source's data-missing alert: its shard holds them all


@dataclass(frozen=True)
class Evaluation:
    firing: int
    transitions: list[rules.Transition]
    notifications: int


def route_of(channel: Channel[Any], catalogue: Catalogue | None = None) -> Route:
    """A channel's filters as a route; a per-customer template among its services stands for
    every instance of it (the alerts of `site-link.gp1` go where `site-link` is asked for)."""
    f = channel.filters
    services = f.services and (*f.services, *(i for s in f.services for i in _instances(catalogue, s)))
    return Route(channel.id, f.severities, f.customers or None, services or None, f.repeat_interval_s)


def _instances(catalogue: Catalogue | None, template: str) -> list[str]:
    """The ids of a per-customer template's instances (none for any other service)."""
    if catalogue is None:
        return []
    return [s.id for s in catalogue.services.values() if s.template == template]


@dataclass(frozen=True)
class CountedTime:
    """The running period's counted time of one objective: gone by at `now`, and whole."""

    so_far_s: float
    whole_s: float

    @property
    def share(self) -> float:
        return max(1e-9, min(1.0, self.so_far_s / self.whole_s)) if self.whole_s > 0 else 1.0


def _counted_times(
    conn: Any, catalogue: Catalogue, now_s: float, work: Iterable[ObjectiveContext] | None = None
) -> dict[tuple[str, str, str | None], CountedTime]:
    """(agreement, objective, customer) → the running period's counted time (|C|) gone by at
    `now` and whole, for the objective contexts in `work` (default: all); customer None for every customer
    alike, a customer for its own instance of a per-customer service (its own maintenance may
    differ, issue 16). Exact from the calendar (office hours, bank holidays, excluded
    maintenance), so the whole period's budget is known, not guessed from the wall clock."""
    found: dict[tuple[str, str, str | None], CountedTime] = {}
    measured: dict[CountedKey, CountedTime] = {}
    for context in objective_contexts(conn, catalogue) if work is None else work:
        window = scored_window(context.agreement, period_of(now_s, context.agreement.timezone))
        if window is None:
            continue
        shape: CountedKey = (context.calendar, window, context.excluded)
        if shape not in measured:
            counted = counted_time(*shape)
            measured[shape] = CountedTime(clip(counted, window[0], now_s).measure, counted.measure)
        found[(context.agreement.id, context.objective.id, context.customer)] = measured[shape]
    return found


def _ended_breaches(states: Mapping[AlertKey, AlertState], catalogue: Catalogue, now_s: float) -> set[AlertKey]:
    """Firing `breached` episodes that started in a period now over (in their agreement's
    zone): they close as "period ended", never as corrected figures."""
    ended = set()
    for key, state in states.items():
        agreement = catalogue.agreements.get(key.agreement)
        if key.rule != rules.Rule.BREACHED or state.firing_since is None or agreement is None:
            continue
        if period_of(state.firing_since.timestamp(), agreement.timezone) < period_of(now_s, agreement.timezone):
            ended.add(key)
    return ended


def evaluate(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    guard: Guard | None = None,
    grafana_url: str | None = None,
    shard: Shard | None = None,
) -> Evaluation:
    """Evaluate the alerts of `shard` (None: the whole catalogue at once, as the CLI does):
    the alerts of the services hashed to it (see worker/alerts/shards.py), and the sources'
    data-missing alerts in the shard of the empty service (0). The shards of one count
    together evaluate exactly what one whole evaluation does. `grafana_url` (setting
    SLA_GRAFANA_URL) makes messages link to the customer dashboard."""
    with engine.begin() as conn:
        _hold_evaluation_lock(conn, shard)
        now_s = now.timestamp()
        every = objective_contexts(conn, catalogue)
        services = services_by_alert(
            (c.agreement.id, c.agreement.customers, c.objective.id, c.objective.service) for c in every
        )
        work = [c for c in every if shard is None or shard.holds(c.objective.service)]
        results: dict[tuple[str, str, str], Result] = {}
        counted = _counted_times(conn, catalogue, now_s, work)
        ended: dict[str, bool] = {}
        running: dict[str, str] = {}  # agreement → its running period (in its own zone)
        for agreement in catalogue.agreements.values():
            running[agreement.id] = period_of(now_s, agreement.timezone)
            ended[agreement.id] = now_s >= period_bounds(running[agreement.id], agreement.timezone)[1]
        for period in sorted(set(running.values())):
            for r in load_results(conn, period):
                key = (r.agreement, r.customer, r.objective)
                if running.get(r.agreement) == period and owns(shard, services, key, r.service):
                    results[key] = r
        windows: dict[tuple[str, str, str], dict[str, Window]] = {}
        hour_coverage: dict[tuple[str, str, str], float] = {}
        for b in load_burn_rates(conn, list(catalogue.agreements)):
            if (b.agreement, b.customer, b.objective) not in results:
                continue  # another shard's, or no result to judge
            windows.setdefault((b.agreement, b.customer, b.objective), {})[b.window] = Window(b.good, b.bad, b.total, b.burn_rate)
            if b.window == rules.COVERAGE_WINDOW and b.coverage is not None:
                hour_coverage[(b.agreement, b.customer, b.objective)] = b.coverage

        coverage, near = _clock_facts(conn, catalogue, now, hour_coverage, work)
        fired: list[rules.Firing] = []
        evaluated: set[AlertKey] = set()
        for k, result in results.items():
            used = {i: ratio for i, customer, ratio in near.get((k[0], k[2]), []) if customer in (None, k[1])}
            times = counted.get((k[0], k[2], k[1])) or counted.get((k[0], k[2], None))
            facts = Facts(
                result, windows.get(k, {}), times.share if times else 1.0, used, coverage.get(k),
                counted_whole_s=times.whole_s if times else None, period_ended=ended[k[0]],
            )
            fired += rules.firing(facts, guard or Guard())
            # data-missing of an objective is judged only when its last hour was measured (not
            # at night for office hours): an unmeasured hour neither starts nor resolves it.
            judged = [r for r in rules.Rule if r is not rules.Rule.DATA_MISSING or k in coverage]
            evaluated |= {AlertKey(rule.value, *k) for rule in judged}
        if shard is None or shard.holds(OPERATIONS_SERVICE):
            failures = select(watermarks.c.source, func.max(watermarks.c.failures_in_row)).group_by(watermarks.c.source)
            for source, in_row in conn.execute(failures):
                evaluated.add(AlertKey(rules.Rule.DATA_MISSING.value, rules.OPERATIONS, rules.OPERATIONS, source))
                if (f := rules.source_failing(source, int(in_row or 0))) is not None:
                    fired.append(f)

        old = {
            k: s for k, s in store.load_states(conn).items()
            if owns(shard, services, (k.agreement, k.customer, k.objective), s.service)
        }
        changed, transitions = rules.transitions(old, fired, now, evaluated, _ended_breaches(old, catalogue, now_s))
        states = {**old, **changed}
        silenced = _silenced(
            states, store.active_silences(conn, now), _in_maintenance(conn, catalogue, now), _templates(catalogue)
        )
        due = rules.due_notifications(
            states, transitions, [route_of(c, catalogue) for c in catalogue.channels.values()], store.notified(conn, old), silenced, now
        )
        written = 0
        service_of = {k: s.service for k, s in states.items()}
        base = grafana_url.rstrip("/") if grafana_url else None
        for (channel_id, event, rule, service), items in sorted(rules.group(due, service_of).items()):
            channel = catalogue.channels[channel_id]
            payload = _payload(catalogue, states, results, items, event, rule, service, base)
            if store.write_notification(conn, channel_id, channel.kind, event, items, payload, now) is not None:
                written += 1
                for d in items:
                    states[d.key] = replace(states[d.key], last_notified_at=now)
                    changed[d.key] = states[d.key]
        store.save_states(conn, changed.values(), now)
        store.record_transitions(conn, transitions)
    return Evaluation(sum(1 for s in states.values() if s.firing_since is not None), transitions, written)


def _hold_evaluation_lock(conn: Any, shard: Shard | None) -> None:
    """One evaluation of an alert at a time (two would both see it start and notify it
    twice): a shard waits only for the same shard and for a whole evaluation."""
    if shard is None:
        hold_transaction_lock(conn, ALERT_EVALUATION_LOCK_ID)
        return
    hold_shared_transaction_lock(conn, ALERT_EVALUATION_LOCK_ID)
    hold_slot_locks(conn, ALERT_SLOT_LOCK, shard.slots)


def _clock_facts(
    conn: Any,
    catalogue: Catalogue,
    now: datetime,
    hour_coverage: Mapping[tuple[str, str, str], float],
    work: list[ObjectiveContext] | None = None,
) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], list[tuple[str, str | None, float]]]]:
    """Coverage of the last hour of counted time of availability objectives (the stored 1h
    burn-rate window's; left out when the hour holds under 10 counted minutes, as at night
    for an office-hours objective), and the open incidents that have used ≥ 80 % of their
    `within` per (agreement, objective): (incident, customer or None, used ratio); of the
    objective contexts in `work` (default: all)."""
    now_s = now.timestamp()
    coverage: dict[tuple[str, str, str], float] = {}
    near: dict[tuple[str, str], list[tuple[str, str | None, float]]] = {}
    if work is None:
        work = objective_contexts(conn, catalogue)
    incident_work = [c for c in work if c.objective.type.is_incident and c.objective.within_s]
    open_incidents = (
        load_incidents(conn, services={c.objective.service for c in incident_work}, opened_before=now, open_or_stopped_after=now)
        if incident_work
        else []
    )
    open_times = OpenTimes()
    for context in work:
        o, agreement = context.objective, context.agreement
        if o.type is ObjectiveType.AVAILABILITY:
            span = reach(agreement, now_s, WINDOWS[rules.COVERAGE_WINDOW])
            counted_s = counted_time(context.calendar, span, context.excluded).measure if span else 0.0
            if counted_s >= rules.COVERAGE_MIN_COUNTED_S:
                for customer in agreement.customers:
                    if (agreement.id, customer, o.id) in hour_coverage:
                        coverage[(agreement.id, customer, o.id)] = hour_coverage[(agreement.id, customer, o.id)]
        elif context in incident_work:
            assert o.within_s is not None
            for incident in open_incidents:
                stop = incident_rules.stop_s(incident, o.type)
                if not incident_rules.applies(incident, o) or (stop is not None and stop <= now_s):
                    continue
                open_time = open_times(context.calendar)
                almost = incident_rules.breach_moment(incident, rules.NEAR_BREACH * o.within_s, open_time)
                if almost is not None and almost <= now_s:
                    breach = incident_rules.breach_moment(incident, o.within_s, open_time)
                    ratio = 1.0 if breach is not None and breach <= now_s else rules.NEAR_BREACH
                    near.setdefault((agreement.id, o.id), []).append((incident.id, incident.customer, ratio))
    return coverage, near


def _in_maintenance(conn: Any, catalogue: Catalogue, now: datetime) -> set[str]:
    """Services in maintenance at `now`; a per-customer template's window covers every instance."""
    services = {w.service for w in all_maintenance(conn, catalogue) if w.start_at <= now < w.end_at}
    return services | {i for s in services for i in _instances(catalogue, s)}


def _templates(catalogue: Catalogue) -> dict[str, str]:
    """Instance id → its per-customer template's id."""
    return {s.id: s.template for s in catalogue.services.values() if s.template}


def _silenced(
    states: Mapping[AlertKey, AlertState],
    silences: list[tuple[str, str | None]],
    maintenance: set[str],
    templates: Mapping[str, str] | None = None,
) -> set[AlertKey]:
    """A silence of a per-customer template silences its instances too."""
    found = set()
    for key, state in states.items():
        names = {state.service, (templates or {}).get(state.service, state.service)}
        if state.service in maintenance:
            found.add(key)
        elif any(service in names and (customer is None or customer == key.customer) for service, customer in silences):
            found.add(key)
    return found


def _payload(
    catalogue: Catalogue,
    states: Mapping[AlertKey, AlertState],
    results: Mapping[tuple[str, str, str], Result],
    items: list[Due],
    event: str,
    rule: str,
    service: str,
    grafana: str | None,
) -> dict[str, Any]:
    """The channel-neutral content of one grouped message: every alert with its customer's
    own terms (target, service hours) and budget left."""
    svc = catalogue.services.get(service)
    alerts = []
    for d in sorted(items, key=lambda d: d.key):
        state = states[d.key]
        k = d.key
        result = results.get((k.agreement, k.customer, k.objective))
        agreement = catalogue.agreements.get(k.agreement)
        objective = next((o for o in agreement.objectives if o.id == k.objective), None) if agreement else None
        customer = catalogue.customers.get(k.customer)
        alerts.append(
            {
                "rule": k.rule,
                "severity": state.severity,
                "agreement": k.agreement,
                "agreement_name": agreement.name if agreement else "",
                "customer": k.customer,
                "customer_name": customer.name if customer else "",
                "customer_contacts": list(customer.contacts.alerts) if customer else [],
                "objective": k.objective,
                "service": service,
                "target": objective.target if objective else None,
                "hours": objective.calendar if objective else None,
                "value": result.value if result else None,
                "budget_remaining": result.error_budget_remaining if result else None,
                "summary": state.summary,
                "resolution": rules.closing_words(state) if event == "resolved" else None,
                "firing_since": d.firing_since.isoformat(),
                "resolved_at": state.resolved_at.isoformat() if event == "resolved" and state.resolved_at else None,
                "sequence": d.sequence,
                "dashboard": f"{grafana}/d/sla-customer?var-customer={k.customer}" if grafana and k.customer else None,
            }
        )
    return {
        "event": event,
        "rule": rule,
        "severity": rules.Rule(rule).severity,
        "service": service,
        "service_name": svc.name if svc else service,
        "alerts": alerts,
    }
