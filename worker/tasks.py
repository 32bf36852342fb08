"""Thin Celery tasks: load what is needed, call a pipeline function, commit, emit the next
event. Every task is safe to run twice: ingestion is an upsert with a file-hash claim,
scoring consumes pending changes in its own transaction, results are upserts.

Flow: collect (new files) → score_pending (only what changed) → evaluate_alerts.
Beat (schedules/beat.yaml) also runs score_pending and reconcile as a safety net, so a lost
message delays work but never loses it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy.exc import DBAPIError, OperationalError

from worker import pipeline
from worker.celeryapp import app
from worker.domain.errors import TransientError
from worker.runtime import runtime
from worker.sources import file_drop

log = logging.getLogger(__name__)

# Retried with exponential back-off and jitter; anything else is a bug or bad data, not retried.
TRANSIENT = (OperationalError, DBAPIError, TransientError, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 8}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@app.task(name="sla.collect", **RETRY)
def collect() -> int:
    """Take every file waiting in the file-drop folders; score what they changed."""
    rt = runtime()
    catalogue = rt.catalogue
    taken = 0
    for source in catalogue.sources.values():
        if source.kind != "file_drop":
            continue
        for path in file_drop.waiting_files(file_drop.folder(source), _now()):
            outcome = file_drop.process_file(rt.engine, catalogue, path, _now())
            taken += 1
            if outcome.report:
                log.info("%s: %s accepted %d, refused %d", source.id, path.name, outcome.report.accepted, outcome.report.refused)
            for problem in outcome.problems:
                log.warning("%s: %s", source.id, problem)
    if taken:
        score_pending.delay()
    return taken


@app.task(name="sla.score_pending", **RETRY)
def score_pending() -> int:
    """Score what new input changed; then evaluate alerts on the new results."""
    rt = runtime()
    results = pipeline.score_pending(rt.engine, rt.catalogue, _now(), rt.settings.late_data_grace_s)
    if results:
        evaluate_alerts.delay()
    return len(results)


@app.task(name="sla.reconcile", **RETRY)
def reconcile() -> int:
    """Re-score the running period (and the previous one until it is final) from scratch."""
    rt = runtime()
    now = _now()
    stored = 0
    for period in pipeline.open_periods(rt.catalogue, now, rt.settings.late_data_grace_s):
        stored += len(pipeline.score_period(rt.engine, rt.catalogue, period, now, rt.settings.late_data_grace_s))
    evaluate_alerts.delay()
    return stored


@app.task(name="sla.evaluate_alerts", **RETRY)
def evaluate_alerts() -> int:
    """Alert rules after a scoring run (SPEC 7): arrives with the alerts work; nothing yet."""
    return 0


@app.task(name="sla.send_monthly_reports", **RETRY)
def send_monthly_reports() -> int:
    """Monthly governance reports (SPEC 8): arrives with the reports work; nothing yet."""
    return 0
