"""Maintenance windows as scoring, burn rates and alerts see them."""

from __future__ import annotations

from sqlalchemy import Connection

from worker.domain.model import Catalogue, MaintenanceWindow
from worker.storage import maintenance as maintenance_store


def all_maintenance(conn: Connection, catalogue: Catalogue) -> list[MaintenanceWindow]:
    """Windows from the configuration and from ingested files, together."""
    return list(catalogue.maintenance) + maintenance_store.load_maintenance(conn)
