"""Services: what they are for, their signals (which source measures what) and their probe."""

from __future__ import annotations

from functools import partial

from worker.config import instances
from worker.config.context import Context
from worker.config.fields import boolean, choice, http_status, ident, list_of, name, positive_duration, text, url
from worker.config.places import At, Checker, Fields, fields_of, nested
from worker.domain.model import DEFAULT_STALENESS_S, VALUE_DOMAINS, Probe, Service, Signal, SignalSource


def service(ctx: Context, ck: Checker, at: At) -> Service | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    service_id = fields.get("id", ident, required=True)
    service_name = fields.get("name", name, required=True)
    summary = fields.get("summary", text, "")
    purpose = fields.get("purpose", text, "")
    value = fields.get("value", list_of(choice(VALUE_DOMAINS), unique=True), [])
    owner = fields.get("owner", text, "")
    supplier = fields.get("supplier", ctx.ref("suppliers"))
    probe = fields.get("probe", nested(_probe))
    has_probe = fields.present("probe")
    signals = fields.get("signals", nested(partial(_signals, ctx, has_probe=has_probe)), {})
    per_customer = fields.get("per_customer", boolean, False)
    fields.done()
    if not ck.clean_since(mark):
        return None
    instances.check_placeholders(ck, at, template=per_customer)
    if not ck.clean_since(mark):
        return None
    if per_customer:
        ctx.templates[service_id] = at
    return Service(
        id=service_id,
        name=service_name,
        summary=summary.strip(),
        purpose=purpose.strip(),
        value=tuple(value),
        owner=owner.strip(),
        signals=signals,
        probe=probe,
        supplier=supplier,
        per_customer=per_customer,
    )


def _signals(ctx: Context, ck: Checker, at: At, *, has_probe: bool) -> dict[str, SignalSource]:
    fields = fields_of(ck, at, noun="signal")
    if fields is None:
        return {}
    result = {}
    for signal in Signal:
        read = partial(_signal_source, ctx, signal=signal, has_probe=has_probe)
        value = fields.get(signal.value, nested(read))
        if value is not None:
            result[signal.value] = value
    fields.done()
    return result


def _signal_source(ctx: Context, ck: Checker, at: At, *, signal: Signal, has_probe: bool) -> SignalSource | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    source = fields.get("source", ctx.ref("sources"), required=True)
    query = fields.get("query", name)
    staleness_s = fields.get("staleness", positive_duration, DEFAULT_STALENESS_S)
    fields.done()
    _check_source_fits(ctx, fields, source or "", signal, has_probe)
    return SignalSource(source=source or "", query=query, staleness_s=staleness_s)


def _check_source_fits(ctx: Context, fields: Fields, source_id: str, signal: Signal, has_probe: bool) -> None:
    """Refuse pairings that can never deliver a measurement; each kind of source says which."""
    from worker.sources.registry import SOURCES  # the kinds' modules read their options with this package

    source = ctx.sources.get(source_id)
    if source is None:
        return
    misfit = SOURCES[source.kind].misfit
    problem = misfit(source.id, signal, query=fields.present("query"), probe=has_probe) if misfit else None
    if problem is not None:
        fields.refuse(*problem)


def _probe(ck: Checker, at: At) -> Probe | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    address = fields.get("url", url, required=True)
    expect_status = fields.get("expect_status", http_status, 200)
    contains = fields.get("contains", text)
    timeout_s = fields.get("timeout", positive_duration, 10.0)
    fields.done()
    return Probe(url=address or "", expect_status=expect_status, contains=contains, timeout_s=timeout_s)
