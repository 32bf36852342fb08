"""Reading stored results."""

from __future__ import annotations

from sqlalchemy import Engine

from worker.domain.model import Result
from worker.storage import results as result_store
from worker.storage.engine import read_only


def read_results(engine: Engine, period: str, customer: str | None = None) -> list[Result]:
    """A period's stored results (one customer's, or one supplier's contract results, when given)."""
    with read_only(engine) as conn:
        return result_store.load_results(conn, period, customer)
