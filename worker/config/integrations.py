"""Sources and channels: the fields every entry has (`id`, `kind`; a channel's filters), then
the kind's own options, read as the kind's module declares them (`worker.sources.registry`,
`worker.alerts.channels.registry`): adding a kind adds no line here."""

from __future__ import annotations

from typing import Any

from worker.config.context import Context
from worker.config.fields import choice, ident, list_of, positive_duration, read_options
from worker.config.places import At, Checker, Fields, fields_of
from worker.domain.model import (
    DEFAULT_REPEAT_INTERVAL_S,
    Channel,
    ChannelFilters,
    ChannelKind,
    Severity,
    Source,
    SourceKind,
)

_SEVERITIES = tuple(s.value for s in Severity)


def source(ctx: Context, ck: Checker, at: At) -> Source[Any] | None:
    from worker.sources.registry import SOURCES  # the kinds' modules read their options with this package

    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    source_id = fields.get("id", ident, required=True)
    kind = fields.get("kind", choice(k.value for k in SourceKind), required=True)
    if kind is None:
        fields.ignore_unknown = True  # the other fields depend on a kind we do not know
        return None
    plugin = SOURCES[SourceKind(kind)]
    values = read_options(fields, plugin.options)
    if plugin.check is not None:
        plugin.check(fields, values)
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Source(id=source_id, kind=plugin.kind, options=plugin.options(**values))


def channel(ctx: Context, ck: Checker, at: At) -> Channel[Any] | None:
    from worker.alerts.channels.registry import CHANNELS

    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    channel_id = fields.get("id", ident, required=True)
    kind = fields.get("kind", choice(k.value for k in ChannelKind), required=True)
    if kind is None:
        fields.ignore_unknown = True
        return None
    plugin = CHANNELS[ChannelKind(kind)]
    values = read_options(fields, plugin.options)
    filters = _filters(ctx, fields)
    if plugin.check is not None:
        plugin.check(fields, values)
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Channel(id=channel_id, kind=plugin.kind, options=plugin.options(**values), filters=filters)


def _filters(ctx: Context, fields: Fields) -> ChannelFilters:
    """Filters shared by every channel kind; `customers`/`services` absent means all."""
    severities = fields.get("severities", list_of(choice(_SEVERITIES), non_empty=True, unique=True), _SEVERITIES)
    repeat_interval_s = fields.get("repeat_interval", positive_duration, DEFAULT_REPEAT_INTERVAL_S)
    customers, services = (
        fields.get(section, list_of(ctx.ref(section), non_empty=True, unique=True)) for section in ("customers", "services")
    )
    return ChannelFilters(
        severities=tuple(Severity(s) for s in severities),
        repeat_interval_s=repeat_interval_s,
        customers=tuple(customers) if customers is not None else None,
        services=tuple(services) if services is not None else None,
    )
