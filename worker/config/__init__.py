"""Configuration directory → validated `Catalogue` (SPEC section 3).

Every `*.yaml` (and `*.yml`) file of the directory is read and merged; the whole directory is refused with
one `file:line: path.to.field: message` line per problem, all problems at once.

Validation walks PyYAML's composed node tree by hand instead of going through pydantic: every
value keeps its own line and column, and the messages are written for the service manager who
edits the files (`must be between 0 and 100, not 120`), not for a Python programmer.

- `places`: where a value was written, problems, and `Fields` (one mapping read field by field);
- `fields`: the converters of single values (one `bounded` converter for every bounded value) and
  `option`, with which each source and channel kind declares its typed `Options`;
- `loader`: files, merging and id indexing; one module per part of the catalogue: `calendars`,
  `services`, `customers` (and suppliers; `customers_csv` reads customers.csv), `agreements` (contracts, objectives, maintenance),
  `integrations` (sources and channels, through the kinds' registries).
"""

from __future__ import annotations

from worker.config.loader import config_files, load_catalogue, watched_files

__all__ = ["config_files", "load_catalogue", "watched_files"]
