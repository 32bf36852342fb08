"""The pure alert rules (SPEC 7): table tests, plain values in and out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from worker.alerts.channels import lines, title
from worker.alerts.rules import (
    AlertKey,
    AlertState,
    Event,
    Facts,
    Guard,
    Route,
    Window,
    closing_words,
    due_notifications,
    firing,
    group,
    source_failing,
    transitions,
)
from worker.domain.model import ObjectiveType, Result, Status

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)


def result(
    bad=0.0, total=1_000_000.0, target=99.5, type_=ObjectiveType.AVAILABILITY, value=None, customer="acute", whole=None
) -> Result:
    """A period-to-date result; `whole` is W, the total the whole period is expected to reach
    (SPEC 6: the stored budget is a share of the whole period's)."""
    budget = (100 - target) / 100 * (whole if whole is not None else total)
    return Result(
        "2026-10", "core", customer, "epr", "epr-availability", type_, target, None,
        value if value is not None else (100 * (total - bad) / total if total else None),
        Status.GREEN, total - bad, bad, total, type_.unit, 1.0, 1 - bad / budget if budget else None, False,
    )


def seconds_windows(**rates: float) -> dict[str, Window]:
    """Windows fully counted (availability seconds) with the given burn rates."""
    lengths = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "3d": 259200}
    return {name: Window(0, 0, float(lengths[name]), rates.get(name, 0.0)) for name in lengths}


def rules_of(facts: Facts, guard: Guard | None = None) -> set[str]:
    return {f.key.rule for f in firing(facts, guard)}


@pytest.mark.parametrize(
    "rates, expected",
    [
        ({"1h": 15, "5m": 15}, {"fast-burn"}),
        ({"1h": 15, "5m": 14}, set()),  # the short window says it is over
        ({"1h": 14.4, "5m": 20}, set()),  # strictly greater
        ({"6h": 7, "30m": 7}, {"slow-burn"}),
        ({"3d": 1.5, "6h": 1.5}, {"slow-burn"}),
        ({"3d": 1.5, "6h": 0.5}, set()),
        ({"1h": 20, "5m": 20, "6h": 7, "30m": 7}, {"fast-burn", "slow-burn"}),
    ],
)
def test_burn_rate_rules_need_both_windows(rates, expected):
    facts = Facts(result(), seconds_windows(**rates), elapsed_ratio=0.01)
    assert rules_of(facts) - {"at-risk"} == expected


def test_single_failed_probe_at_night_pages_nobody():
    # 60 counted seconds in the 5-minute window, all bad: burn rate 200, but too little data.
    windows = {"5m": Window(0, 60, 60, 200.0), "1h": Window(0, 60, 60, 200.0)}
    assert "fast-burn" not in rules_of(Facts(result(), windows))
    assert "fast-burn" in rules_of(Facts(result(), windows), Guard(min_counted_ratio=0.01))


def test_low_volume_event_windows_are_guarded_by_event_count():
    low = {"5m": Window(0, 2, 3, 300.0), "1h": Window(0, 2, 3, 300.0)}
    events = result(type_=ObjectiveType.EVENTS, total=1000)
    assert "fast-burn" not in rules_of(Facts(events, low))
    busy = {"5m": Window(0, 20, 30, 300.0), "1h": Window(0, 200, 300, 300.0)}
    assert "fast-burn" in rules_of(Facts(events, busy))


@pytest.mark.parametrize(
    "bad, expected",
    [(0, False), (7_000, False), (7_501, True), (9_999, True)],  # the whole period's budget: 10,000 bad seconds
)
def test_budget_low_below_a_quarter_of_the_whole_periods_budget_left(bad, expected):
    assert ("budget-low" in rules_of(Facts(result(bad=bad, whole=2_000_000), {}, 0.5))) is expected


def test_breached_when_bad_exceeds_the_whole_periods_budget():
    # |C| of the whole period is 2M counted seconds: at 99.5 % the period allows 10,000 bad.
    assert "breached" in rules_of(Facts(result(bad=10_001), {}, 0.5, counted_whole_s=2_000_000))
    assert "breached" not in rules_of(Facts(result(bad=10_000), {}, 0.5, counted_whole_s=2_000_000))
    assert "breached" not in rules_of(Facts(result(bad=9_999), {}, 1.0, counted_whole_s=2_000_000))


def test_breached_is_never_a_projection_from_the_data_so_far():
    # The reported false page: 2 h of data, 15 min down, on the 3rd of a 31-day month. Projecting
    # the total from the data so far said "can no longer be met"; the month allows 3 h 43 min.
    # missing_data ignore, data from 00:00 to 02:00 on the 3rd: W = 7,200 + the counted time to come.
    gone_s = 2 * 86_400 + 7_200
    r = result(bad=900, total=7_200, whole=7_200 + 2_678_400 - gone_s)
    assert 0.9 < r.error_budget_remaining < 0.95
    facts = Facts(r, {}, gone_s / 2_678_400, counted_whole_s=2_678_400)
    assert "breached" not in rules_of(facts)
    assert "breached" not in rules_of(Facts(r, {}, 0.01))  # whole period unknown: nothing is certain


@pytest.mark.parametrize("ended, expected", [(False, False), (True, True)])
def test_latency_and_events_breach_only_once_the_period_has_ended(ended, expected):
    for type_ in (ObjectiveType.LATENCY, ObjectiveType.EVENTS):
        r = result(type_=type_, total=1_000, bad=100, target=99)  # value 90 %
        assert ("breached" in rules_of(Facts(r, {}, 1.0, period_ended=ended))) is expected


def test_breached_text_states_only_what_is_certain():
    (fired,) = [f for f in firing(Facts(result(bad=14_000), {}, 0.9, counted_whole_s=2_678_400)) if f.key.rule == "breached"]
    assert fired.summary == (
        "the 99.5 % target can no longer be met this period: 3 h 53 min counted as down already exceeds "
        "the 3 h 43 min the whole period allows"
    )


def test_incident_objective_breaches_when_value_below_target():
    r = result(type_=ObjectiveType.INCIDENT_RESOLUTION, target=90, total=10, bad=2)
    assert "breached" in rules_of(Facts(r))
    assert "breached" not in rules_of(Facts(result(type_=ObjectiveType.INCIDENT_RESOLUTION, target=90, total=10, bad=1)))


def test_forecast_at_risk_when_budget_runs_out_before_the_period_ends():
    # Half the whole period's budget used at half time, burning 1.5× now: 0.5 × 1.5 = 0.75 > 0.5 left.
    r = result(bad=5_000, whole=2_000_000)
    assert r.error_budget_remaining == 0.5
    assert "at-risk" in rules_of(Facts(r, seconds_windows(**{"6h": 1.5}), 0.5))
    assert "at-risk" not in rules_of(Facts(r, seconds_windows(**{"6h": 0.9}), 0.5))


def test_incident_near_breach_at_80_percent_of_within():
    assert "incident-near-breach" in rules_of(Facts(result(), incident_used={"INC1": 0.8}))
    assert "incident-near-breach" not in rules_of(Facts(result(), incident_used={"INC1": 0.79}))


def test_data_missing_on_low_coverage_or_failing_source():
    assert "data-missing" in rules_of(Facts(result(), coverage_last_hour=0.49))
    assert "data-missing" not in rules_of(Facts(result(), coverage_last_hour=0.5))
    assert source_failing("prom", 2) is None
    alert = source_failing("prom", 3)
    assert alert is not None and alert.key == AlertKey("data-missing", "", "", "prom") and alert.severity == "ticket"


KEY = AlertKey("fast-burn", "core", "acute", "epr-availability")


def state(firing_since=T0, **kw) -> AlertState:
    return AlertState(KEY, "page", "epr", firing_since, **kw)


def fire() -> list:
    facts = Facts(result(), seconds_windows(**{"1h": 20, "5m": 20}), 0.01)
    return [f for f in firing(facts) if f.key.rule == "fast-burn"]


def test_transitions_start_once_and_resolve_once():
    states, changes = transitions({}, fire(), T0)
    assert [(c.event, c.at) for c in changes] == [(Event.FIRING, T0)]
    again, changes = transitions(states, fire(), T0 + timedelta(minutes=5))
    assert changes == [] and again == {}
    later = T0 + timedelta(hours=1)
    resolved, changes = transitions(states, [], later)
    assert [(c.event, c.firing_since) for c in changes] == [(Event.RESOLVED, T0)]
    assert resolved[KEY].firing_since is None and resolved[KEY].resolved_at == later


def test_an_objective_not_evaluated_does_not_resolve():
    states, _ = transitions({}, fire(), T0)
    _, changes = transitions(states, [], T0 + timedelta(hours=1), evaluated=set())
    assert changes == []


ROUTE = Route("hook", repeat_interval_s=4 * 3600)


@pytest.mark.parametrize(
    "notified_at, minutes_later, expected",
    [
        (None, 0, [(Event.FIRING, 0)]),
        (T0, 60, []),
        (T0, 239, []),
        (T0, 240, [(Event.REPEAT, 1)]),
    ],
)
def test_notify_on_start_then_every_repeat_interval(notified_at, minutes_later, expected):
    states = {KEY: state()}
    notified = {(KEY, "hook"): (notified_at, 0)} if notified_at else {}
    now = T0 + timedelta(minutes=minutes_later)
    due = due_notifications(states, [], [ROUTE], notified, [], now)
    assert [(d.event, d.sequence) for d in due] == expected


def test_silence_mutes_firing_but_never_the_resolve_of_a_notified_alert():
    states = {KEY: state()}
    assert due_notifications(states, [], [ROUTE], {}, [KEY], T0) == []
    resolved, changes = transitions(states, [], T0 + timedelta(hours=1))
    due = due_notifications(resolved, changes, [ROUTE], {(KEY, "hook"): (T0, 0)}, [KEY], T0 + timedelta(hours=1))
    assert [(d.event, d.firing_since) for d in due] == [(Event.RESOLVED, T0)]
    # Never notified (silenced throughout): no resolve either.
    assert due_notifications(resolved, changes, [ROUTE], {}, [KEY], T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize(
    "route, takes",
    [
        (Route("c", severities=("ticket",)), False),
        (Route("c", severities=("page",)), True),
        (Route("c", customers=("community",)), False),
        (Route("c", customers=("acute",)), True),
        (Route("c", services=("pas",)), False),
        (Route("c", services=("epr",)), True),
    ],
)
def test_routing_filters_by_severity_customer_and_service(route, takes):
    assert route.takes(state()) is takes


def test_a_shared_outage_is_one_message_per_channel_listing_the_customers():
    keys = [AlertKey("fast-burn", "core", c, "epr-availability") for c in ("acute", "community", "mental-health")]
    states = {k: AlertState(k, "page", "epr", T0) for k in keys}
    due = due_notifications(states, [], [ROUTE, Route("mail")], {}, [], T0)
    grouped = group(due, {k: "epr" for k in keys})
    assert sorted(grouped) == [("hook", "firing", "fast-burn", "epr"), ("mail", "firing", "fast-burn", "epr")]
    assert [d.key.customer for d in grouped[("hook", "firing", "fast-burn", "epr")]] == ["acute", "community", "mental-health"]


def test_data_missing_goes_to_operations_channels_only():
    key = AlertKey("data-missing", "core", "acute", "epr-availability")
    missing = AlertState(key, "ticket", "epr", T0)
    assert Route("ops").takes(missing)
    assert not Route("acute-it", customers=("acute",)).takes(missing)
    source = AlertState(AlertKey("data-missing", "", "", "prom"), "ticket", "", T0)
    assert Route("ops").takes(source) and not Route("epr-team", services=("epr",)).takes(source)


BREACHED = AlertKey("breached", "core", "acute", "epr-availability")


def closing_payload(state: AlertState) -> dict:
    alert = {
        "customer": "acute", "customer_name": "Acute Services", "agreement": "core", "objective": "epr-availability",
        "summary": state.summary, "target": 99.5, "hours": "always", "value": 99.6, "budget_remaining": 0.2,
        "dashboard": None, "resolution": closing_words(state),
    }
    return {"event": "resolved", "rule": "breached", "severity": "page", "service": "epr",
            "service_name": "Electronic Patient Record", "alerts": [alert]}


@pytest.mark.parametrize("ended, words", [((), "figures corrected"), ((BREACHED,), "period ended")])
def test_a_breached_alert_never_reads_plain_resolved(ended, words):
    firing_state = AlertState(BREACHED, "page", "epr", T0, summary="the 99.5 % target can no longer be met this period")
    closed, changes = transitions({BREACHED: firing_state}, [], T0 + timedelta(hours=1), period_ended=ended)
    assert [c.event for c in changes] == [Event.RESOLVED]
    state = closed[BREACHED]
    assert state.summary.startswith(words) and closing_words(state) == words
    payload = closing_payload(state)
    assert title(payload).startswith(f"[{words.upper()} page] breached")
    (line,) = lines(payload)
    assert words in line and "resolved" not in line.lower() and "RESOLVED" not in title(payload)


def test_other_alerts_still_resolve_plainly():
    key = AlertKey("fast-burn", "core", "acute", "epr-availability")
    closed, _ = transitions({key: AlertState(key, "page", "epr", T0, summary="burning")}, [], T0 + timedelta(hours=1))
    assert closing_words(closed[key]) == "resolved"
