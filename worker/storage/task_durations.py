"""The task-duration histogram (`sla_task_duration_seconds`), kept in the database so that
every Celery worker process — on any machine, alive or since stopped — adds to the same
figures and the metrics endpoint, a separate process, reads them.

One row per (task, bucket): `le` is the bucket's upper bound written as Prometheus writes it
("0.5", "+Inf"), `observations` the runs that fell in that bucket (not cumulative), `seconds`
their durations added up. Recording a run is one atomic upsert that adds 1 and the duration,
so concurrent workers never lose an increment.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection

from worker.storage.tables import dialect_insert, task_durations

# Upper bounds in seconds: from a no-op task (milliseconds) to a large file or a full
# re-score (minutes; the hard time limit is 600 s).
BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def le_text(bound: float) -> str:
    """A bucket bound as Prometheus writes it (`+Inf`, `0.5`, `10.0`)."""
    if math.isinf(bound):
        return "+Inf"
    return repr(float(bound))


def bucket_of(seconds: float, buckets: Sequence[float] = BUCKETS) -> str:
    """The `le` of the smallest bucket holding `seconds` (a bucket holds values ≤ its bound)."""
    index = bisect.bisect_left(buckets, seconds)
    return le_text(buckets[index]) if index < len(buckets) else "+Inf"


@dataclass
class TaskHistogram:
    """One task's histogram, ready to expose: cumulative counts per bound (ascending, ending
    with +Inf), the number of runs and their total duration."""

    task: str
    buckets: list[tuple[str, int]] = field(default_factory=list)
    count: int = 0
    sum_s: float = 0.0


def record_duration(conn: Connection, task: str, seconds: float) -> None:
    """Add one run of `task` that took `seconds`."""
    seconds = max(float(seconds), 0.0)
    insert = dialect_insert(conn)(task_durations)
    stmt = insert.values(task=task, le=bucket_of(seconds), observations=1, seconds=seconds).on_conflict_do_update(
        index_elements=["task", "le"],
        set_={
            "observations": task_durations.c.observations + 1,
            "seconds": task_durations.c.seconds + insert.excluded.seconds,
        },
    )
    conn.execute(stmt)


def load_histograms(conn: Connection, buckets: Sequence[float] = BUCKETS) -> list[TaskHistogram]:
    """Every task's histogram, sorted by task. Rows whose bound is not among `buckets` (the
    bounds changed between releases) are counted in the next larger bucket, so counts never
    go down and +Inf always equals the number of runs."""
    t = task_durations
    rows = conn.execute(select(t.c.task, t.c.le, t.c.observations, t.c.seconds).order_by(t.c.task))
    bounds = list(buckets) + [math.inf]
    per_task: dict[str, tuple[list[int], list[float]]] = {}
    for task, le, observations, seconds in rows:
        counts, total = per_task.setdefault(task, ([0] * len(bounds), [0.0]))
        try:
            bound = math.inf if le == "+Inf" else float(le)
        except ValueError:
            bound = math.inf
        counts[bisect.bisect_left(bounds, bound)] += int(observations)
        total[0] += float(seconds)
    found = []
    for task, (counts, total) in sorted(per_task.items()):
        cumulative, running = [], 0
        for bound, count in zip(bounds, counts):
            running += count
            cumulative.append((le_text(bound), running))
        found.append(TaskHistogram(task, cumulative, running, total[0]))
    return found
