"""`breached` and the budget need the whole period's counted time: it and the share gone by
come from the calendar exactly (office hours, bank holidays, excluded maintenance), not the wall clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine

from worker.alerts.evaluate import _counted_times
from worker.config import load_catalogue
from worker.scoring.calendars import open_intervals
from worker.scoring.intervals import Intervals, subtract
from worker.scoring.periods import period_bounds
from worker.storage.engine import read_only

CASE = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10" / "config"


def test_share_of_counted_time_follows_office_hours_and_excluded_maintenance(engine: Engine):
    catalogue = load_catalogue(CASE)
    now = datetime(2026, 10, 15, 12, 0, tzinfo=timezone.utc)
    start, end = period_bounds("2026-10", "Europe/London")
    with read_only(engine) as conn:
        times = _counted_times(conn, catalogue, now.timestamp())
    shares = {key: t.share for key, t in times.items()}
    office = catalogue.calendars["office"]
    expected = open_intervals(office, start, now.timestamp()).measure / open_intervals(office, start, end).measure
    assert shares[("core-2026", "pacs-availability", None)] == expected  # short-notice PACS work is not excluded
    upgrade = Intervals.of([(datetime(2026, 10, 11, 21, tzinfo=timezone.utc).timestamp(), datetime(2026, 10, 12, 1, tzinfo=timezone.utc).timestamp())])
    always = subtract(Intervals.of([(start, end)]), upgrade)  # the announced EPR upgrade is excluded
    so_far = subtract(Intervals.of([(start, now.timestamp())]), upgrade)
    assert shares[("core-2026", "epr-availability", None)] == so_far.measure / always.measure
    assert times[("core-2026", "epr-availability", None)].whole_s == always.measure  # the whole period's |C|
    assert ("partners-2026", "email-availability", None) in shares  # effective from the 15th: still scored
