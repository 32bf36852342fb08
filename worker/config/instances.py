"""Per-customer services (issue 16): a service written once with `per_customer: true` is a
template; at load time it becomes one instance per customer of every agreement with an
objective on it, id `<template>.<customer>`, its `{customer}` and `{customer.ods_code}`
placeholders filled in. 1,500 practices' site links are then one entry, not 1,500.

Only signal queries and the probe URL take placeholders. A placeholder is `{name}` with a
plain dotted name, so PromQL label matchers (`{service="epr"}`) are never mistaken for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import yaml

from worker.config.context import Context
from worker.config.places import At, Checker, is_null
from worker.domain.model import Catalogue, Customer, Probe, Service, SignalSource, instance_id

PLACEHOLDERS = ("customer", "customer.ods_code")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_KNOWN = "{customer} and {customer.ods_code}"


def check_placeholders(ck: Checker, at: At, *, template: bool) -> None:
    """A template may use the known placeholders only; any other service none at all (it
    would be sent as written, braces and all)."""
    for field_at, written in _templated(at):
        for found in _PLACEHOLDER_RE.findall(written):
            if not template and found in PLACEHOLDERS:
                ck.refuse(field_at, f"{{{found}}} is a placeholder of per-customer services: add `per_customer: true`")
            elif template and found not in PLACEHOLDERS:
                ck.refuse(field_at, f"unknown placeholder {{{found}}}: a per-customer service may use {_KNOWN}")


def expand(ck: Checker, ctx: Context, catalogue: Catalogue) -> Catalogue:
    """The catalogue with every template's instances added after the services written."""
    made: dict[str, Service] = {}
    for agreement in catalogue.agreements.values():
        templates = dict.fromkeys(
            o.service for o in agreement.objectives if o.service in ctx.templates and o.service in catalogue.services
        )
        for template_id in templates:
            at = ctx.templates[template_id]
            if agreement.is_contract:
                ck.refuse(
                    at.beside("per_customer"),
                    f"contract {agreement.id!r} has an objective on this per-customer service: a contract has no "
                    "customers to make instances for",
                )
                continue
            for customer_id in agreement.customers:
                made_id = instance_id(template_id, customer_id)
                if made_id in made:
                    continue
                if made_id in catalogue.services:
                    ck.refuse(
                        at.beside("id"),
                        f"the instance of this per-customer service for customer {customer_id!r} would be "
                        f"{made_id!r}, which is already the id of another service",
                    )
                    continue
                customer = catalogue.customers.get(customer_id)
                if customer is not None:
                    instance = _instance(ck, at, catalogue.services[template_id], customer, agreement.id)
                    if instance is not None:
                        made[made_id] = instance
    return replace(catalogue, services={**catalogue.services, **made})


def _instance(ck: Checker, at: At, template: Service, customer: Customer, agreement: str) -> Service | None:
    mark = ck.mark()

    def fill(field_at: At | None, written: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(1) == "customer":
                return customer.id
            if customer.ods_code is None and field_at is not None:
                ck.refuse(
                    field_at,
                    f"customer {customer.id!r} (agreement {agreement!r}) has no ods_code, which service "
                    f"{template.id!r} needs for {{customer.ods_code}}",
                )
            return customer.ods_code or ""

        return _PLACEHOLDER_RE.sub(one, written)

    places = {field_at.path: field_at for field_at, _ in _templated(at)}
    signals = {
        signal: SignalSource(
            source.source,
            None if source.query is None else fill(places.get(_path(at, "signals", signal, "query")), source.query),
            source.staleness_s,
        )
        for signal, source in template.signals.items()
    }
    probe: Probe | None = None
    if template.probe is not None:
        probe = replace(template.probe, url=fill(places.get(_path(at, "probe", "url")), template.probe.url))
    if not ck.clean_since(mark):
        return None
    return replace(
        template,
        id=instance_id(template.id, customer.id),
        name=f"{template.name} ({customer.name})",
        signals=signals,
        probe=probe,
        per_customer=False,
        template=template.id,
        customer=customer.id,
    )


def _path(at: At, *keys: str) -> str:
    return ".".join([at.path, *keys]) if at.path else ".".join(keys)


def _templated(at: At) -> Iterator[tuple[At, str]]:
    """(place, text) of the service's signal queries and probe URL, as written."""
    signals = _value(at, "signals")
    if signals is not None and isinstance(signals.node, yaml.MappingNode):
        for key_node, value_node in signals.node.value:
            query = _value(signals.child(value_node, getattr(key_node, "value", "?")), "query")
            if query is not None and isinstance(query.node, yaml.ScalarNode):
                yield query, str(query.node.value)
    probe = _value(at, "probe")
    address = _value(probe, "url") if probe is not None and isinstance(probe.node, yaml.MappingNode) else None
    if address is not None and isinstance(address.node, yaml.ScalarNode):
        yield address, str(address.node.value)


def _value(at: At, key: str) -> At | None:
    if not isinstance(at.node, yaml.MappingNode):
        return None
    for key_node, value_node in at.node.value:
        if getattr(key_node, "value", None) == key and not is_null(value_node):
            return at.child(value_node, key)
    return None
