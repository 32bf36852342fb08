"""Maintenance windows: one row per (service, start, end), on every engine in use."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, func, select

from worker.domain.model import MaintenanceWindow
from worker.storage.maintenance import load_maintenance, store_maintenance
from worker.storage.tables import maintenance

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


WINDOW = MaintenanceWindow(
    service="epr",
    start_at=at("2026-10-11T22:00:00+01:00"),
    end_at=at("2026-10-12T02:00:00+01:00"),
    announced_at=at("2026-10-01T09:00:00+01:00"),
    reason="EPR upgrade 24.3",
)


def test_reingesting_a_window_updates_it_and_never_duplicates_it(engine: Engine) -> None:
    changed = MaintenanceWindow(
        service="epr",
        # the same instants, written in UTC this time
        start_at=at("2026-10-11T21:00:00Z"),
        end_at=at("2026-10-12T01:00:00Z"),
        announced_at=None,
        reason="EPR upgrade 24.3 (rescheduled notice)",
        emergency=True,
    )
    with engine.begin() as conn:
        store_maintenance(conn, [WINDOW])
    with engine.begin() as conn:
        store_maintenance(conn, [WINDOW])
        store_maintenance(conn, [changed])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(maintenance)).scalar() == 1
        (loaded,) = load_maintenance(conn)
    assert loaded == changed
    assert loaded.start_at.utcoffset() == timedelta(0) and loaded.emergency is True


def test_windows_round_trip_sorted_and_filtered_by_service(engine: Engine) -> None:
    pacs = MaintenanceWindow(service="pacs", start_at=at("2026-10-01T00:00:00Z"), end_at=at("2026-10-01T01:00:00Z"))
    early = MaintenanceWindow(service="epr", start_at=at("2026-10-01T00:00:00Z"), end_at=at("2026-10-01T00:30:00Z"))
    with engine.begin() as conn:
        assert store_maintenance(conn, [pacs, WINDOW, early]) == 3
    with engine.connect() as conn:
        assert load_maintenance(conn) == [early, WINDOW, pacs]
        assert load_maintenance(conn, services={"pacs"}) == [pacs]
        assert load_maintenance(conn, services=[]) == []
    assert pacs.reason == "" and pacs.emergency is False
