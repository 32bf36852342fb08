"""What a long-running process (worker, beat) keeps: settings, one engine, the catalogue.

Created on first use, never at import time, from the settings given to `provide` or else from
the environment. The catalogue is reloaded when a configuration file changes, so editing YAML
does not need a restart; invalid YAML keeps the last good one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine

from worker.config import load_catalogue, watched_files
from worker.domain.errors import ConfigError
from worker.domain.model import Catalogue
from worker.settings import Settings, load_settings
from worker.storage.engine import make_engine

log = logging.getLogger(__name__)
Stamp = tuple[tuple[str, int], ...]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    _catalogue: Catalogue | None = None
    _stamp: Stamp = field(default_factory=tuple)

    @property
    def catalogue(self) -> Catalogue:
        stamp = config_stamp(self.settings.config_dir)
        if self._catalogue is None or stamp != self._stamp:
            try:
                self._catalogue = load_catalogue(self.settings.config_dir)
            except ConfigError as error:
                if self._catalogue is None:
                    raise
                log.error("configuration refused, keeping the previous one:\n%s", error)
            self._stamp = stamp
        return self._catalogue


def config_stamp(directory: Path) -> Stamp:
    """Name and modification time of every file the loader reads (`*.yaml`, `*.yml` and
    customers.csv), so that editing, adding or removing any of them reloads the catalogue."""
    stamp: list[tuple[str, int]] = []
    for path in watched_files(directory):
        try:
            stamp.append((path.name, path.stat().st_mtime_ns))
        except OSError:  # removed since listed: the next look sees the directory as it is
            continue
    return tuple(stamp)


_provided: list[Settings] = []  # what `provide` was given, if anything


def provide(settings: Settings) -> None:
    """Use `settings` rather than the environment (`sla-worker run` passes its --config/--db
    overrides through `celeryapp.configure`). Worker and beat processes forked afterwards
    inherit them; the engine is still made on first use, in the process that uses it."""
    if runtime.cache_info().currsize:
        runtime().engine.dispose()
        runtime.cache_clear()
    _provided[:] = [settings]


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """This process's runtime: the settings given to `provide`, else the environment's."""
    settings = _provided[0] if _provided else load_settings()
    return Runtime(settings, make_engine(settings.database_url))
