"""Per-customer service instances (issue 16) beyond scoring: a practice's report, its burn rates,
its alerts and the maintenance and incidents on a template are each its own link's, from its
own samples, and never another practice's."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from worker.alerts.evaluate import evaluate, route_of
from worker.config import load_catalogue
from worker.domain.model import Catalogue, Channel, ChannelFilters, ChannelKind
from worker.metrics.burn_rates import refresh_burn_rates
from worker.metrics.collector import collect_families
from worker.reports import gather
from worker.reports.customer.build import build_customer_report
from worker.reports.customer.view import customer_document
from worker.reports.render_text import render_text
from worker.storage.burn_rates import load_burn_rates
from worker.storage.results import load_results
from worker.storage.tables import alerts
from worker.usecases.ingest import ingest
from worker.usecases.score import score_pending, score_period

CONFIG = """\
    calendars:
      - {id: always, hours: 24x7}
    sources:
      - {id: drop, kind: file_drop, path: var/incoming}
    services:
      - id: site-link
        name: Site link
        per_customer: true
        signals:
          up: {source: drop, staleness: 10m}
    customers:
      - {id: gp1, name: Riverside Practice, kind: primary-care, ods_code: A81001}
      - {id: gp2, name: Hill Practice, kind: primary-care, ods_code: A81002}
    agreements:
      - id: links
        name: Practice links
        timezone: UTC
        customers: [gp1, gp2]
        objectives:
          - {id: link-up, service: site-link, type: availability, target: 99, calendar: always}
          - {id: link-fix, service: site-link, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: always}
    """
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    config = tmp_path / "config"
    config.mkdir()
    (config / "all.yaml").write_text(textwrap.dedent(CONFIG))
    return load_catalogue(config)


def up_rows(service: str, start: datetime, end: datetime, down: tuple[datetime, datetime] | None = None) -> list[str]:
    """An `up` sample every 5 minutes from start to end, 0 inside `down`."""
    rows, at = [], start
    while at < end:
        value = 0 if down is not None and down[0] <= at < down[1] else 1
        rows.append(f"{at:%Y-%m-%dT%H:%M:%SZ},{service},up,{value}")
        at += timedelta(minutes=5)
    return rows


def samples(*rows: list[str]) -> bytes:
    return ("timestamp,service,signal,value\n" + "\n".join(r for part in rows for r in part) + "\n").encode()


GP1_DOWN = (datetime(2026, 10, 10, 10, 0, tzinfo=UTC), datetime(2026, 10, 10, 12, 0, tzinfo=UTC))
GP2_DOWN = (datetime(2026, 10, 20, 14, 0, tzinfo=UTC), datetime(2026, 10, 20, 14, 30, tzinfo=UTC))


def october(engine: Engine, catalogue: Catalogue) -> None:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    data = samples(up_rows("site-link.gp1", OCTOBER, end, GP1_DOWN), up_rows("site-link.gp2", OCTOBER, end, GP2_DOWN))
    ingest(engine, catalogue, "samples", data, NOW)


def report_of(engine: Engine, catalogue: Catalogue, customer: str):
    with engine.connect() as conn:
        inputs = gather.customer_inputs(conn, catalogue, customer, "2026-10", NOW.timestamp())
    report = build_customer_report(catalogue, inputs)
    return report, render_text(customer_document(report))


# --- 1. customer reports ---------------------------------------------------------------------------


def test_a_practices_report_shows_its_own_links_outage_from_its_own_samples_and_no_other_practices(engine, catalogue):
    october(engine, catalogue)
    score_period(engine, catalogue, "2026-10", NOW, 0.0)

    gp1, gp1_text = report_of(engine, catalogue, "gp1")
    gp2, gp2_text = report_of(engine, catalogue, "gp2")

    assert [(o.service, o.service_name, o.start_s, o.end_s) for o in gp1.outages] == [
        ("site-link.gp1", "Site link (Riverside Practice)", GP1_DOWN[0].timestamp(), GP1_DOWN[1].timestamp())
    ]
    assert [(o.service, o.start_s) for o in gp2.outages] == [("site-link.gp2", GP2_DOWN[0].timestamp())]
    assert [o.count for o in gp1.outage_summary] == [1]
    assert [t.service for t in gp1.trends] == ["site-link.gp1"]  # its link's chart
    assert {r.service_name for r in gp1.rows} == {"Site link (Riverside Practice)"}  # incidents too: one link
    assert gp1.gaps == ()  # its own samples were loaded: no gap
    assert "Site link (Riverside Practice)" in gp1_text
    assert "10 Oct" in gp1_text or "2026-10-10" in gp1_text
    for other in ("Hill Practice", "site-link.gp2", "gp2", "20 Oct"):
        assert other not in gp1_text
    for other in ("Riverside Practice", "site-link.gp1", "10 Oct"):
        assert other not in gp2_text



# --- 2. metrics and burn rates ---------------------------------------------------------------------

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)


def last_hours(engine: Engine, catalogue: Catalogue, now: datetime, *, gp1_down_from: datetime | None = None,
               gp2_until: datetime | None = None) -> None:
    """Six hours of both links up to `now`: gp1 down from `gp1_down_from`, gp2 silent after `gp2_until`."""
    start = now - timedelta(hours=6)
    gp1 = up_rows("site-link.gp1", start, now, None if gp1_down_from is None else (gp1_down_from, now))
    gp2 = up_rows("site-link.gp2", start, gp2_until or now)
    ingest(engine, catalogue, "samples", samples(gp1, gp2), now)


def burn_1h(engine: Engine) -> dict[str, float | None]:
    with engine.connect() as conn:
        return {b.customer: b.burn_rate for b in load_burn_rates(conn) if b.objective == "link-up" and b.window == "1h"}


def test_each_practices_burn_rate_comes_from_its_own_links_samples(engine, catalogue):
    last_hours(engine, catalogue, T0, gp1_down_from=T0 - timedelta(minutes=30))
    score_pending(engine, catalogue, T0, 6 * 3600.0)
    refresh_burn_rates(engine, catalogue, T0)

    rates = burn_1h(engine)
    assert rates["gp1"] == pytest.approx(50.0, rel=0.1)  # half the hour down, 1% budget: burning at 50×
    assert rates["gp2"] == 0.0


def test_a_practices_series_name_the_configured_service_and_their_own_customer(engine, catalogue):
    last_hours(engine, catalogue, T0, gp1_down_from=T0 - timedelta(minutes=30))
    score_pending(engine, catalogue, T0, 6 * 3600.0)
    refresh_burn_rates(engine, catalogue, T0)

    with engine.connect() as conn:
        families = {f.name: f for f in collect_families(conn, catalogue, T0)}
    status = {(s.labels["customer"], s.labels["service"]) for s in families["sla_objective_status"].samples
              if s.labels["objective"] == "link-up"}
    burn = {(s.labels["customer"], s.labels["service"]): s.value for s in families["sla_burn_rate"].samples
            if s.labels["objective"] == "link-up" and s.labels["window"] == "1h"}
    assert status == {("gp1", "site-link"), ("gp2", "site-link")}
    assert burn[("gp1", "site-link")] > 0 and burn[("gp2", "site-link")] == 0
    with engine.connect() as conn:  # while the results themselves name the instance measured
        assert {r.customer: r.service for r in load_results(conn, "2026-10") if r.objective == "link-up"} == {
            "gp1": "site-link.gp1", "gp2": "site-link.gp2"
        }


# --- 3. alerts -------------------------------------------------------------------------------------


def firing(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.rule, alerts.c.customer, alerts.c.service)
            .where(alerts.c.objective == "link-up", alerts.c.firing_since.is_not(None))
        ).all()
    return {tuple(r) for r in rows}


def run_alerts(engine: Engine, catalogue: Catalogue, now: datetime) -> None:
    score_pending(engine, catalogue, now, 6 * 3600.0)
    refresh_burn_rates(engine, catalogue, now)
    evaluate(engine, catalogue, now)


def test_a_practice_whose_link_is_down_pages_for_that_practice_only(engine, catalogue):
    last_hours(engine, catalogue, T0, gp1_down_from=T0 - timedelta(minutes=30))
    run_alerts(engine, catalogue, T0)

    assert {(rule, customer) for rule, customer, _ in firing(engine) if rule == "fast-burn"} == {("fast-burn", "gp1")}
    assert {service for _, customer, service in firing(engine) if customer == "gp1"} == {"site-link.gp1"}
    assert not any(customer == "gp2" for _, customer, _ in firing(engine))


def test_a_practice_whose_link_stopped_reporting_gets_data_missing_and_the_others_do_not(engine, catalogue):
    last_hours(engine, catalogue, T0)
    run_alerts(engine, catalogue, T0)
    assert firing(engine) == set(), "both links reporting: nothing"

    later = T0 + timedelta(minutes=50)  # gp2's link stopped at T0; gp1's carried on
    ingest(engine, catalogue, "samples", samples(up_rows("site-link.gp1", T0, later)), later)
    run_alerts(engine, catalogue, later)

    assert {(rule, customer) for rule, customer, _ in firing(engine) if rule == "data-missing"} == {("data-missing", "gp2")}


# --- 4. maintenance and incidents on a template ----------------------------------------------------


def results_by_customer(engine: Engine, objective: str) -> dict[str, object]:
    with engine.connect() as conn:
        return {r.customer: r for r in load_results(conn, "2026-10") if r.objective == objective}


def test_maintenance_written_for_the_template_excludes_its_time_on_every_practices_link(engine, catalogue):
    october(engine, catalogue)
    windows = [
        f"site-link,{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},2026-09-01T09:00:00Z,Line works,false"
        for start, end in (GP1_DOWN, GP2_DOWN)
    ]
    ingest(engine, catalogue, "maintenance", ("service,start,end,announced,reason,emergency\n" + "\n".join(windows) + "\n").encode(), NOW)
    score_period(engine, catalogue, "2026-10", NOW, 0.0)

    found = results_by_customer(engine, "link-up")
    assert {c: (r.value, r.bad) for c, r in found.items()} == {"gp1": (100.0, 0.0), "gp2": (100.0, 0.0)}
    assert found["gp1"].total == pytest.approx(31 * 86400 - 9000)  # each link loses both windows (2 h 30 min)
    assert found["gp2"].total == found["gp1"].total
    gp1, _ = report_of(engine, catalogue, "gp1")
    assert gp1.outages == ()
    assert {(m.service, m.service_name, m.excluded) for m in gp1.maintenance} == {
        ("site-link.gp1", "Site link (Riverside Practice)", True)
    }


def test_an_incident_for_one_practices_link_counts_for_that_practice_only(engine, catalogue):
    october(engine, catalogue)
    rows = [
        "INC1,site-link,gp1,P2,2026-10-05T10:00:00Z,2026-10-05T10:30:00Z,2026-10-05T20:00:00Z,",  # 10 h: breached
        "INC2,site-link,,P2,2026-10-06T10:00:00Z,2026-10-06T10:30:00Z,2026-10-06T12:00:00Z,",  # every practice: met
    ]
    ingest(engine, catalogue, "incidents", ("id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold\n"
                                            + "\n".join(rows) + "\n").encode(), NOW)
    score_period(engine, catalogue, "2026-10", NOW, 0.0)

    found = results_by_customer(engine, "link-fix")
    assert {c: (r.good, r.bad, r.value) for c, r in found.items()} == {"gp1": (1.0, 1.0, 50.0), "gp2": (1.0, 0.0, 100.0)}
    gp1, gp1_text = report_of(engine, catalogue, "gp1")
    gp2, gp2_text = report_of(engine, catalogue, "gp2")
    assert [(b.id, b.service_name) for b in gp1.breached] == [("INC1", "Site link (Riverside Practice)")]
    assert gp2.breached == ()
    assert [(r.met, r.breached) for r in gp2.incidents] == [(1, 0)]
    assert "INC1" in gp1_text and "INC1" not in gp2_text


def test_a_channel_asking_for_the_template_gets_every_practices_link_alerts(catalogue):
    channel = Channel("links-desk", ChannelKind.WEBHOOK, None, ChannelFilters(services=("site-link",)))

    route = route_of(channel, catalogue)

    assert route.services is not None
    assert set(route.services) == {"site-link", "site-link.gp1", "site-link.gp2"}
