"""The `sla-worker` command (SPEC 11). Thin: parse arguments, call a pipeline function, print.

Exit status: 0 success, 1 partial (rows refused, sends failed), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine

from worker import pipeline
from worker.config import load_catalogue
from worker.domain.errors import ConfigError, InvalidValue
from worker.domain.model import Catalogue
from worker.render import results_csv, results_json, results_table
from worker.scoring.periods import parse_period
from worker.settings import Settings, load_settings
from worker.storage.engine import make_engine
from worker.storage.migrate import current_revision, head_revision, upgrade

OK, PARTIAL, BAD = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or state the user must fix; printed and exit 2."""


def _common(default: object) -> argparse.ArgumentParser:
    """--config and --db, accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="DIR", default=default, help="configuration directory (overrides SLA_CONFIG_DIR)")
    common.add_argument("--db", metavar="URL", default=default, help="database URL (overrides SLA_DATABASE_URL)")
    return common


def build_parser() -> argparse.ArgumentParser:
    # After the command the options default to SUPPRESS, so they never undo the same option
    # given before the command.
    common = _common(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="sla-worker", description=__doc__.splitlines()[0], parents=[_common(None)])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check-config", parents=[common], help="validate a configuration directory")
    check.add_argument("directory", nargs="?", metavar="DIR")
    check.set_defaults(run=cmd_check_config)

    db = commands.add_parser("db", parents=[common], help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(run=cmd_db)

    ingest = commands.add_parser("ingest", parents=[common], help="store samples, incidents or maintenance from CSV")
    ingest.add_argument("kind", choices=pipeline.INPUT_KINDS)
    ingest.add_argument("file", type=Path)
    ingest.set_defaults(run=cmd_ingest)

    score = commands.add_parser("score", parents=[common], help="score a period and store the results")
    which = score.add_mutually_exclusive_group()
    which.add_argument("--period", metavar="YYYY-MM")
    which.add_argument("--all", action="store_true", help="every period that has data")
    score.set_defaults(run=cmd_score)

    results = commands.add_parser("results", parents=[common], help="print stored results")
    results.add_argument("--period", metavar="YYYY-MM", required=True)
    results.add_argument("--customer", metavar="ID")
    results.add_argument("--format", choices=["json", "table", "csv"], default="table")
    results.set_defaults(run=cmd_results)
    demo = commands.add_parser("demo", parents=[common], help="example trust with 13 months of synthetic history, scored")
    demo.set_defaults(run=cmd_demo)

    run = commands.add_parser("run", parents=[common], help="worker + beat in the foreground (embedded default)")
    run.set_defaults(run=cmd_run)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_dir=Path(args.config) if args.config else None, database_url=args.db)


def _catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(settings.config_dir)


def _engine(settings: Settings) -> Engine:
    """The database, migrated. The embedded SQLite default migrates itself on first use; a
    server database must be migrated on purpose (`sla-worker db upgrade`) so that several
    workers never race to change its schema."""
    url = settings.database_url
    if current_revision(url) != head_revision():
        if url.startswith("sqlite"):
            upgrade(url)
        else:
            raise UsageError(f"database {_safe_url(url)} is not at the current schema: run `sla-worker db upgrade`")
    return make_engine(url)


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


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
    objectives = sum(len(a.objectives) for a in catalogue.agreements.values())
    print(
        f"{directory}: configuration is valid: {len(catalogue.services)} services, {len(catalogue.customers)} customers, "
        f"{len(catalogue.agreements)} agreements with {objectives} objectives, {len(catalogue.calendars)} calendars, "
        f"{len(catalogue.sources)} sources, {len(catalogue.channels)} channels"
    )
    return OK


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
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
    report = pipeline.ingest_path(engine, catalogue, args.kind, path, datetime.now(timezone.utc))
    for refusal in report.refusals:
        print(refusal.describe(str(path)), file=sys.stderr)
    print(f"accepted {report.accepted}, refused {report.refused}")
    return PARTIAL if report.refused else OK


def cmd_score(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalogue = _catalogue(settings)
    engine = _engine(settings)
    now = datetime.now(timezone.utc)
    periods = pipeline.periods_with_data(engine, catalogue, now) if args.all else [_period(args.period)] if args.period else pipeline.open_periods(catalogue, now, settings.late_data_grace_s)
    for number, period in enumerate(periods, 1):
        _progress(f"scoring {period} ({number}/{len(periods)}) …")
        found = pipeline.score_period(engine, catalogue, period, now, settings.late_data_grace_s)
        print(f"{period}: {len(found)} results stored")
    return OK


def cmd_results(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = _engine(settings)
    found = pipeline.read_results(engine, _period(args.period), args.customer)
    render: Callable = {"json": results_json, "csv": results_csv, "table": results_table}[args.format]
    text = render(found)
    print(text if text.endswith("\n") else text + "\n", end="")
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate, ingest and score a year of history for the configured trust (the example
    trust by default) into the configured database, then print a summary."""
    from worker.demo import run_demo, summary_table

    settings = _settings(args)
    catalogue = _catalogue(settings)
    engine = _engine(settings)
    print(f"demo: writing 13 months of synthetic history into {_safe_url(settings.database_url)}", flush=True)
    summary = run_demo(engine, catalogue, datetime.now(timezone.utc), _progress)
    print(summary_table(summary), end="")
    return OK


def cmd_run(args: argparse.Namespace) -> int:
    """Worker and beat in one foreground process tree; Ctrl-C shuts down cleanly (the task
    in hand finishes, unfinished work stays pending in the database)."""
    settings = _settings(args)
    catalogue = _catalogue(settings)
    _engine(settings).dispose()
    # The Celery app and its child processes read settings from the environment.
    os.environ["SLA_CONFIG_DIR"] = str(settings.config_dir)
    os.environ["SLA_DATABASE_URL"] = settings.database_url
    from worker.celeryapp import app

    drops = [Path(str(s.options["path"])) for s in catalogue.sources.values() if s.kind == "file_drop"]
    for folder in drops:
        folder.mkdir(parents=True, exist_ok=True)
    print(f"sla-worker run: configuration {settings.config_dir} ({len(catalogue.agreements)} agreements)")
    print(f"  database  {_safe_url(settings.database_url)}")
    print(f"  broker    {_safe_url(settings.broker_url)}")
    for folder in drops:
        print(f"  drop CSV files into {folder.resolve()}/ (samples, incidents or maintenance)")
    print(f"  results:  sla-worker results --period {datetime.now(timezone.utc):%Y-%m} --format table")
    print("  stop with Ctrl-C", flush=True)
    worker = app.Worker(beat=True, loglevel="INFO", concurrency=settings.worker_concurrency, quiet=True)
    worker.start()
    return int(worker.exitcode or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"configuration refused: {len(error.problems)} problem(s)", file=sys.stderr)
        return BAD
    except UsageError as error:
        print(f"sla-worker: {error}", file=sys.stderr)
        return BAD
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
