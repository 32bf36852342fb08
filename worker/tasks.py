"""Thin Celery tasks: load what is needed, call a use case (worker/usecases), emit the next
event. Every task is safe to run twice: ingestion is an upsert with a file-hash claim,
scoring consumes pending changes in its own transaction, results are upserts.

Flow: collect (new files) → score_pending (only what changed, shard by shard) → evaluate_alerts,
which fans out one evaluate_alerts_shard per shard; send_monthly_reports fans out one
send_report per report (issue 16).
Beat (schedules/beat.yaml) also runs score_pending and reconcile (one score_shard message per
period and shard) as a safety net, so a lost message delays work but never loses it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import psycopg
from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from worker import collect as collect_sources
from worker.celeryapp import app
from worker.domain.errors import TransientError
from worker.domain.model import SourceKind
from worker.metrics.burn_rates import refresh_burn_rates
from worker.runtime import runtime
from worker.scoring.shards import Shard
from worker.sources import file_drop
from worker.storage.locks import is_sqlite
from worker.usecases import periods, score

log = logging.getLogger(__name__)

MAX_RETRIES = 8
RETRY_BACKOFF_S = 5
RETRY_BACKOFF_MAX_S = 300

# PostgreSQL SQLSTATEs a second attempt can cure: the server lost or refused the connection
# for now (class 08, 57P01-57P03, 53 out of resources), or the transaction lost a race
# (40001 serialisation failure, 40P01 deadlock), or waited too long (57014 statement timeout,
# 55P03 lock timeout). Everything else from the server (a syntax error, a missing table, a
# unique violation, bad data) fails the same way every time.
_TRANSIENT_SQLSTATES = ("08", "53", "40001", "40P01", "57014", "57P01", "57P02", "57P03", "55P03")
# SQLite: another connection holds the lock (busy_timeout ran out). "no such table" is an
# OperationalError too, but permanent: the error name, not the class, decides.
_TRANSIENT_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED")


def is_transient(exc: BaseException) -> bool:
    """May running the same task again succeed? True only for failures that pass by
    themselves: lost or refused connections, timeouts, serialisation failures and deadlocks,
    a locked SQLite file, and outside systems that said so (TransientError). An SQL bug, a
    constraint violation or bad data fails again on every retry: False, so it is recorded
    at once instead of retried eight times over half an hour."""
    if isinstance(exc, (TransientError, ConnectionError, TimeoutError, PoolTimeout, DisconnectionError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # SQLAlchemy saw a disconnect and dropped the connection
        return True
    orig = exc.orig
    if isinstance(orig, psycopg.Error):
        sqlstate = orig.sqlstate
        if sqlstate is None:  # raised by the client, not the server: no connection, or it broke
            return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    if isinstance(orig, sqlite3.Error):
        return (getattr(orig, "sqlite_errorname", "") or "").startswith(_TRANSIENT_SQLITE)
    return False


def retry_countdown(retries: int) -> int:
    """Seconds before retry number `retries` + 1: exponential from 5 s, capped at 5 min,
    with full jitter so that workers hit by the same outage do not come back together."""
    return int(
        get_exponential_backoff_interval(factor=RETRY_BACKOFF_S, retries=retries, maximum=RETRY_BACKOFF_MAX_S, full_jitter=True)
    )


def _task(name: str) -> Callable[[Callable[..., Any]], Task]:
    """Register `fn` as a Celery task that is retried (capped, with back-off) when
    `is_transient` says a retry may cure its failure, and fails at once otherwise. (Celery's
    own `autoretry_for` goes by exception class, and one class — OperationalError — holds
    both a lost connection and SQLite's "no such table".)"""

    def register(fn: Callable[..., Any]) -> Task:
        def run(self: Task, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc

        run.__name__, run.__qualname__, run.__doc__, run.__module__ = fn.__name__, fn.__qualname__, fn.__doc__, fn.__module__
        return app.task(name=name, bind=True, max_retries=MAX_RETRIES)(run)

    return register


def _now() -> datetime:
    return datetime.now(timezone.utc)


@_task("sla.collect")
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

    reports = collect_sources.collect(
        rt.engine, rt.catalogue, _now(), source_id=source_id, on_file=file_done, file_budget_s=collect_sources.FILE_BUDGET_S
    )
    for line in collect_sources.problems(reports):
        log.warning("%s", line)
    for line in collect_sources.describe(r for r in reports if r.kind != SourceKind.FILE_DROP or r.files):
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


@_task("sla.score_pending")
def score_pending() -> int:
    """Score what new input changed, shard by shard, skipping the shards another worker is
    scoring right now (their changes wait for the next run); then evaluate the alerts of the
    shards that have new results (beat's `sla.evaluate_alerts` every 5 minutes evaluates every
    shard: burn-rate windows slide with the clock). Every shard busy: nothing to do here.
    Returns the results stored."""
    rt = runtime()
    run = score.score_pending_shards(rt.engine, rt.catalogue, _now(), rt.settings.late_data_grace_s, shards=rt.settings.scoring_shards)
    if run.busy:
        log.info("score_pending: shards %s busy elsewhere, left for the next run", ", ".join(str(s) for s in run.busy))
    _evaluate_shards([shard for shard in run.scored if any(shard.holds(r.service) for r in run.results)])
    return len(run.results)


def _evaluate_shards(shards: Sequence[Shard]) -> None:
    """Alert evaluation of these scoring shards, one message each; on SQLite, whose writers
    take turns anyway, one message for everything."""
    if not shards:
        return
    if is_sqlite(runtime().engine):
        evaluate_alerts.delay()
        return
    for shard in shards:
        evaluate_alerts_shard.delay(shard.index, shard.count)


@_task("sla.reconcile")
def reconcile() -> int:
    """Re-score the running period (and the previous one until it is final) from scratch: one
    `sla.score_shard` message per (period, shard), so every worker takes a part. Returns the
    messages sent."""
    rt = runtime()
    count = rt.settings.scoring_shards
    open_periods = periods.open_periods(rt.catalogue, _now(), rt.settings.late_data_grace_s)
    for period in open_periods:
        for index in range(count):
            score_shard.delay(period, index, count)
    return len(open_periods) * count


@_task("sla.score_shard")
def score_shard(period: str, shard: int, shards: int | None = None) -> int:
    """Re-score one shard of one period from scratch (sent by `sla.reconcile`), waiting for a
    worker scoring the same shard to finish first; then evaluate alerts. `shards` is the count
    the sender cut the work in (a worker set to another count still scores exactly the sent
    shard). Safe to run twice: results and tally sheets are upserts. Returns the results stored."""
    rt = runtime()
    part = Shard(shard, shards or rt.settings.scoring_shards)
    results = score.score_period(rt.engine, rt.catalogue, period, _now(), rt.settings.late_data_grace_s, part)
    if results:
        _evaluate_shards([part])
    return len(results)


@_task("sla.evaluate_alerts")
def evaluate_alerts() -> int:
    """Alert rules after a scoring run (SPEC 7), fanned out: one `sla.evaluate_alerts_shard`
    message per shard of services (worker/alerts/shards.py, setting SLA_SCORING_SHARDS), which
    any worker may take. On SQLite, whose transactions take one writer at a time, shards could
    only run one after another: one message evaluates everything. Returns the shards dispatched."""

    rt = runtime()
    shards = 1 if is_sqlite(rt.engine) else rt.settings.scoring_shards
    for shard in range(shards):
        evaluate_alerts_shard.delay(shard, shards)
    return shards


@_task("sla.evaluate_alerts_shard")
def evaluate_alerts_shard(shard: int, shards: int | None = None) -> int:
    """The alert rules of one shard's services: new alert state, transitions and outbox rows in
    one transaction under the shard's lock (worker/alerts/evaluate.py); then deliver what it
    wrote. Safe to run twice: a second run finds nothing new to notify. A message counted for
    another number of shards than this worker's setting is evaluated as sent (its shard of its
    count): every alert still belongs to exactly one shard of it. Returns the alerts firing in
    the shard."""
    from worker.alerts.evaluate import evaluate
    from worker.alerts.rules import Guard

    rt = runtime()
    guard = Guard(rt.settings.alert_min_events, rt.settings.alert_min_counted_ratio)
    part = Shard(shard, shards or rt.settings.scoring_shards)
    now = _now()
    refresh_burn_rates(rt.engine, rt.catalogue, now, part.holds)  # the windows slide with the clock
    outcome = evaluate(rt.engine, rt.catalogue, now, guard, grafana_url=rt.settings.grafana_url, shard=part)
    for change in outcome.transitions:
        log.info("alert %s %s/%s/%s %s", change.key.rule, change.key.agreement, change.key.customer, change.key.objective, change.event)
    if outcome.notifications:
        deliver_notifications.delay()
    return outcome.firing


@_task("sla.deliver_notifications")
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


@_task("sla.send_monthly_reports")
def send_monthly_reports() -> int:
    """Monthly governance reports (SPEC 8), fanned out: once the previous period is final,
    one `sla.send_report` message per report due and not sent yet — every customer with
    `contacts.reports`, every supplier's scorecard (SPEC 9.2), earlier failed sends — and the
    board report's when no customer report is left in progress (worker/reports/monthly_delivery.py).
    Beat runs it monthly; running it again re-dispatches only what is still unsent. Returns
    the messages sent."""
    from worker.reports.monthly_delivery import plan

    rt = runtime()
    jobs = plan(rt.engine, rt.catalogue, _now(), rt.settings.late_data_grace_s)
    for job in jobs:
        send_report.delay(job.kind, job.customer, job.period)
    log.info("monthly reports: %d report(s) dispatched", len(jobs))
    return len(jobs)


@_task("sla.send_report")
def send_report(kind: str, customer: str, period: str) -> int:
    """Generate (or reuse) and send one report, claimed per report: a retry or a second
    message sends nothing twice. The period's last customer report enqueues the board report;
    a claim held by another process is looked at again when it would expire (its process may
    have died). A failed send raises TransientError, so Celery retries with back-off.
    Returns 1 when this run sent it."""
    from worker.reports.delivery import BOARD
    from worker.reports.mailer import mailer_for
    from worker.reports.monthly_delivery import Job, run_job

    rt = runtime()
    now = _now()
    run = run_job(
        rt.engine, rt.catalogue, rt.settings.reports_dir, mailer_for(rt.settings), rt.settings.smtp_from,
        Job(kind, customer, period), now, claim_timeout_s=rt.settings.report_claim_timeout_s,
    )
    log.info("%s", run.outcome.describe())
    if run.board_next:
        send_report.delay("board", BOARD, period)
    if run.retry_at is not None:
        send_report.apply_async((kind, customer, period), countdown=max(1, int((run.retry_at - now).total_seconds())))
    if run.outcome.failed:
        raise TransientError(f"report not sent: {run.outcome.describe()}")
    return 1 if run.outcome.sent_to else 0


@_task("sla.apply_retention")
def apply_retention() -> int:
    """Delete samples older than SLA_SAMPLES_RETENTION (default 400 days), a bounded batch per
    transaction (worker/usecases/retention.py); results and tally sheets are kept. Safe to run
    twice or to kill: what is left is deleted by the next run. Returns the blocks deleted."""
    from worker.usecases.retention import apply_retention as apply

    rt = runtime()
    run = apply(rt.engine, _now(), rt.settings.samples_retention_s)
    log.info("retention: samples before %s deleted (%d day blocks this run)", run.before.isoformat(), run.deleted_blocks)
    return run.deleted_blocks
