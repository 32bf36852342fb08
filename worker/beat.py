"""A beat scheduler that only schedules while it holds the `beat` lease in the database, so a
second beat (started by mistake, or a replica) idles instead of sending every task twice.
The lease lasts a minute and is renewed on every tick; if the holder dies, another beat takes
over once it expires."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timezone

from celery.beat import Scheduler

from worker.runtime import runtime
from worker.storage.coordination import acquire_lease, release_lease

log = logging.getLogger(__name__)
LEASE = "beat"
LEASE_S = 60.0
IDLE_TICK_S = 10.0


class GuardedScheduler(Scheduler):  # type: ignore[misc]  # Celery is untyped
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading: bool | None = None  # unknown until the first tick
        super().__init__(*args, **kwargs)

    def holds_lease(self) -> bool:
        with runtime().engine.begin() as conn:
            held = acquire_lease(conn, LEASE, self.holder, datetime.now(timezone.utc), LEASE_S)
        if held != self.leading:
            log.warning("beat %s %s the schedule", self.holder, "now runs" if held else "stands by: another beat runs")
            self.leading = held
        return held

    def tick(self, *args: object, **kwargs: object) -> float:
        if not self.holds_lease():
            return IDLE_TICK_S
        return min(float(super().tick(*args, **kwargs)), IDLE_TICK_S)

    def close(self) -> None:
        if self.leading:
            with runtime().engine.begin() as conn:
                release_lease(conn, LEASE, self.holder)
        super().close()
