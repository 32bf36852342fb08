"""The Celery app (SPEC 2): `celery -A worker.celeryapp worker -B` works.

Pinned behaviour: JSON only (no pickle), late acknowledgement and re-delivery when a worker
dies (every task is safe to run twice), one task prefetched at a time, time limits on every
task. Redis in production; the SQLAlchemy transport on SQLite as the embedded default.

Importing this module configures nothing and connects to nothing. `sla-worker run` calls
`configure(app, settings)` with its --config/--db overrides; anything else that uses the app
(`celery -A worker.celeryapp …`, a process sending a task) gets it configured from the
environment when Celery first reads its configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

from celery import Celery
from celery.signals import beat_init, worker_init

from worker.domain.errors import ConfigError
from worker.metrics import tasks_timing
from worker.runtime import provide
from worker.schedules import TIMEZONE, beat_schedule
from worker.settings import Settings, load_settings

SOFT_LIMIT_S = 540
HARD_LIMIT_S = 600


def configure(app: Celery, settings: Settings) -> Celery:
    """Configure `app` from `settings` and make them this process's runtime settings, so the
    worker and beat processes it forks see them too (`sla-worker run --config … --db …`)."""
    _apply(app, settings)
    provide(settings)
    return app


def _apply(app: Celery, settings: Settings) -> None:
    # A worker without beat needs no schedule, so a schedule problem is kept, not raised here:
    # a beat (`celery beat`, `worker -B`, `sla-worker run`) refuses to start with it.
    try:
        schedule, schedule_problems = beat_schedule(settings.schedules_dir), []
    except ConfigError as error:
        schedule, schedule_problems = {}, error.problems
    config = dict(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.broker_url),
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_soft_time_limit=SOFT_LIMIT_S,
        task_time_limit=HARD_LIMIT_S,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        timezone=TIMEZONE,
        enable_utc=True,
        beat_schedule=schedule,
        sla_schedule_problems=schedule_problems,
        beat_scheduler="worker.beat:GuardedScheduler",
        beat_max_loop_interval=10,
    )
    app.sla_configured = True
    app.config_from_object(config, force=app.configured)


def _from_environment(sender: Celery, **_kwargs: object) -> None:
    """Celery reads its configuration for the first time: unless `configure` came first,
    take the settings from the environment (the runtime reads the same on first use)."""
    if not getattr(sender, "sla_configured", False):
        _apply(sender, load_settings())


def _transport_options(broker_url: str) -> dict[str, object]:
    """Redis re-delivers a message not acknowledged within the visibility timeout (a worker
    died holding it); the SQLAlchemy transport passes its options to `create_engine`."""
    if broker_url.startswith("sqla+"):
        return {"connect_args": {"timeout": 30}} if broker_url.startswith("sqla+sqlite") else {}
    return {"visibility_timeout": 2 * HARD_LIMIT_S}


def _prepare_embedded_broker(**_kwargs: object) -> None:
    """The SQLite broker file's folder must exist before the transport opens it."""
    url = app.conf.broker_url or ""
    if url.startswith("sqla+sqlite:///"):
        Path(url.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def _refuse_beat_without_schedule(sender: object = None, **_kwargs: object) -> None:
    """A beat with no schedule entry exits 2 at start instead of idling silently (SPEC 2)."""
    from celery.worker import WorkController

    if isinstance(sender, WorkController) and not getattr(sender, "options", {}).get("beat"):
        return  # a worker without embedded beat
    problems = app.conf.get("sla_schedule_problems") or []
    if problems:
        for problem in problems:
            print(f"sla-worker: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)


app = Celery("sla-worker", include=["worker.tasks"])
app.on_configure.connect(_from_environment, weak=False)
worker_init.connect(_prepare_embedded_broker)
worker_init.connect(_refuse_beat_without_schedule)
beat_init.connect(_prepare_embedded_broker)
beat_init.connect(_refuse_beat_without_schedule)
tasks_timing.install()  # sla_task_duration_seconds, summed over every worker process
