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

from worker import collect as collect_sources
from worker import pipeline
from worker.celeryapp import app
from worker.domain.errors import TransientError
from worker.metrics.burn_rates import refresh_burn_rates
from worker.runtime import Runtime, runtime
from worker.sources import file_drop

log = logging.getLogger(__name__)

# Retried with exponential back-off and jitter; anything else is a bug or bad data, not retried.
TRANSIENT = (OperationalError, DBAPIError, TransientError, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 8}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@app.task(name="sla.collect", **RETRY)
def collect(source_id: str | None = None) -> int:
    """Run every configured source (or only `source_id`) once (file drops, probes, Prometheus,
    ServiceNow: see worker/collect.py); score what they changed. A file drop whose run left
    files waiting (its time budget ran out) is collected again at once by a new message,
    queued behind the jobs already waiting: a burst is worked off without starving them.
    Returns the samples and incidents stored."""
    rt = runtime()
    if source_id is not None and source_id not in rt.catalogue.sources:
        return 0  # removed from the configuration since the message was sent

    def file_done(source: str, outcome: file_drop.DropOutcome) -> None:  # logged as each file is done
        if outcome.report:
            log.info("%s: %s accepted %d, refused %d", source, outcome.path.name, outcome.report.accepted, outcome.report.refused)
        for problem in outcome.problems:
            log.warning("%s: %s", source, problem)

    reports = collect_sources.collect(
        rt.engine, rt.catalogue, _now(), source_id=source_id, on_file=file_done, file_budget_s=collect_sources.FILE_BUDGET_S
    )
    for report in reports:
        for stream in report.failed:
            log.warning("%s: %s failed: %s", report.source, stream.stream, stream.error)
        for stream in report.streams:
            for reason in stream.reasons:
                log.warning("%s: %s refused %s", report.source, stream.stream, reason)
            if stream.detail:
                log.info("%s: %s %s", report.source, stream.stream, stream.detail)
    for line in collect_sources.describe(r for r in reports if r.kind != "file_drop" or r.files):
        log.info("%s", line)
    if any(r.changed for r in reports):
        score_pending.delay()
    for report in reports:
        if report.left:
            collect.delay(report.source)
    failed = next((r.exception for r in reports if r.exception is not None), None)
    if failed is not None:
        raise failed
    return sum(r.stored for r in reports)


@app.task(name="sla.score_pending", **RETRY)
def score_pending() -> int:
    """Score what new input changed; then evaluate alerts on the new results."""
    rt = runtime()
    results = pipeline.score_pending(rt.engine, rt.catalogue, _now(), rt.settings.late_data_grace_s)
    _refresh_burn_rates(rt)  # every run (beat: every 5 minutes), new data or not: windows slide
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
    _refresh_burn_rates(rt)
    evaluate_alerts.delay()
    return stored


def _refresh_burn_rates(rt: Runtime) -> None:
    """Burn rates (SPEC 7 windows) for the metrics endpoint and the alert rules. A database
    hiccup retries the task (scoring is idempotent); any other failure is logged and never
    holds up scoring or alert evaluation."""
    try:
        refresh_burn_rates(rt.engine, rt.catalogue, _now())
    except TRANSIENT:
        raise
    except Exception:
        log.exception("burn rates not refreshed")


@app.task(name="sla.evaluate_alerts", **RETRY)
def evaluate_alerts() -> int:
    """Alert rules after a scoring run (SPEC 7): new alert state, transitions and outbox rows
    in one transaction (worker/alerts/evaluate.py); then deliver what it wrote. Safe to run
    twice: a second run finds nothing new to notify. Returns the alerts firing."""
    from worker.alerts.evaluate import evaluate
    from worker.alerts.rules import Guard

    rt = runtime()
    guard = Guard(rt.settings.alert_min_events, rt.settings.alert_min_counted_ratio)
    outcome = evaluate(rt.engine, rt.catalogue, _now(), guard, grafana_url=rt.settings.grafana_url)
    for change in outcome.transitions:
        log.info("alert %s %s/%s/%s %s", change.key.rule, change.key.agreement, change.key.customer, change.key.objective, change.event)
    if outcome.notifications:
        deliver_notifications.delay()
    return outcome.firing


@app.task(name="sla.deliver_notifications", **RETRY)
def deliver_notifications() -> int:
    """Send the due rows of the notification outbox (worker/alerts/delivery.py): claimed one
    by one, retried with capped exponential back-off by the outbox itself (not by Celery),
    each request carrying its Idempotency-Key. Beat runs it every minute. Returns the sent."""
    from worker.alerts.delivery import Policy, default_senders, deliver
    from worker.reports.mailer import mailer_for

    rt = runtime()
    senders = default_senders(mailer_for(rt.settings), rt.settings.smtp_from)
    policy = Policy(lease_s=rt.settings.notification_claim_timeout_s)
    report = deliver(rt.engine, rt.catalogue, _now(), senders, policy)
    if report.retried or report.failed:
        log.warning("notifications: %d sent, %d to retry, %d failed", len(report.sent), len(report.retried), len(report.failed))
    return len(report.sent)


@app.task(name="sla.send_monthly_reports", **RETRY)
def send_monthly_reports() -> int:
    """Monthly governance reports (SPEC 8): once the previous period is final, every customer
    with `contacts.reports` gets its report once (claimed per report: a retry or a second run
    sends nothing twice). A failed send raises TransientError, so Celery retries with
    back-off; the retry sends only what is still unsent."""
    from worker.reports.delivery import send_due_reports
    from worker.reports.mailer import mailer_for

    rt = runtime()
    outcomes = send_due_reports(
        rt.engine, rt.catalogue, rt.settings.reports_dir, mailer_for(rt.settings), rt.settings.smtp_from,
        _now(), rt.settings.late_data_grace_s, claim_timeout_s=rt.settings.report_claim_timeout_s,
    )
    for outcome in outcomes:
        log.info("%s", outcome.describe())
    failed = [o for o in outcomes if o.failed]
    if failed:
        raise TransientError(f"{len(failed)} report(s) not sent: " + "; ".join(o.describe() for o in failed))
    return sum(1 for o in outcomes if o.sent_to)
