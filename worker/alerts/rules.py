"""Alert rules (SPEC 7). PURE: plain values in (results, burn rates, incident clocks, the
stored alert state, `now`), plain values out (which alerts fire, which transitions happen,
which notifications are due). No database, no network, no clock.

Rules, per (agreement, customer, objective) unless said otherwise:

| rule                   | fires when                                                              | severity |
|------------------------|-------------------------------------------------------------------------|----------|
| fast-burn              | burn rate > 14.4 over both 1h and 5m                                    | page     |
| slow-burn              | > 6 over 6h and 30m, or > 1 over 3d and 6h                              | ticket   |
| budget-low             | period-to-date error_budget_remaining < 0.25 (of the whole period's)    | ticket   |
| breached               | the period's target can no longer be met, whatever data is to come     | page     |
| at-risk                | at the 6h burn rate the period's budget runs out before the period ends | ticket   |
| incident-near-breach   | an open incident has used ≥ 80 % of its `within`                        | ticket   |
| data-missing           | coverage of the last hour < 50 %, or a source failed 3 runs in a row    | ticket   |

Low-traffic guard: a burn-rate window counts only when it holds enough data — at least
`min_events` events/samples/incidents, or for availability (seconds) at least
`min_counted_ratio` of the window's length counted — so one failed probe at 3 a.m. (a 5-minute
window holding 60 counted seconds) pages nobody.

`breached` is a certainty, never a projection: availability fires once the bad seconds so far
exceed (1 − target) × |C| of the whole period — the largest total the period can reach under
any missing_data policy — so no data still to come can save it; incident objectives fire on
value < target; latency and events only once the period has ended. Hence, within its period,
it stops firing only when corrected inputs (late or replaced data) lower the bad, and its
resolve says "figures corrected"; an episode still firing when its period ends closes with
"period ended" (the month's figures then belong to the report).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from worker.domain.model import DEFAULT_REPEAT_INTERVAL_S, Result, Severity
from worker.scoring.windows import WINDOWS


class Rule(StrEnum):
    FAST_BURN = "fast-burn"
    SLOW_BURN = "slow-burn"
    BUDGET_LOW = "budget-low"
    BREACHED = "breached"
    AT_RISK = "at-risk"
    INCIDENT_NEAR_BREACH = "incident-near-breach"
    DATA_MISSING = "data-missing"

    @property
    def severity(self) -> Severity:
        return Severity.PAGE if self in (Rule.FAST_BURN, Rule.BREACHED) else Severity.TICKET


class Event(StrEnum):
    FIRING = "firing"  # started firing
    REPEAT = "repeat"  # still firing, repeat_interval passed since the last notification
    RESOLVED = "resolved"


FAST_BURN = (14.4, ("1h", "5m"))
SLOW_BURN = ((6.0, ("6h", "30m")), (1.0, ("3d", "6h")))
BUDGET_LOW = 0.25
NEAR_BREACH = 0.8
COVERAGE_MIN = 0.5
COVERAGE_WINDOW = "1h"  # data-missing reads the coverage of this burn-rate window…
COVERAGE_MIN_COUNTED_S = 600.0  # …once it holds this much counted time (not at night for office hours)
AT_RISK_WINDOW = "6h"
FAILURES_IN_ROW = 3
# Operations-only alerts (data-missing of a source) have no agreement or customer.
OPERATIONS = ""


# The low-traffic guard's defaults (settings SLA_ALERT_MIN_EVENTS, SLA_ALERT_MIN_COUNTED_RATIO).
MIN_EVENTS = 10.0  # samples, events or incidents in the window
MIN_COUNTED_RATIO = 0.5  # availability: counted seconds / window length


@dataclass(frozen=True)
class Guard:
    """The low-traffic guard: the least data a burn-rate window needs to count."""

    min_events: float = MIN_EVENTS
    min_counted_ratio: float = MIN_COUNTED_RATIO


@dataclass(frozen=True)
class Window:
    """good, bad and total in one window, and the burn rate (None: no counted data)."""

    good: float
    bad: float
    total: float
    burn_rate: float | None


@dataclass(frozen=True)
class Facts:
    """What one evaluation knows about one objective for one customer."""

    result: Result  # period-to-date
    windows: Mapping[str, Window] = field(default_factory=dict)
    elapsed_ratio: float = 1.0  # share of the period's counted time gone by at `now` (0–1]
    incident_used: Mapping[str, float] = field(default_factory=dict)  # open incident → used / within
    coverage_last_hour: float | None = None
    counted_whole_s: float | None = None  # |C| of the whole period, from the calendar (None: unknown)
    period_ended: bool = False


@dataclass(frozen=True, order=True)
class AlertKey:
    rule: str
    agreement: str
    customer: str
    objective: str  # for a source's data-missing: the source id


@dataclass(frozen=True)
class Firing:
    """An alert that fires now, with what a message needs to say about it."""

    key: AlertKey
    severity: Severity
    service: str
    summary: str  # plain words: what is wrong
    target: float | None = None
    value: float | None = None
    budget_remaining: float | None = None


@dataclass(frozen=True)
class AlertState:
    """Stored state of one alert key."""

    key: AlertKey
    severity: Severity
    service: str
    firing_since: datetime | None  # None: not firing
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None
    summary: str = ""


@dataclass(frozen=True)
class Transition:
    key: AlertKey
    event: Event  # FIRING or RESOLVED
    at: datetime
    firing_since: datetime  # of the episode: with the key, identifies it


# ---------------------------------------------------------------- which rules fire


def _counts(window: Window | None, name: str, unit_seconds: bool, guard: Guard) -> bool:
    if window is None or window.burn_rate is None:
        return False
    if unit_seconds:
        return window.total >= guard.min_counted_ratio * WINDOWS[name]
    return window.total >= guard.min_events


def _above(facts: Facts, threshold: float, names: Iterable[str], guard: Guard) -> bool:
    seconds = facts.result.unit == "seconds"
    for name in names:
        window = facts.windows.get(name)
        if not _counts(window, name, seconds, guard) or window is None or window.burn_rate is None:
            return False
        if not window.burn_rate > threshold:
            return False
    return True


def _budget_share(target: float) -> float:
    return (100.0 - target) / 100.0  # not 1 − target/100: 1 − 0.99 is 0.010000000000000009


def availability_allowance_s(result: Result, counted_whole_s: float | None) -> float | None:
    """The most bad seconds the whole period allows: (1 − target) × |C| of the whole period,
    the largest total it can reach under every missing_data policy."""
    if result.type.is_incident or result.unit != "seconds" or counted_whole_s is None:
        return None
    return _budget_share(result.target) * counted_whole_s


def breached(facts: Facts) -> bool:
    """The period's target can no longer be met, whatever data is still to come (SPEC 7)."""
    result = facts.result
    if result.type.is_incident:
        return result.value is not None and result.value < result.target
    allowance = availability_allowance_s(result, facts.counted_whole_s)
    if allowance is not None:
        return result.bad > allowance
    if result.unit == "seconds":
        return False  # |C| unknown: nothing is certain
    return facts.period_ended and result.value is not None and result.value < result.target


def breached_text(facts: Facts) -> str:
    """Only what is certain from the stored data."""
    r = facts.result
    allowance = availability_allowance_s(r, facts.counted_whole_s)
    if allowance is not None:
        return (
            f"the {r.target:g} % target can no longer be met this period: {duration(r.bad)} counted as down "
            f"already exceeds the {duration(allowance)} the whole period allows"
        )
    if r.type.is_incident:
        return f"the {r.target:g} % target is missed so far this period: {r.bad:g} of {r.total:g} incidents breached"
    return f"the period ended below the {r.target:g} % target"


def duration(seconds: float) -> str:
    """`3 h 43 min`, `15 min`, `40 s`: whole minutes once there are any."""
    whole = int(seconds)
    hours, minutes = divmod(whole // 60, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{whole} s"


def at_risk(facts: Facts, guard: Guard) -> bool:
    """At the 6h burn rate, the bad still to come before the period ends spends more than
    the whole period's budget left: burn × time-left-ratio > error_budget_remaining (both as
    shares of the whole period's budget; the stored figure, SPEC 6)."""
    result = facts.result
    remaining = result.error_budget_remaining
    window = facts.windows.get(AT_RISK_WINDOW)
    if remaining is None or not _counts(window, AT_RISK_WINDOW, result.unit == "seconds", guard):
        return False
    assert window is not None and window.burn_rate is not None
    left_ratio = max(0.0, 1.0 - facts.elapsed_ratio)
    return window.burn_rate * left_ratio > remaining


def firing(facts: Facts, guard: Guard | None = None) -> list[Firing]:
    """The alerts that fire for one objective and customer."""
    guard = guard or Guard()
    r = facts.result
    found: list[tuple[Rule, str]] = []
    if _above(facts, FAST_BURN[0], FAST_BURN[1], guard):
        rate = facts.windows["1h"].burn_rate or 0.0
        found.append((Rule.FAST_BURN, f"the error budget is burning {rate:.1f}× faster than the target allows (last hour)"))
    if any(_above(facts, t, names, guard) for t, names in SLOW_BURN):
        rate = facts.windows["6h"].burn_rate or 0.0
        found.append((Rule.SLOW_BURN, f"the error budget is burning {rate:.1f}× faster than the target allows (last 6 hours)"))
    if r.error_budget_remaining is not None and r.error_budget_remaining < BUDGET_LOW:
        found.append((Rule.BUDGET_LOW, f"only {max(r.error_budget_remaining, 0) * 100:.0f} % of this period's error budget is left"))
    if breached(facts):
        found.append((Rule.BREACHED, breached_text(facts)))
    elif at_risk(facts, guard):
        found.append((Rule.AT_RISK, "at the current rate the error budget runs out before the month ends"))
    near = sorted(i for i, used in facts.incident_used.items() if used >= NEAR_BREACH)
    if near:
        found.append((Rule.INCIDENT_NEAR_BREACH, f"open incident(s) {', '.join(near)} have used ≥ 80 % of their time"))
    if facts.coverage_last_hour is not None and facts.coverage_last_hour < COVERAGE_MIN:
        found.append((Rule.DATA_MISSING, f"only {facts.coverage_last_hour * 100:.0f} % of the last hour has data"))
    return [
        Firing(
            AlertKey(rule.value, r.agreement, r.customer, r.objective), rule.severity, r.service, text,
            r.target, r.value, r.error_budget_remaining,
        )
        for rule, text in found
    ]


def source_failing(source: str, failures_in_row: int) -> Firing | None:
    """data-missing for operations: a source failed 3 runs in a row."""
    if failures_in_row < FAILURES_IN_ROW:
        return None
    return Firing(
        AlertKey(Rule.DATA_MISSING.value, OPERATIONS, OPERATIONS, source), Rule.DATA_MISSING.severity, "",
        f"source {source} failed {failures_in_row} runs in a row",
    )


# ---------------------------------------------------------------- state transitions


FIGURES_CORRECTED = "figures corrected"
PERIOD_ENDED = "period ended"


def closing_words(state: AlertState) -> str:
    """How a resolve is named: a `breached` alert is never plainly "resolved" (it was a
    certainty): its figures were corrected, or its period ended."""
    if state.key.rule != Rule.BREACHED:
        return "resolved"
    return PERIOD_ENDED if state.summary.startswith(PERIOD_ENDED) else FIGURES_CORRECTED


def transitions(
    states: Mapping[AlertKey, AlertState],
    now_firing: Iterable[Firing],
    now: datetime,
    evaluated: set[AlertKey] | None = None,
    period_ended: Collection[AlertKey] = (),
) -> tuple[dict[AlertKey, AlertState], list[Transition]]:
    """New states and the transitions from `states` to what fires `now`. A firing alert not
    in `now_firing` resolves — unless `evaluated` is given and it was not evaluated this time
    (its objective was not scored): absent facts are not good news. A `breached` episode
    in `period_ended` (fired in a period that is over) closes as such; any other breached
    resolve can only come from corrected figures, and its summary says so."""
    fired = {f.key: f for f in now_firing}
    ended = set(period_ended)
    new: dict[AlertKey, AlertState] = {}
    changes: list[Transition] = []
    for key, f in fired.items():
        old = states.get(key)
        if old is None or old.firing_since is None:
            new[key] = AlertState(key, f.severity, f.service, now, old.last_notified_at if old else None, None, f.summary)
            changes.append(Transition(key, Event.FIRING, now, now))
        elif old.summary != f.summary:
            new[key] = replace(old, summary=f.summary)
    for key, old in states.items():
        if key in fired or old.firing_since is None:
            continue
        if evaluated is not None and key not in evaluated:
            continue
        summary = old.summary
        if key.rule == Rule.BREACHED:
            if key in ended:
                summary = f"{PERIOD_ENDED}: the period closed with its target missed ({old.summary})"
            else:
                summary = f"{FIGURES_CORRECTED}: the stored figures no longer show the target missed"
        new[key] = replace(old, firing_since=None, resolved_at=now, summary=summary)
        changes.append(Transition(key, Event.RESOLVED, now, old.firing_since))
    return new, sorted(changes, key=lambda t: (t.key, t.event))


# ---------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Route:
    """A channel's filters (SPEC 3 `channels`)."""

    channel: str
    severities: tuple[Severity, ...] = tuple(Severity)
    customers: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S

    def takes(self, state: AlertState) -> bool:
        if state.severity not in self.severities:
            return False
        if state.key.customer == OPERATIONS:  # a source failing: channels not limited to customers
            return self.customers is None and self.services is None
        if state.key.rule == Rule.DATA_MISSING and self.customers is not None:
            return False  # operations only: never to a customer's channel
        if self.customers is not None and state.key.customer not in self.customers:
            return False
        return self.services is None or state.service in self.services


@dataclass(frozen=True)
class Due:
    """One notification of one alert to one channel. `sent_before` tells whether the
    episode's firing was notified to this channel."""

    channel: str
    key: AlertKey
    event: Event
    firing_since: datetime
    sequence: int  # 0 for firing, n for the n-th repeat, -1 for resolved

    @property
    def idempotency_part(self) -> str:
        k = self.key
        return f"{k.rule}|{k.agreement}|{k.customer}|{k.objective}|{self.firing_since.isoformat()}|{self.event.value}|{self.sequence}"


def due_notifications(
    states: Mapping[AlertKey, AlertState],
    changes: Iterable[Transition],
    routes: Iterable[Route],
    notified: Mapping[tuple[AlertKey, str], tuple[datetime, int]],
    silenced: Iterable[AlertKey],
    now: datetime,
) -> list[Due]:
    """What to notify now. `notified[(key, channel)]` = (last firing/repeat notification of
    the current episode, its sequence). Silenced alerts notify nothing — except a resolve of
    an episode whose firing was notified: that is always sent."""
    muted = set(silenced)
    routes = list(routes)
    found: list[Due] = []
    resolved = {t.key: t for t in changes if t.event is Event.RESOLVED}
    started = {t.key for t in changes if t.event is Event.FIRING}
    for key, state in sorted(states.items()):
        for route in routes:
            if not route.takes(state):
                continue
            last = notified.get((key, route.channel))
            if key in resolved:
                if last is not None:
                    found.append(Due(route.channel, key, Event.RESOLVED, resolved[key].firing_since, -1))
                continue
            if state.firing_since is None or key in muted:
                continue
            if last is None:
                # First notification of this episode (a silence may have delayed it).
                found.append(Due(route.channel, key, Event.FIRING, state.firing_since, 0))
            elif key not in started and now - last[0] >= timedelta(seconds=route.repeat_interval_s):
                found.append(Due(route.channel, key, Event.REPEAT, state.firing_since, last[1] + 1))
    return found


def group(due: Iterable[Due], service_of: Mapping[AlertKey, str]) -> dict[tuple[str, str, str, str], list[Due]]:
    """One message per channel, event, rule and service: an outage of a shared service
    reaches each channel once, listing every customer affected (each under its own agreement
    and terms), not once per customer."""
    grouped: dict[tuple[str, str, str, str], list[Due]] = {}
    for d in due:
        grouped.setdefault((d.channel, d.event.value, d.key.rule, service_of.get(d.key, "")), []).append(d)
    return grouped

