"""Temporary: the names other modules still import from here, until they import them from
their new homes (worker.usecases.*, worker.domain.changes, worker.storage.samples)."""

from worker.domain.changes import Changes
from worker.storage.samples import store_sample_arrays
from worker.usecases.ingest import IngestReport, ingest, ingest_path, store_incident_versions, store_input
from worker.usecases.maintenance import all_maintenance
from worker.usecases.periods import open_periods, periods_with_data
from worker.usecases.results import read_results
from worker.usecases.score import score_pending, score_period

__all__ = [
    "Changes", "IngestReport", "all_maintenance", "ingest", "ingest_path", "open_periods", "periods_with_data",
    "read_results", "score_pending", "score_period", "store_incident_versions", "store_input", "store_sample_arrays",
]
