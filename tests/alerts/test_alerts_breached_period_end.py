"""A `breached` episode belongs to its period: when the next period is evaluated it closes as
"period ended", not as corrected figures (SPEC 7: it resolves as such only if corrected
inputs lower the bad)."""

from __future__ import annotations

from datetime import datetime, timezone

from alert_fixtures import catalogue, store_scores
from sqlalchemy import select

from worker.alerts.evaluate import evaluate
from worker.storage.tables import alerts

OCTOBER = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
NOVEMBER = datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc)


def breached(engine) -> dict[str, tuple[bool, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.rule == "breached", alerts.c.objective == "epr-availability"))
        return {r.customer: (r.firing_since is not None, r.summary) for r in rows}


def test_a_breach_still_firing_when_its_period_ends_closes_as_period_ended(engine, tmp_path):
    cat = catalogue(tmp_path)
    # October counts 745 h: at 99.5 % it allows 13,410 s; 20,000 s down is past saving.
    store_scores(engine, OCTOBER, burn=0.0, bad=20_000.0, period="2026-10")
    evaluate(engine, cat, OCTOBER)
    fired = breached(engine)
    assert {c: f for c, (f, _) in fired.items()} == {"acute": True, "community": True}
    assert fired["acute"][1].startswith("the 99.5 % target can no longer be met this period: 5 h 33 min counted as down")

    store_scores(engine, NOVEMBER, burn=0.0, bad=0.0, period="2026-11")
    evaluate(engine, cat, NOVEMBER)
    closed = breached(engine)
    assert all(not firing and summary.startswith("period ended") for firing, summary in closed.values()), closed
