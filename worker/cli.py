"""The `sla-worker` command (SPEC 11). Thin: parse arguments, call a use case, print.

Exit status: 0 success, 1 partial (rows refused, sends failed), 2 bad usage or configuration
(a malformed URL, a database that does not exist or is not migrated, refused credentials),
3 a server that cannot be reached (database, broker, SMTP). Infrastructure faults are turned
into one or two plain lines naming the setting to fix in one place, `_fault`; `SLA_DEBUG=1`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.errors import ConfigError, InvalidValue, SamplesDeleted
from worker.domain.model import DEFAULT_TIMEZONE, Agreement, Catalogue, InputKind, Result, SourceKind
from worker.metrics.burn_rates import meets_burn_windows, refresh_burn_rates
from worker.render import results_csv, results_json, results_table
from worker.scoring.periods import parse_period
from worker.settings import Settings, load_settings
from worker.storage.engine import UnsupportedDatabase, make_engine, normalise_url, read_only
from worker.storage.migrate import current_revision, head_revision, upgrade
from worker.usecases.ingest import ingest_path
from worker.usecases.periods import open_periods, periods_with_data
from worker.usecases.results import read_results
from worker.usecases.retention import kept_periods
from worker.usecases.score import score_period

OK, PARTIAL, BAD, UNREACHABLE = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments or state the user must fix; printed and exit 2."""


DESCRIPTION = """\
Measure the IT services a trust runs against each customer's service level agreement.

sla-worker takes in measurements, incidents and maintenance (CSV files, Prometheus, HTTP
probes, ServiceNow), scores every objective of every agreement, alerts when an error budget
burns too fast, and writes the monthly governance reports."""

EPILOG = """\
common commands:
  sla-worker check-config             validate the configuration (SLA_CONFIG_DIR)
  sla-worker run                      worker + beat + metrics in the foreground (Ctrl-C stops)
  sla-worker ingest samples FILE      store a CSV file now
  sla-worker results --period 2026-10 the results of a month
  sla-worker report --period 2026-10  the month's governance reports
  sla-worker demo                     try it: an example trust with a year of history

Settings come from SLA_* environment variables (SLA_CONFIG_DIR, SLA_DATABASE_URL, ...).
Exit status: 0 success, 1 partial (rows refused, sends failed), 2 bad usage or configuration,
3 a server that cannot be reached. SLA_DEBUG=1 shows tracebacks.
Documentation: README.md and docs/ (configuration.md, inputs.md, alerts.md, deploy.md)."""


def _common(default: object) -> argparse.ArgumentParser:
    """--config and --db, accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="DIR", default=default, help="configuration directory (overrides SLA_CONFIG_DIR)")
    common.add_argument("--db", metavar="URL", default=default, help="database URL (overrides SLA_DATABASE_URL)")
    return common


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sla-worker")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    # After the command the options default to SUPPRESS, so they never undo the same option
    # given before the command.
    common = _common(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="sla-worker", description=DESCRIPTION, epilog=EPILOG, parents=[_common(None)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sla-worker {_version()}", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of:")

    check = commands.add_parser("check-config", parents=[common], help="validate a configuration directory")
    check.add_argument("directory", nargs="?", metavar="DIR", help="the directory to check (default: SLA_CONFIG_DIR)")
    check.set_defaults(run=cmd_check_config)

    db = commands.add_parser("db", parents=[common], help="create or migrate the database schema")
    db.add_argument("action", choices=["upgrade"], help="upgrade: bring the database (SLA_DATABASE_URL) to the current schema")
    db.set_defaults(run=cmd_db)

    ingest = commands.add_parser("ingest", parents=[common], help="store samples, incidents or maintenance from CSV")
    ingest.add_argument("kind", choices=[k.value for k in InputKind], help="what the file holds (docs/inputs.md)")
    ingest.add_argument("file", type=Path, help="the CSV file")
    ingest.set_defaults(run=cmd_ingest)

    collect = commands.add_parser("collect", parents=[common], help="run the sources once (Prometheus, probes, ServiceNow, file drops)")
    collect.add_argument("--source", metavar="ID", help="only this source (default: every configured source)")
    collect.add_argument("--since", metavar="TS", help="back-fill from this instant (with a UTC offset) instead of the watermarks")
    collect.set_defaults(run=cmd_collect)

    score = commands.add_parser("score", parents=[common], help="score a period and store the results")
    which = score.add_mutually_exclusive_group()
    which.add_argument("--period", metavar="YYYY-MM", help="this month (default: the open periods)")
    which.add_argument("--all", action="store_true", help="every period that has data")
    score.set_defaults(run=cmd_score)

    results = commands.add_parser("results", parents=[common], help="print stored results")
    results.add_argument("--period", metavar="YYYY-MM", required=True, help="the month")
    results.add_argument("--customer", metavar="ID", help="this customer's results only (or a supplier's contract results)")
    results.add_argument("--format", choices=["json", "table", "csv"], default="table", help="output format (default: table)")
    results.set_defaults(run=cmd_results)

    report = commands.add_parser("report", parents=[common], help="monthly governance reports: generate, keep, send")
    report.add_argument("--period", metavar="YYYY-MM", required=True, help="the month")
    whose = report.add_mutually_exclusive_group()
    whose.add_argument("--customer", metavar="ID", help="this customer's report only")
    whose.add_argument("--board", action="store_true", help="the board report only")
    whose.add_argument("--supplier", metavar="ID", help="this supplier's scorecard only (SPEC 9.2)")
    report.add_argument("--out", metavar="DIR", type=Path, help="also copy each report's files to DIR")
    report.add_argument("--send", action="store_true", help="email reports not sent yet (once the period is final)")
    report.add_argument("--resend", action="store_true", help="email them again, even if sent before")
    report.set_defaults(run=cmd_report)

    portfolio = commands.add_parser("portfolio", parents=[common], help="the service catalogue and the Boston Box")
    portfolio.add_argument("--customer", metavar="ID", help="only the services this customer receives")
    portfolio.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    portfolio.set_defaults(run=cmd_portfolio)

    catalogue = commands.add_parser("catalogue", parents=[common], help="each customer's service catalogue, HTML and PDF")
    which = catalogue.add_mutually_exclusive_group(required=True)
    which.add_argument("--customer", metavar="ID", help="this customer's catalogue")
    which.add_argument("--all", action="store_true", help="one catalogue per customer, and the board's portfolio")
    which.add_argument("--board", action="store_true", help="the board's portfolio only")
    catalogue.add_argument("--out", metavar="DIR", type=Path, help="write into DIR/<customer>/ (default: SLA_REPORTS_DIR/catalogue/<customer>/)")
    catalogue.set_defaults(run=cmd_catalogue)

    alerts = commands.add_parser("alerts", parents=[common], help="alert state, history and silences (docs/alerts.md)")
    alert_actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of:")
    alert_actions.add_parser("evaluate", parents=[common], help="evaluate the alert rules now (writes the outbox)")
    alert_list = alert_actions.add_parser("list", parents=[common], help="alerts firing (with --all, every stored alert)")
    alert_list.add_argument("--all", action="store_true", help="resolved alerts too")
    alert_list.add_argument("--history", action="store_true", help="the latest transitions instead")
    silence = alert_actions.add_parser("silence", parents=[common], help="mute a service's notifications for a while")
    silence.add_argument("--service", metavar="ID", required=True, help="the service to mute")
    silence.add_argument("--customer", metavar="ID", help="only this customer's alerts")
    silence.add_argument("--for", dest="duration", metavar="DURATION", required=True, help="e.g. 2h, 30m")
    silence.add_argument("--reason", required=True, help="why (kept with the silence)")
    alerts.set_defaults(run=cmd_alerts)

    notifications = commands.add_parser("notifications", parents=[common], help="the alert notification outbox")
    notification_actions = notifications.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of:")
    notification_list = notification_actions.add_parser("list", parents=[common], help="latest notifications and their status")
    notification_list.add_argument("--status", choices=["pending", "sending", "sent", "failed"], help="only notifications in this state")
    notification_list.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default: 50)")
    notifications.set_defaults(run=cmd_notifications)

    demo = commands.add_parser(
        "demo", parents=[common],
        help="example trust with 13 months of synthetic history, scored (only into an empty database or an earlier demo's)",
    )
    demo.set_defaults(run=cmd_demo)

    metrics = commands.add_parser("metrics", parents=[common], help="Prometheus metrics endpoint (SLA_METRICS_ADDR)")
    metrics.add_argument("action", choices=["serve"], help="serve: answer /metrics in the foreground")
    metrics.set_defaults(run=cmd_metrics)

    run = commands.add_parser("run", parents=[common], help="worker + beat + metrics in the foreground (embedded default)")
    run.set_defaults(run=cmd_run)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_dir=Path(args.config) if args.config else None, database_url=args.db)


def _catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(settings.config_dir)


def _engine(settings: Settings, *, create: bool = True) -> Engine:
    """The database, migrated. Commands that write (`create`) migrate a new embedded SQLite
    database themselves, so the quick start needs no setup step; a server database must be
    migrated on purpose (`sla-worker db upgrade`) so that several workers never race to change
    its schema. Commands that only read never create a database: a missing SQLite file, or a
    database not at the current schema, is refused."""
    url = settings.database_url
    _check_database_url(url)
    from worker.storage.engine import sqlite_file

    path = sqlite_file(url)
    if not create and path is not None and not Path(path).is_file():
        raise UsageError(
            f"there is no database at {path} (SLA_DATABASE_URL or --db): this command only reads; "
            "point it at an existing database, or create one with `sla-worker db upgrade`"
        )
    revision = current_revision(url)
    if revision != head_revision():
        if create and path is not None:
            upgrade(url)
        else:
            state = "is not migrated" if revision is None else f"is at schema {revision}, not {head_revision()}"
            raise UsageError(f"database {_safe_url(url)} (SLA_DATABASE_URL) {state}: run `sla-worker db upgrade`")
    return make_engine(url)


def _check_database_url(url: str) -> None:
    """A URL sla-worker can use, or exit 2 naming SLA_DATABASE_URL (before any connection)."""
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = normalise_url(url)
        if parsed.get_backend_name() not in ("sqlite", "postgresql") or (
            parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg"
        ):
            raise UnsupportedDatabase(f"{parsed.drivername}:// (use sqlite:/// or postgresql+psycopg://)")
    except (ArgumentError, ValueError) as error:  # UnsupportedDatabase, or a port that is not a number
        raise UsageError(f"SLA_DATABASE_URL (or --db) is not a database URL sla-worker can use: {error}") from None


def _safe_url(url: str) -> str:
    """A database or broker URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so without echoing what might be a secret
        return "(unparseable URL)"


def _known_customer(catalogue: Catalogue, customer: str) -> None:
    if customer not in catalogue.customers:
        known = ", ".join(catalogue.customers) or "none"
        raise UsageError(f"no customer with id {customer!r} is configured (configured: {known})")


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def _period(text: str) -> str:
    try:
        parse_period(text)
    except InvalidValue as error:
        raise UsageError(str(error)) from None
    return text


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    directory = Path(args.directory) if args.directory else settings.config_dir
    catalogue = load_catalogue(directory)
    agreements, contracts = catalogue.customer_agreements, catalogue.contracts
    print(
        f"{directory}: configuration is valid: {len(catalogue.services)} services, {len(catalogue.customers)} customers, "
        f"{len(agreements)} agreements with {_objective_count(agreements)} objectives, "
        + (
            f"{len(catalogue.suppliers)} suppliers, {len(contracts)} contracts with {_objective_count(contracts)} objectives, "
            if catalogue.suppliers
            else ""
        )
        + f"{len(catalogue.calendars)} calendars, {len(catalogue.sources)} sources, {len(catalogue.channels)} channels"
    )
    return OK


def _objective_count(agreements: dict[str, Agreement]) -> int:
    return sum(len(a.objectives) for a in agreements.values())


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_database_url(settings.database_url)
    upgrade(settings.database_url)
    print(f"database {_safe_url(settings.database_url)} is at schema {head_revision()}")
    return OK


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalogue = _catalogue(settings)
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    engine = _engine(settings)
    _progress(f"ingesting {args.kind} from {path} …")
    report = ingest_path(engine, catalogue, args.kind, path, datetime.now(timezone.utc))
    for refusal in report.refusals:
        print(refusal.describe(str(path)), file=sys.stderr)
    print(f"accepted {report.accepted}, refused {report.refused}")
    return PARTIAL if report.refused else OK


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect once from the configured sources; what they stored is scored by the worker
    (pending changes), or at once with `sla-worker score`."""
    from worker import collect
    from worker.domain.time import parse_instant

    settings = _settings(args)
    catalogue = _catalogue(settings)
    if args.source is not None and args.source not in catalogue.sources:
        known = ", ".join(sorted(catalogue.sources)) or "none"
        raise UsageError(f"no source with id {args.source!r} is configured (configured: {known})")
    try:
        since = parse_instant(args.since) if args.since is not None else None
    except InvalidValue as error:
        raise UsageError(f"--since: {error}") from None
    engine = _engine(settings)
    _progress("collecting …")
    reports = collect.collect(engine, catalogue, datetime.now(timezone.utc), source_id=args.source, since=since)
    for line in collect.problems(reports):
        print(line, file=sys.stderr)
    for line in collect.describe(reports):
        print(line)
    return PARTIAL if collect.partial(reports) else OK


def cmd_score(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalogue = _catalogue(settings)
    engine = _engine(settings)
    now = datetime.now(timezone.utc)
    if args.all:
        periods = periods_with_data(engine, catalogue, now)
    else:
        periods = [_period(args.period)] if args.period else open_periods(catalogue, now, settings.late_data_grace_s)
    with read_only(engine) as conn:
        kept = periods if args.period else kept_periods(conn, catalogue, periods)  # a named one is refused whole
    for period in periods:
        if period not in kept:
            print(f"{period}: not scored again (its samples were deleted by retention); its stored results stand")
    periods = kept
    for number, period in enumerate(periods, 1):
        _progress(f"scoring {period} ({number}/{len(periods)}) …")
        found = score_period(engine, catalogue, period, now, settings.late_data_grace_s)
        print(f"{period}: {len(found)} results stored")
    if any(meets_burn_windows(catalogue, period, now) for period in periods):
        refresh_burn_rates(engine, catalogue, now)  # what the worker's alert evaluation stores
    return OK


def cmd_results(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.customer is not None:
        catalogue = _catalogue(settings)
        if args.customer not in catalogue.suppliers:  # a supplier's contract results (SPEC 9.2)
            _known_customer(catalogue, args.customer)
    period = _period(args.period)
    engine = _engine(settings, create=False)
    found = read_results(engine, period, args.customer)
    render: Callable[[Sequence[Result]], str] = {"json": results_json, "csv": results_csv, "table": results_table}[args.format]
    text = render(found)
    print(text if text.endswith("\n") else text + "\n", end="")
    return OK


def cmd_report(args: argparse.Namespace) -> int:
    """Generate (or reuse) the reports of a period, and send them with --send / --resend.
    Exit 1 when a send failed (it is retried by the next run, never duplicated)."""
    from worker.reports import delivery
    from worker.reports.mailer import mailer_for

    settings = _settings(args)
    catalogue = _catalogue(settings)
    period = _period(args.period)
    if args.customer is not None:
        _known_customer(catalogue, args.customer)
    if args.supplier is not None and args.supplier not in catalogue.suppliers:
        known = ", ".join(catalogue.suppliers) or "none"
        raise UsageError(f"no supplier with id {args.supplier!r} is configured (configured: {known})")
    now = datetime.now(timezone.utc)
    sending = args.send or args.resend
    if sending and not delivery.period_is_final(catalogue, period, now, settings.late_data_grace_s):
        raise UsageError(
            f"{period} is not final yet (results become final SLA_LATE_DATA_GRACE after the period ends): "
            "its reports can be generated but not sent"
        )
    engine = _engine(settings, create=False)
    one = bool(args.customer or args.board or args.supplier)  # one report asked for, not the period's set
    customers = [args.customer] if args.customer else [] if one else None
    suppliers = [args.supplier] if args.supplier else [] if one else None
    mailer = mailer_for(settings) if sending else None
    outcomes = delivery.run_reports(
        engine, catalogue, settings.reports_dir, period, now,
        customers=customers, board=args.board or not one, suppliers=suppliers,
        mailer=mailer, sender=settings.smtp_from,
        resend=args.resend, out=args.out, progress=_progress, claim_timeout_s=settings.report_claim_timeout_s,
    )
    if not outcomes:
        print(f"{period}: no results for this period: nothing to report (score it first)")
    for outcome in outcomes:
        print(outcome.describe(), file=sys.stderr if outcome.failed else sys.stdout)
    unreachable = getattr(mailer, "unreachable", None)
    if unreachable and any(o.failed for o in outcomes):
        # Nothing could be handed to the server: a server that cannot be reached (exit 3), not
        # a partial send. The reports stay unsent and the next run sends them.
        print(f"sla-worker: {unreachable}: check SLA_SMTP_HOST and SLA_SMTP_PORT", file=sys.stderr)
        return UNREACHABLE
    return PARTIAL if any(o.failed for o in outcomes) else OK


def cmd_portfolio(args: argparse.Namespace) -> int:
    from worker.reports.portfolio import portfolio, portfolio_json, portfolio_table

    settings = _settings(args)
    catalogue = _catalogue(settings)
    if args.customer is not None:
        _known_customer(catalogue, args.customer)
    zone = next((a.timezone for a in catalogue.agreements.values()), DEFAULT_TIMEZONE)
    from worker.scoring.periods import zone as zone_info

    today = datetime.now(timezone.utc).astimezone(zone_info(zone)).date()
    entries = portfolio(catalogue, today, args.customer)
    text = portfolio_json(entries) if args.format == "json" else portfolio_table(entries)
    print(text if text.endswith("\n") else text + "\n", end="")
    return OK


def cmd_catalogue(args: argparse.Namespace) -> int:
    """Write service catalogues (SPEC 9.1) from the configuration alone: no database is read.
    Each goes to its own folder, replacing the one written before."""
    from worker.reports.catalogue.build import build_customer_catalogue, build_portfolio_catalogue
    from worker.reports.catalogue.render import BOARD, CATALOGUE_DIR, render_catalogue, write_catalogue
    from worker.reports.catalogue.view import customer_catalogue_document, portfolio_catalogue_document
    from worker.scoring.periods import zone as zone_info

    settings = _settings(args)
    catalogue = _catalogue(settings)
    if args.customer is not None:
        _known_customer(catalogue, args.customer)
    zone = next((a.timezone for a in catalogue.customer_agreements.values()), DEFAULT_TIMEZONE)
    today = datetime.now(timezone.utc).astimezone(zone_info(zone)).date()
    root, under = (args.out, "") if args.out is not None else (settings.reports_dir, f"{CATALOGUE_DIR}/")
    customers = [args.customer] if args.customer is not None else [] if args.board else list(catalogue.customers)
    for customer in customers:
        document = customer_catalogue_document(build_customer_catalogue(catalogue, customer, today))
        print(f"{customer}: {write_catalogue(root, under + customer, render_catalogue(document, today))}")
    if args.board or args.all:
        document = portfolio_catalogue_document(build_portfolio_catalogue(catalogue, today))
        print(f"board: {write_catalogue(root, under + BOARD, render_catalogue(document, today))}")
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate, ingest and score a year of history for the configured trust (the example
    trust by default) into the configured database, then print a summary."""
    from worker.demo import claim_for_demo, run_demo, summary_table

    settings = _settings(args)
    catalogue = _catalogue(settings)
    engine = _engine(settings)
    if not claim_for_demo(engine, datetime.now(timezone.utc)):
        engine.dispose()
        raise UsageError(
            f"database {_safe_url(settings.database_url)} holds data the demo did not write: the demo only fills an empty "
            "database (or one an earlier demo filled); point it at a fresh one with --db URL or SLA_DATABASE_URL, "
            "e.g. --db sqlite:///var/demo.sqlite"
        )
    print(f"demo: writing 13 months of synthetic history into {_safe_url(settings.database_url)}", flush=True)
    summary = run_demo(engine, catalogue, datetime.now(timezone.utc), _progress)
    print(summary_table(summary), end="")
    from worker.reports.delivery import write_history

    year = summary.periods[-13:-1]  # the twelve complete months
    outcomes = write_history(engine, catalogue, settings.reports_dir, year, summary.now, _progress)
    print(
        f"\nReports: {len(outcomes)} customer and board reports for {year[0]} to {year[-1]} under "
        f"{settings.reports_dir}/ (report.html, report.pdf, report.txt, results.csv per report); "
        f"the board report for {year[-1]}: {next((o.directory for o in outcomes if o.kind == 'board' and o.period == year[-1]), '-')}"
    )
    return OK


def cmd_metrics(args: argparse.Namespace) -> int:
    """The metrics endpoint in the foreground; every scrape reads the database."""
    from worker.metrics.server import endpoint

    settings = _settings(args)
    _catalogue(settings)
    try:
        server = endpoint(settings, _engine(settings))
    except OSError as error:
        raise UsageError(f"cannot listen on {settings.metrics_addr} (SLA_METRICS_ADDR): {error.strerror or error}") from None
    print(f"sla-worker metrics: serving http://{server.address}/metrics from {_safe_url(settings.database_url)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how it is stopped (also when `sla-worker run` stops)
    finally:
        server.close()
    return OK


def cmd_run(args: argparse.Namespace) -> int:
    """Worker and beat in one foreground process tree. Ctrl-C (SIGINT) or SIGTERM shuts down
    cleanly and exits 0: the task in hand finishes, unfinished work stays pending in the
    database. A schedule with no entry, or a broker that cannot be reached, is refused before
    anything starts: a worker never idles silently."""
    from worker.schedules import beat_schedule
    from worker.sources import file_drop

    settings = _settings(args)
    catalogue = _catalogue(settings)
    try:
        schedule = beat_schedule(settings.schedules_dir)
    except ConfigError as error:
        if len(error.problems) == 1 and error.problems[0].startswith("SLA_SCHEDULES_DIR"):
            raise UsageError(error.problems[0]) from None
        raise
    _engine(settings).dispose()
    # The worker and beat processes Celery forks from this one inherit the configured app and
    # runtime settings (--config and --db included).
    from worker.celeryapp import app, configure

    configure(app, settings)
    _check_broker(app, settings)
    drops = [file_drop.folder(s) for s in catalogue.sources.values() if s.kind == SourceKind.FILE_DROP]
    for folder in drops:
        folder.mkdir(parents=True, exist_ok=True)
    print(f"sla-worker run: configuration {settings.config_dir} ({len(catalogue.customer_agreements)} agreements)")
    print(f"  schedule  {len(schedule)} entries from {settings.schedules_dir} (SLA_SCHEDULES_DIR)")
    print(f"  database  {_safe_url(settings.database_url)}")
    print(f"  broker    {_safe_url(settings.broker_url)}")
    for folder in drops:
        print(f"  drop CSV files into {folder.resolve()}/ (samples, incidents or maintenance)")
    if not drops:
        print(f"  no file_drop source in {settings.config_dir}: data comes from the configured sources only")
    print(f"  results:  sla-worker results --period {datetime.now(timezone.utc):%Y-%m} --format table")
    print(f"  metrics   http://{settings.metrics_addr}/metrics (SLA_METRICS_ADDR)")
    print("  stop with Ctrl-C", flush=True)
    # The endpoint runs as its own process (`sla-worker metrics serve`), not as a thread of
    # this one: Celery forks its pool from this process, and a fork must not copy a serving
    # thread's locks or database connections. It ignores Ctrl-C (which the terminal sends to
    # the whole group, maybe while it is still starting): this process stops it on the way out.
    from celery.signals import worker_shutting_down

    stopped_by: list[str] = []

    def _stopping(sig: str = "", **_kwargs: object) -> None:
        stopped_by.append(sig)

    worker_shutting_down.connect(_stopping, weak=False)
    metrics = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "metrics", "serve"], stdout=subprocess.DEVNULL,
        env=_child_environment(settings), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        worker = app.Worker(beat=True, loglevel="INFO", concurrency=settings.worker_concurrency, quiet=True)
        worker.start()
    finally:
        metrics.terminate()
        try:
            metrics.wait(10)
        except subprocess.TimeoutExpired:
            metrics.kill()
    # Celery exits 1 after a Ctrl-C; being asked to stop is how a foreground worker ends, so
    # SIGINT and SIGTERM are a success (`make run` then does not end in "Error 1").
    if any(sig in ("SIGINT", "SIGTERM") for sig in stopped_by):
        return OK
    return int(worker.exitcode or 0)


def _child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a command this one starts: its own, with the --config and --db
    overrides as the settings they stand for (passed in the environment, never as arguments,
    so a database password does not show in the process list)."""
    return {**os.environ, "SLA_CONFIG_DIR": str(settings.config_dir), "SLA_DATABASE_URL": settings.database_url}


def _check_broker(app: object, settings: Settings) -> None:
    """Connect to the broker once before starting, so a wrong SLA_BROKER_URL is a plain line and
    an exit status (2 malformed, 3 unreachable: see `_fault`) instead of a worker retrying for ever."""
    try:
        with app.connection_for_write() as connection:  # type: ignore[attr-defined]
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=1, timeout=10)
    except (KeyError, ValueError, ImportError) as error:  # "No such transport", a malformed URL
        raise UsageError(f"SLA_BROKER_URL is not a broker URL sla-worker can use: {_first_line(error)}") from None


def cmd_alerts(args: argparse.Namespace) -> int:
    from worker.alerts.evaluate import evaluate
    from worker.alerts.rules import Guard
    from worker.domain.time import parse_duration
    from worker.storage import alerts as alert_store
    from worker.usecases.silences import silence

    settings = _settings(args)
    engine = _engine(settings, create=args.action != "list")
    now = datetime.now(timezone.utc)
    if args.action == "evaluate":
        guard = Guard(settings.alert_min_events, settings.alert_min_counted_ratio)
        outcome = evaluate(engine, _catalogue(settings), now, guard, grafana_url=settings.grafana_url)
        for change in outcome.transitions:
            k = change.key
            print(f"{change.event.value:9} {k.rule:21} {k.agreement or '-'}/{k.customer or '-'}/{k.objective}")
        print(f"{outcome.firing} firing, {len(outcome.transitions)} transition(s), {outcome.notifications} notification(s) queued")
        return OK
    if args.action == "silence":
        catalogue = _catalogue(settings)
        try:
            muted = silence(engine, catalogue, args.service, args.customer, parse_duration(args.duration), args.reason, now)
        except InvalidValue as error:
            raise UsageError(str(error)) from None
        who = f" for {muted.customer}" if muted.customer else ""
        until = muted.ends_at.isoformat(timespec="minutes")
        print(f"notifications of {muted.service}{who} silenced until {until}: {muted.reason}")
        return OK
    with read_only(engine) as conn:
        if args.history:
            for t in alert_store.list_transitions(conn):
                print(f"{t['at'].isoformat(timespec='seconds')}  {t['event']:9} {t['rule']:21} {t['agreement'] or '-'}/{t['customer'] or '-'}/{t['objective']}")
            return OK
        states = sorted(alert_store.load_states(conn).values(), key=lambda s: s.key)
    for state in states:
        if state.firing_since is None and not args.all:
            continue
        k = state.key
        since = f"firing since {state.firing_since.isoformat(timespec='minutes')}" if state.firing_since else (
            f"resolved {state.resolved_at.isoformat(timespec='minutes')}" if state.resolved_at else "resolved"
        )
        print(f"{k.rule:21} {state.severity:6} {k.agreement or '-'}/{k.customer or '-'}/{k.objective}  {since}  {state.summary}")
    return OK


def cmd_notifications(args: argparse.Namespace) -> int:
    from worker.storage import alerts as alert_store

    engine = _engine(_settings(args), create=False)
    with read_only(engine) as conn:
        rows = alert_store.list_notifications(conn, args.status, args.limit)
    for n in rows:
        customers = ",".join(sorted({a["customer"] or "operations" for a in n.payload.get("alerts", [])}))
        error = f"  last error: {n.last_error}" if n.last_error else ""
        print(
            f"{n.id:6} {n.created_at.isoformat(timespec='seconds')}  {n.channel:12} {n.event:8} {n.payload.get('rule', ''):21} "
            f"{customers}  {n.status} (attempts {n.attempts}){error}"
        )
    return OK


# Words in a driver's message that say the server answered and refused: fix the setting (2).
_REFUSALS = (
    "does not exist", "authentication failed", "password", "no pg_hba.conf entry", "permission denied",
    "unable to open database file", "file is not a database", "invalid dsn", "invalid connection option",
    "invalid integer value", "invalid port",
)


def _first_line(error: BaseException) -> str:
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text.removeprefix("connection failed: ")[:300]


def _fault(error: BaseException) -> tuple[int, list[str]] | None:
    """An infrastructure fault as (exit status, plain lines naming the setting to fix); None
    for anything else, which is a bug and keeps its traceback. The one place where database,
    broker and network errors are classified (SPEC 11)."""
    import socket

    from kombu.exceptions import OperationalError as BrokerError
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(error, (ArgumentError, NoSuchModuleError, UnsupportedDatabase)):
        return BAD, [f"sla-worker: database URL refused: {error}", "fix SLA_DATABASE_URL (or --db)"]
    if isinstance(error, DBAPIError) and (error.connection_invalidated or isinstance(error, _operational())):
        reason = _first_line(error.orig if error.orig is not None else error)
        if any(word in reason.lower() for word in _REFUSALS):
            return BAD, [f"sla-worker: the database refused the connection: {reason}", "fix SLA_DATABASE_URL (or --db)"]
        return UNREACHABLE, [f"sla-worker: the database cannot be reached: {reason}", "check SLA_DATABASE_URL (or --db) and that the server is running"]
    if isinstance(error, BrokerError) or type(error).__module__.startswith(("redis.", "kombu.")):
        reason = _first_line(error)
        status = BAD if any(word in reason.lower() for word in ("auth", "password", "no such transport")) else UNREACHABLE
        what = "refused the connection" if status == BAD else "cannot be reached"
        return status, [f"sla-worker: the broker {what}: {reason}", "check SLA_BROKER_URL and that the server is running"]
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
        return UNREACHABLE, [f"sla-worker: a server cannot be reached: {error.strerror or error}"]
    return None


def _operational() -> tuple[type, ...]:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return (OperationalError, InterfaceError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"configuration refused: {len(error.problems)} problem(s)", file=sys.stderr)
        return BAD
    except (UsageError, SamplesDeleted) as error:
        print(f"sla-worker: {error}", file=sys.stderr)
        return BAD
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        fault = _fault(error)
        if fault is None or os.environ.get("SLA_DEBUG", "").strip() not in ("", "0"):
            raise
        status, lines = fault
        for line in lines:
            print(line, file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
