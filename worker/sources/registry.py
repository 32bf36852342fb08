"""Every kind of source, by kind: the one list the config loader and `worker.collect` read.
Adding a kind of source is adding its module (KIND, Options, collector, PLUGIN) and its line
here. The order is the order of collection: file drops first (cheap), then probes (their
samples are stamped with the current slot), then the APIs."""

from __future__ import annotations

from worker.domain.model import SourceKind
from worker.sources import file_drop, http_probe, prometheus, servicenow
from worker.sources.base import SourcePlugin

SOURCES: dict[SourceKind, SourcePlugin] = {
    plugin.kind: plugin
    for plugin in (
        file_drop.PLUGIN,
        http_probe.PLUGIN,
        prometheus.PLUGIN,
        servicenow.PLUGIN,
    )
}
