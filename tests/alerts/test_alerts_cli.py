"""`sla-worker alerts evaluate|list|silence` and `sla-worker notifications list`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alert_fixtures import catalogue, store_scores

from worker.cli import main
from worker.scoring.periods import period_of
from worker.storage import alerts as store
from worker.storage.engine import make_engine


def test_silence_list_evaluate_and_notifications(database_url, tmp_path, capsys, monkeypatch):
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI migrates SQLite itself; one engine is enough here")
    catalogue(tmp_path)
    config = str(tmp_path / "config")
    base = ["--config", config, "--db", database_url]
    assert main([*base, "alerts", "silence", "--service", "epr", "--for", "2h", "--reason", "EPR upgrade"]) == 0
    assert "silenced until" in capsys.readouterr().out
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        assert store.active_silences(conn, now) == [("epr", None)]
    store_scores(engine, now, burn=20.0, period=period_of(now.timestamp(), "Europe/London"))
    monkeypatch.setenv("TEST_HOOK_URL", "http://127.0.0.1:9/hook")
    assert main([*base, "alerts", "evaluate"]) == 0
    out = capsys.readouterr().out
    assert "fast-burn" in out and "0 notification(s) queued" in out  # silenced
    assert main([*base, "alerts", "list"]) == 0
    assert "core/acute/epr-availability  firing since" in capsys.readouterr().out
    assert main([*base, "alerts", "list", "--history"]) == 0
    assert main([*base, "notifications", "list"]) == 0
    assert main([*base, "alerts", "silence", "--service", "nope", "--for", "2h", "--reason", "x"]) == 2
    engine.dispose()
