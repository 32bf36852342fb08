"""Maintenance windows, and the objective contexts built with them, as scoring, burn rates and
alerts see them."""

from __future__ import annotations

from sqlalchemy import Connection

from worker.domain.model import Catalogue, MaintenanceWindow
from worker.scoring.score import ObjectiveContext, contexts
from worker.storage import maintenance as maintenance_store


def all_maintenance(conn: Connection, catalogue: Catalogue) -> list[MaintenanceWindow]:
    """Windows from the configuration and from ingested files, together."""
    return list(catalogue.maintenance) + maintenance_store.load_maintenance(conn)


_built: list[tuple[Catalogue, tuple[MaintenanceWindow, ...], list[ObjectiveContext]]] = []


def objective_contexts(conn: Connection, catalogue: Catalogue) -> list[ObjectiveContext]:
    """Every objective's context (`worker.scoring.score.contexts`) with the maintenance stored
    now, built once while the catalogue and the maintenance stay the same: the shards of one
    run (scoring, burn rates, alert evaluation) would otherwise each build the whole catalogue's."""
    maintenance = tuple(all_maintenance(conn, catalogue))
    if _built and _built[0][0] is catalogue and _built[0][1] == maintenance:
        return _built[0][2]
    found = contexts(catalogue, maintenance)
    _built[:] = [(catalogue, maintenance, found)]
    return found
