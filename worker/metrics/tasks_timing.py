"""Task durations across worker processes (`sla_task_duration_seconds`).

Celery's `task_prerun` / `task_postrun` signals fire in the process that runs the task;
`postrun` adds the run to the `task_durations` table in one atomic upsert
(`worker.storage.task_durations`). The metrics endpoint — another process, maybe another
container or machine — reads the table, so the histogram is the sum over every worker
process that ever ran, including those since stopped or killed. docs/metrics.md explains why
this and not prometheus-client's multiprocess mode.

Recording never fails a task: a database error here is logged and the run goes uncounted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

from worker.runtime import runtime
from worker.storage.task_durations import record_duration

log = logging.getLogger(__name__)

_started: dict[str, float] = {}


def _on_prerun(task_id: str | None = None, **_kwargs: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.perf_counter()


def _on_postrun(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    started = _started.pop(task_id, None) if task_id is not None else None
    if started is None or task is None:
        return
    seconds = time.perf_counter() - started
    try:
        with runtime().engine.begin() as conn:
            record_duration(conn, str(task.name), seconds)
    except Exception as error:  # noqa: BLE001 - timing must never break a task
        log.warning("duration of %s (%.3f s) not recorded: %s", task.name, seconds, error)


def install() -> None:
    """Connect the signal handlers (idempotent: the dispatch uids make a second call a no-op)."""
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="sla-task-timing-prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="sla-task-timing-postrun")
