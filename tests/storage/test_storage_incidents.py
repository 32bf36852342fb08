"""Incidents: stored by id, datetimes back as aware UTC, on every engine in use."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from worker.domain.model import Incident
from worker.storage.incidents import (
    first_opened_s,
    get_incident,
    get_incidents,
    load_incidents,
    store_incidents,
)

BST = timezone(timedelta(hours=1))
UTC = timezone.utc
STAMP = datetime(2026, 11, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def incident(id: str = "INC0012", **changes) -> Incident:  # type: ignore[no-untyped-def]
    fields = {
        "id": id,
        "service": "epr",
        "priority": "P2",
        "opened_at": at("2026-10-05T09:10:00+01:00"),
        "customer": None,
        "responded_at": at("2026-10-05T09:40:00+01:00"),
        "resolved_at": at("2026-10-05T15:00:00+01:00"),
        "on_hold": ((at("2026-10-05T11:00:00+01:00"), at("2026-10-05T12:00:00+01:00")),),
    }
    fields.update(changes)
    return Incident(**fields)  # type: ignore[arg-type]


def test_an_incident_round_trips_with_aware_utc_datetimes(engine: Engine) -> None:
    stored = incident(customer="acute", opened_at=datetime(2026, 10, 5, 9, 10, 0, 123456, tzinfo=BST))
    with engine.begin() as conn:
        assert store_incidents(conn, [stored], updated_at=STAMP) == 1
    with engine.connect() as conn:
        (loaded,) = load_incidents(conn)
    assert loaded == stored  # aware datetimes compare as instants
    for value in (loaded.opened_at, loaded.responded_at, loaded.resolved_at, *loaded.on_hold[0]):
        assert value is not None and value.utcoffset() == timedelta(0)
    assert loaded.opened_at == datetime(2026, 10, 5, 8, 10, 0, 123456, tzinfo=UTC)
    assert loaded.customer == "acute"


def test_an_incident_stored_again_is_updated_by_id(engine: Engine) -> None:
    with engine.begin() as conn:
        store_incidents(conn, [incident(resolved_at=None, on_hold=())], updated_at=STAMP)
    with engine.begin() as conn:
        store_incidents(conn, [incident(priority="P1")], updated_at=STAMP)
    with engine.connect() as conn:
        loaded = load_incidents(conn)
        assert get_incident(conn, "INC0012") == incident(priority="P1")
        assert get_incident(conn, "INC9999") is None
    assert loaded == [incident(priority="P1")]


def test_a_stored_version_with_every_field_set_is_cleared_by_one_with_empty_fields(engine: Engine) -> None:
    with engine.begin() as conn:
        store_incidents(conn, [incident(customer="acute")], updated_at=STAMP)
    bare = incident(customer=None, responded_at=None, resolved_at=None, on_hold=())
    with engine.begin() as conn:
        store_incidents(conn, [bare], updated_at=STAMP)
    with engine.connect() as conn:
        assert get_incident(conn, "INC0012") == bare


def test_the_stored_versions_of_many_incidents_are_read_by_id(engine: Engine) -> None:
    stored = [incident(f"INC{n:05d}", service="epr" if n % 2 else "pacs") for n in range(1200)]
    with engine.begin() as conn:
        store_incidents(conn, stored, updated_at=STAMP)
    with engine.connect() as conn:
        found = get_incidents(conn, [i.id for i in stored] + ["INC-NEW"])
        assert get_incidents(conn, []) == {}
    assert found == {i.id: i for i in stored}


def test_the_later_row_of_one_batch_wins(engine: Engine) -> None:
    with engine.begin() as conn:
        assert store_incidents(conn, [incident(priority="P3"), incident(priority="P4")]) == 1
    with engine.connect() as conn:
        assert [i.priority for i in load_incidents(conn)] == ["P4"]


def test_an_open_incident_without_hold_round_trips(engine: Engine) -> None:
    open_one = incident(responded_at=None, resolved_at=None, on_hold=())
    with engine.begin() as conn:
        store_incidents(conn, [open_one], updated_at=STAMP)
    with engine.connect() as conn:
        assert load_incidents(conn) == [open_one]


def test_incidents_are_filtered_by_service_and_time(engine: Engine) -> None:
    period_start = at("2026-10-01T00:00:00+01:00")
    items = [
        incident(
            "old-closed",
            responded_at=at("2026-09-01T10:00:00Z"),
            resolved_at=at("2026-09-02T10:00:00Z"),
            opened_at=at("2026-09-01T09:00:00Z"),
            on_hold=(),
        ),
        incident(
            "old-resolved-late",
            opened_at=at("2026-09-20T09:00:00Z"),
            responded_at=at("2026-09-20T10:00:00Z"),
            resolved_at=period_start,
            on_hold=(),
        ),
        incident(
            "old-never-responded",
            opened_at=at("2026-09-20T09:00:00Z"),
            responded_at=None,
            resolved_at=at("2026-09-21T10:00:00Z"),
            on_hold=(),
        ),
        incident(
            "old-open",
            opened_at=at("2026-09-25T09:00:00Z"),
            responded_at=at("2026-09-25T10:00:00Z"),
            resolved_at=None,
            on_hold=(),
        ),
        incident("this-month"),
        incident("next-month", opened_at=at("2026-11-02T09:00:00Z"), responded_at=None, resolved_at=None, on_hold=()),
        incident("pacs", service="pacs"),
    ]
    with engine.begin() as conn:
        store_incidents(conn, items, updated_at=STAMP)
    with engine.connect() as conn:
        candidates = load_incidents(
            conn,
            services=["epr"],
            opened_before=at("2026-11-01T00:00:00Z"),
            open_or_stopped_after=period_start,
        )
        assert [i.id for i in candidates] == ["old-never-responded", "old-resolved-late", "old-open", "this-month"]
        assert [i.id for i in load_incidents(conn, services=["pacs"])] == ["pacs"]
        assert load_incidents(conn, services=[]) == []
        assert len(load_incidents(conn)) == len(items)


def test_the_incidents_for_a_customer_are_its_own_and_those_for_everyone(engine: Engine) -> None:
    everyone, own, other = incident("INC1"), incident("INC2", customer="a81001"), incident("INC3", customer="a81002")
    with engine.begin() as conn:
        store_incidents(conn, [everyone, own, other], updated_at=STAMP)
    with engine.connect() as conn:
        assert [i.id for i in load_incidents(conn, for_customer="a81001")] == ["INC1", "INC2"]
        assert [i.id for i in load_incidents(conn, services=["epr"], for_customer="a81002")] == ["INC1", "INC3"]
        assert [i.id for i in load_incidents(conn)] == ["INC1", "INC2", "INC3"]


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive"), engine.begin() as conn:
        store_incidents(conn, [incident(opened_at=datetime(2026, 10, 5, 9, 10))])


def test_the_earliest_opened_incident_is_found(engine: Engine) -> None:
    with engine.connect() as conn:
        assert first_opened_s(conn) is None
    with engine.begin() as conn:
        store_incidents(conn, [incident("a"), incident("b", opened_at=at("2026-09-30T23:59:59.5+01:00"))])
    with engine.connect() as conn:
        assert first_opened_s(conn) == at("2026-09-30T22:59:59.5+00:00").timestamp()


MOVED_CONFIG = """
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record}
  - {id: pacs, name: PACS}
customers:
  - {id: acute, name: Acute Services Directorate}
agreements:
  - id: core
    name: Core
    customers: [acute]
    objectives:
      - {service: epr, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: always}
      - {service: pacs, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: always}
"""


def test_an_incident_moved_to_another_service_leaves_the_old_services_result(engine: Engine, tmp_path) -> None:
    from worker.config import load_catalogue
    from worker.usecases.ingest import ingest
    from worker.usecases.results import read_results
    from worker.usecases.score import score_pending

    (tmp_path / "trust.yaml").write_text(MOVED_CONFIG, encoding="utf-8")
    catalogue = load_catalogue(tmp_path)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    header = "id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold\n"
    for service in ("epr", "pacs"):
        row = f"INC7,{service},,P2,2026-10-05T09:00:00Z,,2026-10-05T10:00:00Z,\n"
        ingest(engine, catalogue, "incidents", (header + row).encode(), now)
        score_pending(engine, catalogue, now, 6 * 3600.0)
    totals = {r.service: r.total for r in read_results(engine, "2026-10")}
    assert totals == {"epr": 0.0, "pacs": 1.0}  # INC7 counted once, under its new service
