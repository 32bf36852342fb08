"""The monthly reports, fanned out (SPEC 8, issue 16): one task per report, the board report
once every customer report of the period is done.

`plan` is the dispatcher's half (the task `sla.send_monthly_reports`): once the previous
period is final, the reports due — every customer with `contacts.reports` and an agreement
result in the period, every supplier with `contacts.reports` and a contract result — that are
not `sent` yet, the sends that failed (or whose sender died) in earlier periods, and the board
report when no customer report is left in progress. Each becomes one `sla.send_report(kind,
customer, period)` message; `run_job` is that task's half: it generates (or reuses) and
sends exactly one report, claimed in the database as before (delivery.py), so a retry, a
re-delivered message or a second dispatch sends nothing twice.

The board report is made after the customer reports: `run_job`, in the very transaction that
records a customer report's outcome (sent, failed or filed), takes the period's lock and
looks whether any due customer report is still unfinished. Transactions that record outcomes
of one period therefore pass the check one after another, each seeing the ones before it
committed: exactly one sees none left — the last — and enqueues the board report. A failed
send counts as finished (the board report does not wait for one customer's mail server; the
failed send is retried on its own), and a lost board message is re-dispatched by the next
monthly run, which plans the board report whenever none is kept and no customer report is in
progress.

`send_due_reports` runs the same jobs one after another in this process (tests, and a
deployment without workers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from worker.domain.model import DEFAULT_TIMEZONE, Catalogue
from worker.reports import gather
from worker.reports.delivery import BOARD, STALE_CLAIM_S, Outcome, period_is_final, produce, send
from worker.reports.mailer import Mailer
from worker.scoring.periods import period_of, previous_period
from worker.storage import reports as report_store
from worker.storage import results as result_store
from worker.storage.engine import read_only
from worker.storage.locks import hold_transaction_lock, report_period_lock_id
from worker.usecases.score import score_period

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Job:
    """One report to generate and send: the arguments of one `sla.send_report` message."""

    kind: str  # customer | supplier | board
    customer: str  # the customer or supplier id; '' for the board report
    period: str


@dataclass(frozen=True)
class JobRun:
    """What one job did, and what its task must enqueue next."""

    outcome: Outcome
    board_next: bool = False  # this was the period's last customer report: the board report is due
    retry_at: datetime | None = None  # another process holds the send claim: look again then


def due_period(catalogue: Catalogue, now: datetime) -> str:
    """The period whose reports go out this month: the one before the running one."""
    zone = next((a.timezone for a in catalogue.agreements.values()), DEFAULT_TIMEZONE)
    return previous_period(period_of(now.timestamp(), zone))


def due_customers(conn: Connection, catalogue: Catalogue, period: str) -> list[str]:
    """Customers (in catalogue order) whose report of `period` is due: `contacts.reports` set
    and an agreement result in the period."""
    scored = report_store.scored_customers(conn, period)
    return [c for c, customer in catalogue.customers.items() if c in scored and customer.contacts.reports]


def board_wanted(conn: Connection, catalogue: Catalogue, period: str) -> bool:
    """No board report kept for `period` yet, and no due customer report unfinished (not made,
    or being sent): the board report's turn."""
    board = report_store.find_report(conn, "board", BOARD, period)
    if board is not None and board.final:
        return False
    finished = report_store.customers_in(conn, "customer", period, report_store.FINISHED)
    return all(c in finished for c in due_customers(conn, catalogue, period))


def plan(engine: Engine, catalogue: Catalogue, now: datetime, grace_s: float) -> list[Job]:
    """The jobs of the monthly run (see the module's docstring); none before the period is
    final, but earlier periods' failed sends are always retried. Results of the period not
    yet final are made final first (the finalising re-score did not run, or failed)."""
    period = due_period(catalogue, now)
    jobs: list[Job] = []
    if period_is_final(catalogue, period, now, grace_s):
        with read_only(engine) as conn:
            scored = result_store.load_results(conn, period)
        if scored and not all(r.final for r in scored):
            score_period(engine, catalogue, period, now, grace_s)
        with read_only(engine) as conn:
            customers = due_customers(conn, catalogue, period)
            suppliers = [s for s in gather.suppliers_with_results(conn, catalogue, period) if catalogue.suppliers[s].contacts.reports]
            status = {(r.kind, r.customer): r.status for r in report_store.list_reports(conn, period)}
            board = board_wanted(conn, catalogue, period)
        wanted = [("customer", c) for c in customers] + [("supplier", s) for s in suppliers]
        jobs += [Job(kind, who, period) for kind, who in wanted if status.get((kind, who)) != report_store.SENT]
        if board:
            jobs.append(Job("board", BOARD, period))
    else:
        log.info("reports for %s wait until the period is final", period)
    with read_only(engine) as conn:
        earlier = report_store.list_reports(conn, statuses=[report_store.FAILED, report_store.SENDING])
    jobs += [Job(r.kind, r.customer, r.period) for r in earlier if r.period != period and r.kind != "board" and r.final]
    return jobs


def run_job(
    engine: Engine,
    catalogue: Catalogue,
    reports_dir: Path,
    mailer: Mailer,
    sender: str,
    job: Job,
    now: datetime,
    claim_timeout_s: float = STALE_CLAIM_S,
) -> JobRun:
    """Generate (or reuse) and send one report; for a customer report, decide in the same
    transaction as its outcome whether it was the period's last (see the module's docstring)."""
    if not _still_configured(catalogue, job):
        outcome = Outcome(job.kind, job.customer, job.period, None, note="no longer in the configuration: not made")
        return JobRun(outcome)
    stored, generated = produce(engine, catalogue, reports_dir, job.kind, job.customer, job.period, now)
    last: list[bool] = []

    def finishing(conn: Connection) -> None:
        hold_transaction_lock(conn, report_period_lock_id(job.period))  # one finisher at a time
        last.append(board_wanted(conn, catalogue, job.period))

    hook = finishing if job.kind == "customer" and stored.final else None
    outcome = send(engine, catalogue, reports_dir, mailer, sender, stored, now, claim_timeout_s=claim_timeout_s, finishing=hook)
    outcome = replace(outcome, generated=generated)
    retry_at = None
    if outcome.status == report_store.SENDING:  # another process holds the claim: it may have died
        with read_only(engine) as conn:
            current = report_store.get_report(conn, stored.id)
        if current is not None and current.status == report_store.SENDING and current.claimed_at is not None:
            retry_at = max(now, current.claimed_at + timedelta(seconds=claim_timeout_s)) + timedelta(seconds=1)
    return JobRun(outcome, board_next=any(last), retry_at=retry_at)


def _still_configured(catalogue: Catalogue, job: Job) -> bool:
    """A message sent before a configuration change may name a customer since removed."""
    if job.kind == "customer":
        return job.customer in catalogue.customers
    if job.kind == "supplier":
        return job.customer in catalogue.suppliers
    return True


def send_due_reports(
    engine: Engine,
    catalogue: Catalogue,
    reports_dir: Path,
    mailer: Mailer,
    sender: str,
    now: datetime,
    grace_s: float,
    progress: Callable[[str], None] = lambda _m: None,
    claim_timeout_s: float = STALE_CLAIM_S,
) -> list[Outcome]:
    """The monthly run in this process: the planned jobs one after another, the board report
    after the customer reports. Safe to run any number of times: what was sent is not sent
    again."""
    jobs = plan(engine, catalogue, now, grace_s)
    board = [j for j in jobs if j.kind == "board"]
    outcomes: list[Outcome] = []
    for number, job in enumerate(j for j in jobs if j.kind != "board"):
        progress(f"report {job.period} {job.customer} ({number + 1}/{len(jobs)}) …")
        run = run_job(engine, catalogue, reports_dir, mailer, sender, job, now, claim_timeout_s)
        outcomes.append(run.outcome)
        if run.board_next and not board:
            board.append(Job("board", BOARD, job.period))
    for job in board:
        outcomes.append(run_job(engine, catalogue, reports_dir, mailer, sender, job, now, claim_timeout_s).outcome)
    return outcomes

